"""Source pages through psql: same bytes, same snapshot, no password on a command line, and a
broken psql costs speed, never rows."""

import dataclasses
from pathlib import Path

import psycopg
import pytest

from agents import pgpipe
from agents.execution import migrate_table
from agents.project import Project
from agents.workflow import load_run_inputs, plan_project
from bench.workorders import install
from tests.conftest import execute, query

COPY = (
    "COPY (SELECT wo_id, status, note FROM work_order ORDER BY wo_id) TO STDOUT WITH (FORMAT csv)"
)


@pytest.fixture
def source(make_db) -> str:
    src, tgt = make_db("pipe_src"), make_db("pipe_tgt")
    with psycopg.connect(src, autocommit=True) as a, psycopg.connect(tgt, autocommit=True) as b:
        install(a, b, 3_000, customers=50)
    return src


def test_psql_pages_match_in_process_copy_inside_the_same_snapshot(source: str) -> None:
    if pgpipe.find_psql() is None:
        pytest.skip("no psql client on this machine")
    with psycopg.connect(source, options="-c TimeZone=UTC") as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        pager = pgpipe.pager_for(conn, source)
        assert pager is not None
        # Written after the snapshot: neither reader may see it.
        execute(source, "INSERT INTO work_order VALUES (999999, 1, 'open', now(), 1, 'late')")
        expected = bytearray()
        with conn.cursor().copy(COPY) as copy:
            for chunk in copy:
                expected += chunk
        piped = pager.copy_out(COPY)
    assert piped == bytes(expected)
    assert piped.count(b"\n") == 3_000 and b"999999" not in piped


def test_the_password_goes_through_the_environment_not_the_command_line() -> None:
    pager = pgpipe.PsqlPager("psql", "postgresql://app:s3cret@db.example:5433/legacy", "0-1")
    assert not any("s3cret" in part for part in pager.argv)
    assert pager.env["PGPASSWORD"] == "s3cret"
    assert "host=db.example" in pager.argv[-1] and "port=5433" in pager.argv[-1]


def test_a_failing_psql_falls_back_to_reading_in_process(
    make_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    src, tgt = make_db("pipe_src"), make_db("pipe_tgt")
    with psycopg.connect(src, autocommit=True) as a, psycopg.connect(tgt, autocommit=True) as b:
        install(a, b, 2_000, customers=20)
    project = Project.create(tmp_path / "wo", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    inputs = load_run_inputs(project, accept_proposals=True)
    monkeypatch.setattr(pgpipe, "find_psql", lambda: "/bin/false")
    for name in ("customers", "work_orders"):
        m = inputs.mappings[name]
        s, t = inputs.source.table(m.source), inputs.target.table(name)
        run = migrate_table(src, tgt, m, s, t, dataclasses.replace(inputs.settings, run_id="f"))
        assert run.rows_migrated == run.rows_read
    assert "psql reader failed, reading in-process" in caplog.text
    assert query(tgt, "SELECT count(*) FROM work_orders")[0][0] == 2_000
