"""Each agent role on its own, against a real PostgreSQL."""

import dataclasses
from pathlib import Path

import pytest

from agents.change_detection import scan
from agents.errors import ExecutionError, OpenDecisionsError, PlanningError
from agents.execution import migrate_table
from agents.key_inference import infer_foreign_keys
from agents.planning import load_order, make_plan
from agents.project import Project, effective_mapping
from agents.schema_analysis import introspect
from agents.validation import validate_table
from agents.workflow import load_run_inputs, plan_project
from demo.legacy_db import install_legacy, install_target
from tests import shop_fixture
from tests.conftest import execute, query


@pytest.fixture
def shop(make_db, tmp_path: Path):
    src, tgt = make_db("shop_src"), make_db("shop_tgt")
    shop_fixture.install(src, tgt)
    project = Project.create(tmp_path / "shop", source_dsn=src, target_dsn=tgt)
    result = plan_project(project)
    return src, tgt, project, result


def test_analysis_finds_keys_declared_and_inferred(make_db) -> None:
    src = make_db("legacy")
    install_legacy(src)
    schema = infer_foreign_keys(src, introspect(src))
    role = schema.table("dispatch_role")
    assert role.primary_key == ["id"] and role.row_count == 40
    fks = {fk.columns[0]: fk for fk in role.foreign_keys}
    assert fks["group_id"].declared and fks["group_id"].ref_table == "dispatch_group"
    inferred = fks["technician_id"]
    assert not inferred.declared and inferred.ref_table == "dispatch_technician"
    assert 0.8 <= inferred.confidence < 1.0 and "100.0%" in inferred.rationale
    assert dict(schema.table("brackets").profiles["in_stock_flg"].top_values).keys() == {"T", "F"}


def test_planning_pairs_renamed_tables_and_orders_parents_first(make_db) -> None:
    src, tgt = make_db("legacy"), make_db("target")
    install_legacy(src)
    install_target(tgt)
    plan = make_plan(introspect(src), introspect(tgt, profile=False))
    pairs = {t.target: t.source for t in plan.tables}
    assert pairs == {
        "technician_roles": "dispatch_role",
        "technician_profiles": "dispatch_technician",
        "brackets": "brackets",
    }
    assert plan.order.index("technician_profiles") < plan.order.index("technician_roles")
    assert plan.unmapped_sources == ["dispatch_group"]


def test_fk_cycle_breaks_at_its_nullable_side_and_a_not_null_cycle_is_explained(make_db) -> None:
    tgt = make_db("cycle")
    execute(
        tgt,
        "CREATE TABLE a (id INT PRIMARY KEY, b_id INT); CREATE TABLE b (id INT PRIMARY "
        "KEY, a_id INT NOT NULL REFERENCES a(id)); ALTER TABLE a ADD FOREIGN KEY (b_id) "
        "REFERENCES b(id) DEFERRABLE;",
    )
    # a loads first with b_id empty; b_id is set once b is in.
    assert load_order(introspect(tgt, profile=False)) == (["a", "b"], {"a": ["b"]})
    execute(tgt, "UPDATE a SET b_id = 0; ALTER TABLE a ALTER COLUMN b_id SET NOT NULL")
    with pytest.raises(PlanningError, match=r"cycle.*every one of them is NOT NULL"):
        load_order(introspect(tgt, profile=False))


def test_mapping_proposes_rules_from_names_types_and_values(shop) -> None:
    _, _, _, result = shop
    by = {m.target: {r.target: r for r in m.columns} for m in result.mappings}
    cust, orders = by["customers"], by["orders"]
    assert (cust["id"].kind, cust["id"].source) == ("uuid_key", "cust_id")
    assert (cust["name"].source, cust["email"].source) == ("cust_nm", "email_addr")
    assert (cust["signed_up_on"].kind, cust["signed_up_on"].formats[0]) == ("date", "%Y-%m-%d")
    assert (orders["customer_id"].kind, orders["customer_id"].fk_target) == ("fk", "customers")
    assert orders["status"].kind == "enum"
    assert orders["status"].value_map == {
        "pending": "pending",
        "SHIPPED": "shipped",
        " Cancelled": "cancelled",
        "shipped.": "shipped",
        "shipped": "shipped",
    }
    assert (orders["total"].kind, orders["created_at"].source) == ("numeric", "created_ts")


def test_bad_rows_go_to_rejects_with_reasons_and_dependants_follow(shop) -> None:
    src, tgt, project, _ = shop
    inputs = load_run_inputs(project, accept_proposals=True)
    settings = dataclasses.replace(inputs.settings, run_id="t1")
    for t in inputs.plan.order:
        m = inputs.mappings[t]
        migrate_table(
            src,
            tgt,
            m,
            inputs.source.table(m.source),
            inputs.target.table(t),
            dataclasses.replace(settings, max_reject_ratio=1.0),
        )
    rejects = {
        (e, i): r
        for e, i, r in query(
            tgt, "SELECT entity_type, legacy_id, reason FROM dbmigrate.migration_rejects"
        )
    }
    assert (
        "signed_up_on" in rejects[("customers", "3")]
        and "not a date" in rejects[("customers", "3")]
    )
    # Two customers share an e-mail: the database refuses one, the batch survives.
    dup = [k for k in rejects if k[0] == "customers" and k[1] in ("5", "6")]
    assert len(dup) == 1 and "unique" in rejects[dup[0]].lower()
    # Order 13 belonged to rejected customer 3; order 14 to a customer that never existed.
    assert "not migrated" in rejects[("orders", "13")]
    assert "not migrated" in rejects[("orders", "14")] and "999" in rejects[("orders", "14")]
    assert "not a number" in rejects[("orders", "15")]
    assert query(tgt, "SELECT count(*) FROM customers")[0][0] == 5
    assert query(tgt, "SELECT count(*) FROM orders")[0][0] == 4
    # Per table, migrated + rejected = source.
    for t in inputs.plan.order:
        m = inputs.mappings[t]
        c, outcomes = validate_table(
            src,
            tgt,
            settings,
            m,
            inputs.source.table(m.source),
            inputs.target.table(t),
            {x.name: x for x in inputs.target.tables},
        )
        assert c.rows_source == c.rows_migrated + c.rows_rejected
        assert all(o.passed for o in outcomes), outcomes


def test_reject_threshold_fails_the_table_with_advice(shop) -> None:
    src, tgt, project, _ = shop
    inputs = load_run_inputs(project, accept_proposals=True)
    m = inputs.mappings["customers"]
    with pytest.raises(ExecutionError, match=r"above the threshold.*migration_rejects"):
        migrate_table(
            src,
            tgt,
            m,
            inputs.source.table(m.source),
            inputs.target.table("customers"),
            dataclasses.replace(inputs.settings, max_reject_ratio=0.1),
        )
    status = query(
        tgt,
        "SELECT status, error_message FROM dbmigrate.migration_control ORDER BY id DESC LIMIT 1",
    )[0]
    assert status[0] == "failed" and "threshold" in status[1]


def test_validation_catches_a_tampered_target(shop) -> None:
    src, tgt, project, _ = shop
    inputs = load_run_inputs(project, accept_proposals=True)
    m = inputs.mappings["customers"]
    s, t = inputs.source.table(m.source), inputs.target.table("customers")
    settings = dataclasses.replace(inputs.settings, max_reject_ratio=1.0)
    migrate_table(src, tgt, m, s, t, settings)
    execute(tgt, "UPDATE customers SET name = 'Mallory' WHERE name = 'Ada'")
    execute(tgt, "DELETE FROM customers WHERE name = 'Bob'")
    _, outcomes = validate_table(src, tgt, settings, m, s, t, {"customers": t})
    by = {o.name: o for o in outcomes}
    assert (
        not by["reconciliation"].passed
        and "1 legacy row(s) are neither migrated nor rejected" in by["reconciliation"].detail
    )
    assert not by["sample_values"].passed and "differ" in by["sample_values"].detail


def test_open_decision_blocks_the_run_until_answered(make_db, tmp_path: Path) -> None:
    src, tgt = make_db("legacy"), make_db("target")
    install_legacy(src)
    install_target(tgt)
    project = Project.create(tmp_path / "p", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    with pytest.raises(OpenDecisionsError, match=r"mappings/technician_roles.yaml.*Supervisor"):
        load_run_inputs(project, accept_proposals=False)
    # --yes does not invent an answer where the agent proposed none: the row would be rejected.
    mapping = project.load_mapping("technician_roles")
    eff = effective_mapping(mapping, accept_proposals=True)
    roles = {r.target: r for r in eff.columns}["role_type"]
    assert roles.value_map["Supervisor"] is None
    # Each mapped value says how sure it is; the rule is as sure as its least sure value.
    proposed = {r.target: r for r in mapping.columns}["role_type"]
    assert "Supervisor" not in proposed.value_confidence
    assert set(proposed.value_confidence) == {k for k, v in proposed.value_map.items() if v}
    assert proposed.confidence <= min(proposed.value_confidence.values())


def test_a_fixed_row_leaves_the_rejects_on_the_next_run(shop) -> None:
    src, tgt, project, _ = shop
    inputs = load_run_inputs(project, accept_proposals=True)
    m = inputs.mappings["customers"]
    s, t = inputs.source.table(m.source), inputs.target.table("customers")
    settings = dataclasses.replace(inputs.settings, max_reject_ratio=1.0)
    execute(src, "INSERT INTO tbl_customer VALUES (99, 'Zed', 'zed@x.io', 'soon')")
    migrate_table(src, tgt, m, s, t, settings)
    assert (
        query(tgt, "SELECT count(*) FROM dbmigrate.migration_rejects WHERE legacy_id = '99'")[0][0]
        == 1
    )
    watermark = scan(src, "public", ["tbl_customer"]).watermark
    execute(src, "UPDATE tbl_customer SET signup_dt = '2024-05-05' WHERE cust_id = 99")
    # Incremental, as the sensor runs it: only row 99 is read, and it is above every mapped key,
    # so it takes the append path.
    run = migrate_table(src, tgt, m, s, t, settings, changed_since_xmin=watermark)
    assert run.rows_read == 1
    assert (
        query(tgt, "SELECT count(*) FROM dbmigrate.migration_rejects WHERE legacy_id = '99'")[0][0]
        == 0
    )
    assert query(tgt, "SELECT signed_up_on::text FROM customers WHERE name = 'Zed'") == [
        ("2024-05-05",)
    ]
    c, outcomes = validate_table(src, tgt, settings, m, s, t, {"customers": t})
    by = {o.name: o for o in outcomes}
    assert by["reconciliation"].passed and c.rows_rejected == 2  # Cy's date and the e-mail twin


def test_analysis_reads_partitioned_tables_through_their_parent_and_skips_views(make_db) -> None:
    src = make_db("parts")
    execute(
        src,
        "CREATE SCHEMA archive; "
        "CREATE TABLE readings (id int, taken date NOT NULL, value numeric, "
        "PRIMARY KEY (id, taken)) PARTITION BY RANGE (taken); "
        "CREATE TABLE readings_2024 PARTITION OF readings "
        "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01'); "
        "CREATE TABLE readings_2025 PARTITION OF readings "
        "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); "
        "INSERT INTO readings VALUES (1, '2024-05-01', 1.5), (2, '2025-05-01', 2.5); "
        "CREATE VIEW recent AS SELECT * FROM readings WHERE taken > '2025-01-01'; "
        "CREATE MATERIALIZED VIEW totals AS SELECT count(*) FROM readings; "
        "CREATE TABLE archive.readings (id int PRIMARY KEY, flag boolean);",
    )
    schema = introspect(src)
    assert [t.name for t in schema.tables] == ["archive.readings", "readings"]
    parent = schema.table("readings")
    assert parent.row_count == 2  # both partitions' rows, counted once, through the parent
    assert schema.table("archive.readings").column("flag").data_type == "boolean"
