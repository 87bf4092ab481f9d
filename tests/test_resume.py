"""Crash safety: kill the whole `dbmigrate run` process group mid-load, re-run, lose nothing."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from bench.workorders import install
from tests.conftest import ROOT, query

ROWS = 600_000


def _start_run(project: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "migration_assets.cli", "run", "--project", str(project), "--yes"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for_progress(tgt: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            rows = query(
                tgt,
                "SELECT records_processed FROM dbmigrate.migration_control WHERE table_name = "
                "'work_orders' AND status = 'running' ORDER BY id DESC LIMIT 1",
            )
        except psycopg.Error:
            rows = []
        if rows and rows[0][0] > 0:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_kill_minus_nine_then_rerun_loses_and_duplicates_nothing(make_db, tmp_path: Path) -> None:
    src, tgt = make_db("wo_src"), make_db("wo_tgt")
    with psycopg.connect(src, autocommit=True) as a, psycopg.connect(tgt, autocommit=True) as b:
        install(a, b, ROWS)
    project = tmp_path / "wo"
    planned = subprocess.run(
        [
            sys.executable,
            "-m",
            "migration_assets.cli",
            "plan",
            "--source",
            src,
            "--target",
            tgt,
            "--project",
            str(project),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    rng = random.Random(1234)
    survivors: dict[str, int] = {}
    kills = 0
    for _ in range(3):
        proc = _start_run(project)
        if _wait_for_progress(tgt, proc):
            time.sleep(rng.uniform(0.0, 0.8))
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        # Whatever was committed before the kill must keep its UUID through the re-runs.
        for legacy, new in query(
            tgt,
            "SELECT legacy_id, new_id::text FROM dbmigrate.migration_mappings "
            "WHERE entity_type = 'work_orders' "
            "AND new_id IN (SELECT id FROM work_orders)",
        ):
            assert survivors.setdefault(str(legacy), new) == new
    assert kills >= 2, "the run finished before it could be killed; raise ROWS"
    final = subprocess.run(
        [sys.executable, "-m", "migration_assets.cli", "run", "--project", str(project), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    assert query(tgt, "SELECT count(*), count(DISTINCT id) FROM work_orders")[0] == (ROWS, ROWS)
    assert (
        query(
            tgt,
            "SELECT count(*) FROM dbmigrate.migration_mappings WHERE entity_type = 'work_orders'",
        )[0][0]
        == ROWS
    )
    legacy_ids = query(
        tgt,
        "SELECT min(legacy_id), max(legacy_id) FROM dbmigrate.migration_mappings "
        "WHERE entity_type = 'work_orders'",
    )[0]
    assert legacy_ids == (1, ROWS)
    for legacy, new in query(
        tgt,
        "SELECT legacy_id::text, new_id::text FROM dbmigrate.migration_mappings "
        "WHERE entity_type = 'work_orders'",
    ):
        if legacy in survivors:
            assert survivors[legacy] == new
    assert survivors  # something was committed before a kill
    # The foreign key parked for the bulk load is back, and valid.
    fk = query(
        tgt,
        "SELECT convalidated FROM pg_constraint WHERE conrelid = 'work_orders'::regclass"
        " AND contype = 'f'",
    )
    assert fk == [(True,)]
    assert query(tgt, "SELECT count(*) FROM dbmigrate.migration_deferred_constraints")[0][0] == 0
    orphans = query(
        tgt,
        "SELECT count(*) FROM work_orders w LEFT JOIN customers c "
        "ON c.id = w.customer_id WHERE c.id IS NULL",
    )[0][0]
    assert orphans == 0
