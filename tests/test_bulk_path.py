"""The bulk-load path: binary COPY must store exactly what CSV COPY stores, and parked keys and
indexes must all come back (or stay recorded), whatever happens in between."""

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from agents import constraints, pgbinary, pgcsv
from agents.identity import uuid_bytes, uuid_text_arrow
from tests.conftest import execute, query

DDL = """
CREATE TYPE mood AS ENUM ('happy', 'sad', 'in between');
CREATE TABLE {name} (
  u UUID, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION, b BOOLEAN,
  t TEXT, v VARCHAR(20), c CHAR(4), e mood, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ,
  n NUMERIC, n2 NUMERIC(12, 2), n6 NUMERIC(18, 6));
"""
COLUMNS = [
    "u",
    "i2",
    "i4",
    "i8",
    "f4",
    "f8",
    "b",
    "t",
    "v",
    "c",
    "e",
    "d",
    "ts",
    "tz",
    "n",
    "n2",
    "n6",
]
ROWS = {
    "u": ["0000000f-3557-8159-a2d2-72c34717208d", "FFFFFFFF-0000-8000-8000-00000000000A", None],
    "i2": ["-32768", "32767", None],
    "i4": ["0", "-2147483648", None],
    "i8": ["9223372036854775807", "-1", None],
    "f4": ["1.5", "-0.25", None],
    "f8": ["3.141592653589793", "1e-300", None],
    "b": ["t", "FALSE", None],
    "t": ['héllo, "world"\nsecond line', "", None],
    "v": ["tab\there", "x" * 20, None],
    "c": ["ab", "abcd", None],
    "e": ["in between", "sad", None],
    "d": ["2024-02-29", "1999-12-31", None],
    "ts": ["2020-01-01 00:00:00", "1970-01-01 23:59:59", None],
    "tz": ["2020-06-30 12:34:56", "2021-01-01T00:00:00.123456", None],
    "n": ["0", "-1234567.000100", None],
    "n2": ["12.5", "-0.01", None],
    "n6": ["9999999999.999999", "-0.000001", None],
}


def _load(dsn: str, table: str, payload: bytes, fmt: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        with conn.cursor().copy(f"COPY {table} FROM STDIN WITH (FORMAT {fmt})") as copy:
            copy.write(payload)


def test_binary_copy_stores_exactly_what_csv_copy_stores(make_db) -> None:
    dsn = make_db("bin")
    execute(dsn, DDL.format(name="via_csv") + DDL.split(";", 1)[1].format(name="via_binary"))
    table = pa.table({c: pa.array(ROWS[c], pa.string()) for c in COLUMNS})
    with psycopg.connect(dsn) as conn:
        types = pgbinary.column_types(conn, "public", "via_binary", COLUMNS)
    assert types is not None and [t.name for t in types][10] == "enum"
    payload = pgbinary.encode(table, types)
    assert payload is not None, "every value here has an exact binary form"
    _load(dsn, "via_binary", payload, "binary")
    _load(dsn, "via_csv", pgcsv.write(table), "csv")
    diff = "SELECT count(*) FROM (SELECT * FROM {} EXCEPT ALL SELECT * FROM {}) x"
    assert query(dsn, diff.format("via_binary", "via_csv"))[0][0] == 0
    assert query(dsn, diff.format("via_csv", "via_binary"))[0][0] == 0
    assert query(dsn, "SELECT count(*) FROM via_binary")[0][0] == 3
    # Spot-check what a user would look at, not only that both paths agree.
    row = query(
        dsn, "SELECT n::text, n2::text, n6::text, tz, e::text FROM via_binary WHERE i8 = -1"
    )
    assert row[0][:3] == ("-1234567.000100", "-0.01", "-0.000001")
    assert row[0][3].isoformat() == "2021-01-01T00:00:00.123456+00:00"
    assert row[0][4] == "sad"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("ts", "infinity"),
        ("ts", "2020-01-01 00:00:00+02"),  # PostgreSQL ignores a zone on a naive timestamp
        ("d", "2023-02-29"),  # impossible date: the server must name it
        ("n", "1.5e3"),  # an exponent's scale is not the text's
        ("n2", "12.345"),  # rounding to the typmod is the server's
        ("b", "ye"),  # a prefix PostgreSQL accepts
        ("u", "{0000000f-3557-8159-a2d2-72c34717208d}"),
        ("i4", " 42"),
        ("f4", "0.1"),
    ],
)
def test_values_without_an_exact_binary_form_fall_back_to_csv(column: str, value: str) -> None:
    spec = {
        "ts": pgbinary.PgType("timestamp"),
        "d": pgbinary.PgType("date"),
        "n": pgbinary.PgType("numeric"),
        "n2": pgbinary.PgType("numeric", 2),
        "b": pgbinary.PgType("bool"),
        "u": pgbinary.PgType("uuid"),
        "i4": pgbinary.PgType("int4"),
        "f4": pgbinary.PgType("float4"),
    }
    assert pgbinary.encode(pa.table({column: pa.array([value])}), [spec[column]]) is None


def test_derived_uuid_bytes_are_used_as_they_are(make_db) -> None:
    dsn = make_db("bin")
    execute(dsn, "CREATE TABLE k (id UUID, note TEXT)")
    raw = uuid_bytes(np.arange(1, 6, dtype=np.int64), 42)
    text = uuid_text_arrow(raw)
    table = pa.table({"id": text, "note": pa.array(["a", None, "c", "d", "e"])})
    with psycopg.connect(dsn) as conn:
        types = pgbinary.column_types(conn, "public", "k", ["id", "note"])
    assert types is not None
    payload = pgbinary.encode(table, types, {"id": raw})
    assert payload is not None
    _load(dsn, "k", payload, "binary")
    stored = [str(r[0]) for r in query(dsn, "SELECT id FROM k ORDER BY id")]
    assert stored == text.to_pylist()
    assert query(dsn, "SELECT count(*) FROM k WHERE note IS NULL")[0][0] == 1


def _catalog(dsn: str) -> list[tuple]:
    return query(
        dsn,
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
        "AND conrelid::regclass::text NOT LIKE 'migration%%' "
        "UNION ALL SELECT tablename, indexname, indexdef, true FROM pg_indexes "
        "WHERE schemaname = 'public' AND tablename NOT LIKE 'migration%%' ORDER BY 1, 2, 3",
    )


PARENT_CHILD = """
CREATE TABLE parent (id UUID PRIMARY KEY, code TEXT UNIQUE, grp INT);
CREATE INDEX parent_grp ON parent (grp);
CREATE TABLE other (id INT PRIMARY KEY);
CREATE TABLE child (id INT PRIMARY KEY, parent_id UUID REFERENCES parent(id),
                    other_id INT REFERENCES other(id));
"""


def test_parking_for_a_bulk_load_puts_every_key_and_index_back(make_db) -> None:
    dsn = make_db("park")
    execute(dsn, PARENT_CHILD)
    before = _catalog(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        parked = constraints.park_for_bulk_load(conn, "public", "parent")
    # The child's FK to parent goes first (its key is about to go), then parent's own key and
    # plain index; the unique constraint stays, since it can refuse a row.
    assert "child.child_parent_id_fkey" in parked and "parent_pkey" in parked
    assert "parent_grp" in parked and "parent_code_key" not in parked
    during = {r[1] for r in _catalog(dsn)}
    assert "parent_pkey" not in during and "parent_code_key" in during
    assert "child_other_id_fkey" in during  # not this load's business
    execute(dsn, "INSERT INTO parent VALUES (gen_random_uuid(), 'a', 1)")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert constraints.restore_parked(conn, "public", "parent") == []
    assert _catalog(dsn) == before
    assert query(dsn, "SELECT count(*) FROM migration_deferred_constraints")[0][0] == 0


def test_a_key_that_cannot_be_rebuilt_is_reported_and_stays_recorded(make_db) -> None:
    dsn = make_db("park")
    execute(dsn, PARENT_CHILD)
    with psycopg.connect(dsn, autocommit=True) as conn:
        constraints.park_for_bulk_load(conn, "public", "parent")
    execute(
        dsn,
        "INSERT INTO parent VALUES ('00000000-0000-8000-8000-000000000001', 'a', 1), "
        "('00000000-0000-8000-8000-000000000001', 'b', 1)",
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        problems = constraints.restore_parked(conn, "public", "parent")
    assert any(
        "parent_pkey could not be rebuilt" in p and "is duplicated" in p for p in problems
    ), problems
    kept = query(dsn, "SELECT constraint_name FROM migration_deferred_constraints")
    assert ("parent_pkey",) in kept  # nothing is forgotten; fixing the data and re-running works
    execute(dsn, "DELETE FROM parent WHERE code = 'b'")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert constraints.restore_parked(conn, "public", "parent") == []
    assert query(dsn, "SELECT count(*) FROM migration_deferred_constraints")[0][0] == 0


def test_fixed_width_mapping_rows_load_as_the_generic_encoder_would(make_db) -> None:
    dsn = make_db("bin")
    execute(
        dsn,
        'CREATE TABLE m (entity_type VARCHAR COLLATE "C", legacy_id BIGINT, new_id UUID, '
        "migration_batch VARCHAR)",
    )
    ids = np.array([1, 2, 2**40, 7], dtype=np.int64)
    raw = uuid_bytes(ids, 7)
    _load(dsn, "m", pgbinary.encode_mappings("work_orders", ids, raw, "run1:work_orders"), "binary")
    rows = query(dsn, "SELECT entity_type, legacy_id, new_id::text, migration_batch FROM m")
    assert rows == [
        ("work_orders", int(i), u, "run1:work_orders")
        for i, u in zip(ids, uuid_text_arrow(raw).to_pylist(), strict=True)
    ]
