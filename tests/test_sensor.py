"""The living pipeline: the source-change sensor sees inserts, updates and deletes, requests runs
for what changed only, and the run migrates only the changed rows."""

import time

import dagster as dg
import pytest
import yaml

from agents.project import Project
from demo.legacy_db import install_legacy, install_target
from migration_assets.runner import run_project
from tests.conftest import execute, query


@pytest.fixture
def live_project(make_db, tmp_path, monkeypatch):
    from agents.workflow import apply_review, plan_project
    from demo.legacy_db import REVIEW_FILE

    src, tgt = make_db("live_src"), make_db("live_tgt")
    install_legacy(src)
    install_target(tgt)
    project = Project.create(tmp_path / "live", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    apply_review(project, REVIEW_FILE)
    settings = yaml.safe_load((project.root / "project.yaml").read_text())
    settings["delete_policy"] = "delete"
    (project.root / "project.yaml").write_text(yaml.safe_dump(settings))
    assert run_project(project.root, accept_proposals=False).report.passed
    monkeypatch.setenv("DBMIGRATE_PROJECT", str(project.root))
    return src, tgt, project


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def("legacy_change_sensor")
    ctx = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources={"legacy_db": defs.resources["legacy_db"]},
    )
    return sensor(ctx), ctx


def test_sensor_requests_runs_for_changed_tables_only(live_project) -> None:
    src, tgt, _project = live_project
    from migration_assets.definitions import build_definitions

    defs = build_definitions()
    assert (
        defs.resolve_sensor_def("legacy_change_sensor").default_status
        == dg.DefaultSensorStatus.RUNNING
    )
    instance = dg.DagsterInstance.ephemeral()
    first, _ = _tick(defs, instance, None)
    assert not first.run_requests  # baseline
    cursor = first.cursor
    assert cursor
    # Nothing changed: nothing to do, even after a "restart" (a new context, same cursor).
    quiet, _ = _tick(defs, instance, cursor)
    assert not quiet.run_requests

    execute(
        src,
        "UPDATE brackets SET bracket_nm = 'Renamed bracket' WHERE bracket_id = 7;"
        "INSERT INTO brackets VALUES (5000, 'BR-05000', 'New bracket', 'GAC', '$9.99', "
        "'T', '01/15/2025');"
        "DELETE FROM brackets WHERE bracket_id = 8;",
    )
    # Statistics reach the shared counters when the writing backend ends: allow a moment.
    for _ in range(50):
        result, _ctx = _tick(defs, instance, cursor)
        if result.run_requests:
            break
        time.sleep(0.2)
    [request] = result.run_requests
    keys = {k.to_user_string() for k in request.asset_selection}
    assert "target/brackets" in keys and "legacy/legacy_brackets" in keys
    assert not any("technician" in k for k in keys)  # untouched tables are left alone
    assert "inserts+updates+deletes" in request.tags["dbmigrate/changed"]

    job = defs.resolve_implicit_global_asset_job_def()
    run = job.execute_in_process(
        asset_selection=request.asset_selection, tags=request.tags, instance=instance
    )
    assert run.success
    mat = run.asset_materializations_for_node("target__brackets")[0]
    assert mat.metadata["rows_this_run"].value == 2  # only the changed rows were read
    assert mat.metadata["rows_deleted_this_run"].value == 1
    assert query(tgt, "SELECT name FROM brackets WHERE code = 'BR-00007'") == [("Renamed bracket",)]
    assert query(tgt, "SELECT unit_price::text FROM brackets WHERE code = 'BR-05000'") == [
        ("9.99",)
    ]
    assert query(tgt, "SELECT count(*) FROM brackets WHERE code = 'BR-00008'") == [(0,)]
    assert query(tgt, "SELECT count(*) FROM brackets")[0][0] == 1569
    checks = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    # The cursor moved on: the same changes are not requested twice.
    again, _ = _tick(defs, instance, result.cursor)
    assert not again.run_requests
