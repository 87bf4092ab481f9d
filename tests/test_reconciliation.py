"""Every-row reconciliation: one wrong value anywhere in the target fails the checksums check and
names its column, even where the sampled checks look elsewhere."""

import dataclasses
from pathlib import Path

import psycopg
import pytest

from agents import constraints
from agents.execution import migrate_table
from agents.project import Project
from agents.schema_analysis import introspect
from agents.validation import check_checksums, check_foreign_keys, validate_table
from agents.workflow import load_run_inputs, plan_project
from bench.workorders import install
from tests.conftest import execute, query

ROWS = 60_000  # above the bulk threshold: the binary, keys-parked path


def _planned(make_db, tmp_path: Path):
    src, tgt = make_db("wo_src"), make_db("wo_tgt")
    with psycopg.connect(src, autocommit=True) as a, psycopg.connect(tgt, autocommit=True) as b:
        install(a, b, ROWS, customers=500)
    project = Project.create(tmp_path / "wo", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    return src, tgt, load_run_inputs(project, accept_proposals=True)


def _migrate(src: str, tgt: str, inputs, name: str):
    m = inputs.mappings[name]
    s, t = inputs.source.table(m.source), inputs.target.table(name)
    return migrate_table(src, tgt, m, s, t, dataclasses.replace(inputs.settings, run_id="t"))


@pytest.fixture
def loaded(make_db, tmp_path: Path):
    src, tgt, inputs = _planned(make_db, tmp_path)
    for name in ("customers", "work_orders"):
        _migrate(src, tgt, inputs, name)
    m = inputs.mappings["work_orders"]
    return src, tgt, inputs, m, inputs.source.table(m.source), inputs.target.table("work_orders")


def test_a_clean_bulk_load_reconciles_every_row(loaded) -> None:
    src, tgt, inputs, m, s, t = loaded
    all_targets = {x.name: x for x in inputs.target.tables}
    counts, outcomes = validate_table(src, tgt, inputs.settings, m, s, t, all_targets)
    assert counts.rows_migrated == ROWS and counts.rows_source == ROWS
    assert all(o.passed for o in outcomes), [o for o in outcomes if not o.passed]
    checksums = {o.name: o for o in outcomes}["checksums"]
    assert f"{ROWS} rows x 6 columns" in checksums.detail


@pytest.mark.parametrize(
    ("tamper", "column"),
    [
        (
            "UPDATE work_orders SET status = 'cancelled' WHERE id = (SELECT id FROM work_orders "
            "WHERE status = 'open' ORDER BY id DESC LIMIT 1)",
            "status",
        ),
        (
            "UPDATE work_orders SET amount = amount + 0.01 WHERE id = "
            "(SELECT id FROM work_orders ORDER BY id DESC LIMIT 1)",
            "amount",
        ),
        (
            "UPDATE work_orders w SET customer_id = (SELECT c.id FROM customers c "
            "WHERE c.id <> w.customer_id ORDER BY c.id LIMIT 1) "
            "WHERE w.id = (SELECT id FROM work_orders ORDER BY id DESC LIMIT 1)",
            "customer_id",
        ),
        (
            "UPDATE work_orders SET created_at = created_at + interval '1 second' WHERE id = "
            "(SELECT id FROM work_orders ORDER BY id DESC LIMIT 1)",
            "created_at",
        ),
        (
            "UPDATE work_orders SET note = note || '.' WHERE id = (SELECT id FROM "
            "work_orders WHERE note IS NOT NULL ORDER BY id DESC LIMIT 1)",
            "note",
        ),
    ],
)
def test_one_wrong_value_fails_the_checksums_and_names_its_column(
    loaded, tamper: str, column: str
) -> None:
    src, tgt, inputs, m, s, t = loaded
    execute(tgt, tamper)
    outcome = check_checksums(src, tgt, inputs.settings, m, s, t)
    assert not outcome.passed
    assert column in outcome.detail, outcome.detail


def test_foreign_keys_trust_only_a_validated_constraint(loaded) -> None:
    _, tgt, inputs, m, _, t = loaded
    all_targets = {x.name: x for x in inputs.target.tables}
    ok = check_foreign_keys(tgt, inputs.settings, m, t, all_targets)
    assert ok.passed and "work_orders_customer_id_fkey validated by PostgreSQL" in ok.detail
    # An orphan slipped in while the key was away; the key came back NOT VALID.
    execute(
        tgt,
        "ALTER TABLE work_orders DROP CONSTRAINT work_orders_customer_id_fkey; "
        "UPDATE work_orders SET customer_id = gen_random_uuid() WHERE id = "
        "(SELECT id FROM work_orders ORDER BY id LIMIT 1); "
        "ALTER TABLE work_orders ADD CONSTRAINT work_orders_customer_id_fkey "
        "FOREIGN KEY (customer_id) REFERENCES customers(id) NOT VALID",
    )
    caught = check_foreign_keys(tgt, inputs.settings, m, t, all_targets)
    assert not caught.passed
    assert "1 rows of work_orders.customer_id have no customers parent" in caught.detail


def test_a_rerun_of_a_bulk_loaded_table_upserts_through_its_key_and_rewrites_nothing(
    loaded,
) -> None:
    src, tgt, inputs, m, s, t = loaded
    before = query(tgt, "SELECT count(*), max(xmin::text::bigint) FROM work_orders")[0]
    run = migrate_table(src, tgt, m, s, t, dataclasses.replace(inputs.settings, run_id="again"))
    assert run.rows_read == ROWS and run.rows_rejected == 0
    after = query(tgt, "SELECT count(*), max(xmin::text::bigint) FROM work_orders")[0]
    assert after == before  # no duplicate, no row rewritten
    keys = query(
        tgt,
        "SELECT conname FROM pg_constraint WHERE conrelid = 'work_orders'::regclass "
        "AND contype IN ('p', 'f') ORDER BY 1",
    )
    assert keys == [("work_orders_customer_id_fkey",), ("work_orders_pkey",)]
    assert query(tgt, "SELECT count(*) FROM dbmigrate.migration_deferred_constraints")[0][0] == 0


def test_a_row_refused_during_a_bulk_load_is_isolated_and_the_keys_come_back(
    make_db, tmp_path: Path
) -> None:
    src, tgt, inputs = _planned(make_db, tmp_path)
    execute(tgt, "ALTER TABLE work_orders ADD CONSTRAINT no_1234 CHECK (amount <> 12.34)")
    _migrate(src, tgt, inputs, "customers")
    run = _migrate(src, tgt, inputs, "work_orders")
    assert (run.rows_migrated, run.rows_rejected) == (ROWS - 1, 1)
    reason = query(tgt, "SELECT legacy_id, reason FROM dbmigrate.migration_rejects")
    assert reason[0][0] == "1234" and 'violates check constraint "no_1234"' in reason[0][1]
    assert query(tgt, "SELECT count(*) FROM work_orders")[0][0] == ROWS - 1
    keys = query(
        tgt,
        "SELECT conname FROM pg_constraint WHERE conrelid = 'work_orders'::regclass "
        "AND contype IN ('p', 'f', 'c') ORDER BY 1",
    )
    assert keys == [("no_1234",), ("work_orders_customer_id_fkey",), ("work_orders_pkey",)]


def test_a_child_puts_a_still_parked_parent_back_before_loading(make_db, tmp_path: Path) -> None:
    """A parent loaded by key ranges stays parked until its validation asset runs; a child
    materialized before that must still load, and leave every key in place."""
    src, tgt, inputs = _planned(make_db, tmp_path)
    _migrate(src, tgt, inputs, "customers")
    with psycopg.connect(tgt, autocommit=True) as conn:
        assert "customers_pkey" in constraints.park_for_bulk_load(
            conn, "public", "customers", bk="dbmigrate"
        )
    run = _migrate(src, tgt, inputs, "work_orders")
    assert (run.rows_migrated, run.rows_rejected) == (ROWS, 0)
    assert query(tgt, "SELECT count(*) FROM dbmigrate.migration_deferred_constraints")[0][0] == 0
    keys = query(
        tgt,
        "SELECT conrelid::regclass::text, conname, convalidated FROM pg_constraint "
        "WHERE conrelid IN ('work_orders'::regclass, 'customers'::regclass) "
        "AND contype IN ('p', 'f') ORDER BY 1, 2",
    )
    assert keys == [
        ("customers", "customers_pkey", True),
        ("work_orders", "work_orders_customer_id_fkey", True),
        ("work_orders", "work_orders_pkey", True),
    ]


def test_bookkeeping_left_by_a_bulk_load_is_not_offered_as_a_target(loaded) -> None:
    _, tgt, *_ = loaded
    assert query(tgt, "SELECT to_regclass('dbmigrate.migration_deferred_constraints') IS NOT NULL")[
        0
    ][0]
    names = {t.name for t in introspect(tgt, profile=False).tables}
    assert names == {"customers", "work_orders"}
