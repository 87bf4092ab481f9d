"""Large tables as key-range partitions: planned, loaded in parallel runs, validated whole."""

import logging
from pathlib import Path

import dagster as dg
import psycopg
import yaml

from agents.project import Project
from agents.workflow import plan_project
from bench.workorders import install
from migration_assets.runner import run_project
from tests.conftest import query

ROWS = 60_000  # above the bulk threshold: the ranges load with the keys parked once


def test_partitioned_table_loads_every_range_once_and_validates_whole(
    make_db, tmp_path: Path, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="agents.execution")
    src, tgt = make_db("part_src"), make_db("part_tgt")
    with psycopg.connect(src, autocommit=True) as a, psycopg.connect(tgt, autocommit=True) as b:
        install(a, b, ROWS, customers=500)
    project = Project.create(tmp_path / "parts", source_dsn=src, target_dsn=tgt)
    settings = yaml.safe_load((project.root / "project.yaml").read_text())
    settings["partition_rows"] = 20_000
    (project.root / "project.yaml").write_text(yaml.safe_dump(settings))
    result = plan_project(Project.load(project.root))
    parts = {tp.target: tp.partitions for tp in result.plan.tables}
    assert parts["work_orders"] == ["1:20001", "20001:40001", "40001:60001"]
    assert parts["customers"] == []

    monkeypatch.setenv("DBMIGRATE_PROJECT", str(project.root))
    from migration_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    node = graph.get(dg.AssetKey(["target", "work_orders"]))
    assert node.partitions_def is not None
    assert list(node.partitions_def.get_partition_keys()) == parts["work_orders"]
    assert dg.AssetKey(["validation", "validation_work_orders"]) in graph.get_all_asset_keys()

    outcome = run_project(project.root, accept_proposals=True)
    assert outcome.success, outcome.failures
    assert outcome.report.passed
    assert query(tgt, "SELECT count(*), count(DISTINCT id) FROM work_orders")[0] == (ROWS, ROWS)
    ranges = query(
        tgt,
        "SELECT partition_key, status, records_processed FROM dbmigrate.migration_control "
        "WHERE table_name = 'work_orders'",
    )
    assert sorted(ranges) == sorted((p, "completed", 20_000) for p in parts["work_orders"])
    # The coordinator parked the keys for all ranges and rebuilt them after the last one.
    assert "work_orders: parked for its key ranges: " in caplog.text
    assert "work_orders_pkey" in caplog.text
    keys = query(
        tgt,
        "SELECT conname, convalidated FROM pg_constraint "
        "WHERE conrelid = 'work_orders'::regclass AND contype IN ('p', 'f') ORDER BY 1",
    )
    assert keys == [("work_orders_customer_id_fkey", True), ("work_orders_pkey", True)]
    assert query(tgt, "SELECT count(*) FROM dbmigrate.migration_deferred_constraints")[0][0] == 0
    wo = next(t for t in outcome.report.tables if t.target == "work_orders")
    assert all(c.passed for c in wo.checks) and wo.rows_migrated == ROWS
