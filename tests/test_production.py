"""Production wiring: Dagster's own storage in PostgreSQL, the Docker run launcher configured."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from agents.project import Project
from agents.workflow import apply_review, plan_project
from demo.legacy_db import REVIEW_FILE, install_legacy, install_target
from tests.conftest import ROOT, query


def test_pipeline_runs_on_postgres_run_and_event_storage(
    make_db, pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage_dsn = make_db("dagster_storage")
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The shipped file, as is, except that the test server listens on a Unix socket only:
    # libpq takes the socket directory as a `host` parameter.
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    socket_dir = storage_dsn.split("host=")[1]
    config["storage"]["postgres"]["postgres_db"]["params"] = {"host": socket_dir}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_PG_HOST", "localhost")
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", storage_dsn.split("?")[0].rsplit("/", 1)[-1])

    src, tgt = make_db("prod_src"), make_db("prod_tgt")
    install_legacy(src)
    install_target(tgt)
    project = Project.create(tmp_path / "prod", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    apply_review(project, REVIEW_FILE)
    monkeypatch.setenv("DBMIGRATE_PROJECT", str(project.root))
    from migration_assets.definitions import build_definitions

    defs = build_definitions()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_launcher).__name__ == "DockerRunLauncher"
        result = defs.resolve_job_def("migrate").execute_in_process(instance=instance)
        assert result.success
        run_id = result.run_id
    # The run and its events are in PostgreSQL, where a webserver and daemon elsewhere see them.
    assert query(storage_dsn, "SELECT status FROM runs WHERE run_id = %s", (run_id,)) == [
        ("SUCCESS",)
    ]
    materialized = query(
        storage_dsn,
        "SELECT count(DISTINCT asset_key) FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = "
        "'ASSET_MATERIALIZATION'",
        (run_id,),
    )[0][0]
    assert materialized >= 7  # 3 legacy (+1 group), 3 mappings, 3 targets, the report
    assert query(tgt, "SELECT count(*) FROM technician_roles")[0][0] == 31
