"""Bulk-load mode for keys and indexes, as pgloader does it, but crash-safe.

Index and trigger maintenance is most of what a COPY costs the server. Measured here, per 1M
work-order rows: the foreign-key trigger 6.1 s vs 2.2 s without it (validating the key afterwards,
set-based, 0.13 s); the UUID primary key 1.0 s of index inserts vs 0.25 s to build it once
afterwards. So for a large first load the engine parks, in order:

- the foreign keys of other tables that reference this table (their parent key is about to go),
- the table's own foreign keys,
- its primary key and its plain (non-unique) indexes,

loads, and puts them back: indexes built in one pass, foreign keys re-added ``NOT VALID`` and
then ``VALIDATE``d. Unique constraints other than the primary key stay, because they can refuse a
row and the engine isolates such rows one by one. The primary key's uniqueness is guaranteed by
construction meanwhile (one row per legacy key, and ``migration_mappings`` keeps its own primary
key), and rebuilding it proves it. Every parked definition is recorded first, in the same
transaction as the drop, so a run killed mid-load restores them on its next start.
"""

import logging
from typing import Any

import psycopg
from psycopg import sql

from agents import bookkeeping
from agents.db import project_name, qualified, split_name

log = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.migration_deferred_constraints (
  table_name VARCHAR NOT NULL,
  constraint_name VARCHAR NOT NULL,
  definition TEXT NOT NULL,
  deferred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, constraint_name)
);
ALTER TABLE {schema}.migration_deferred_constraints
  ADD COLUMN IF NOT EXISTS kind VARCHAR NOT NULL DEFAULT 'fk',
  ADD COLUMN IF NOT EXISTS parked_by VARCHAR;
"""
# Restore order: a key must exist before the foreign keys that reference it.
RESTORE_ORDER = {"pk": 0, "index": 1, "fk": 2}


def _record(
    conn: Any, schema: str, table: str, name: str, definition: str, kind: str, by: str
) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.migration_deferred_constraints "
            "(table_name, constraint_name, definition, kind, parked_by) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ).format(sql.Identifier(schema)),
        (table, name, definition, kind, by),
    )


def _drop_constraint(conn: Any, schema: str, table: str, name: str) -> None:
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            qualified(schema, table), sql.Identifier(name)
        )
    )


def park_for_bulk_load(conn: Any, schema: str, table: str, *, bk: str | None = None) -> list[str]:
    """Drop what slows a bulk load of ``table``, remembering it; returns what was parked.

    Returns [] (nothing changed) when the role may not alter the tables involved.
    """
    bookkeeping.apply_once(conn, bk or schema, DDL)
    fks = conn.execute(
        "SELECT n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace "
        "WHERE c.contype = 'f' AND ((n.nspname = %s AND t.relname = %s) "
        "OR (rn.nspname = %s AND r.relname = %s))",
        (*split_name(table, schema), *split_name(table, schema)),
    ).fetchall()
    pk = conn.execute(
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE c.contype = 'p' AND n.nspname = %s AND t.relname = %s",
        split_name(table, schema),
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relname = %s AND NOT x.indisunique AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        split_name(table, schema),
    ).fetchall()
    parked: list[str] = []
    try:
        with conn.transaction():
            for owner_schema, owner_table, name, definition in fks:
                owner = project_name(owner_schema, owner_table, schema)
                _record(conn, bk or schema, owner, name, definition, "fk", table)
                _drop_constraint(conn, schema, owner, name)
                parked.append(f"{owner}.{name}")
            for name, definition in pk:
                _record(conn, bk or schema, table, name, definition, "pk", table)
                _drop_constraint(conn, schema, table, name)
                parked.append(name)
            for name, definition in indexes:
                _record(conn, bk or schema, table, name, definition, "index", table)
                index_schema = split_name(table, schema)[0]
                conn.execute(
                    sql.SQL("DROP INDEX {}").format(
                        sql.SQL("{}.{}").format(sql.Identifier(index_schema), sql.Identifier(name))
                    )
                )
                parked.append(name)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.DependentObjectsStillExist) as e:
        log.info("%s: keys and indexes stay in place (slower load): %s", table, e)
        return []
    return parked


def is_parked(conn: Any, schema: str, table: str, *, bk: str | None = None) -> bool:
    """Whether a bulk load of ``table`` has its keys parked right now."""
    bookkeeping.apply_once(conn, bk or schema, DDL)
    row = conn.execute(
        sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {}.migration_deferred_constraints "
            "WHERE parked_by = %s AND kind = 'pk')"
        ).format(sql.Identifier(bk or schema)),
        (table,),
    ).fetchone()
    return bool(row and row[0])


def restore_parked(conn: Any, schema: str, table: str, *, bk: str | None = None) -> list[str]:
    """Re-create what a bulk load of ``table`` parked; returns problems, if any.

    A key that cannot be rebuilt (duplicates) stays recorded, so nothing is forgotten.
    """
    bookkeeping.apply_once(conn, bk or schema, DDL)
    rows = conn.execute(
        sql.SQL(
            "SELECT table_name, constraint_name, definition, kind "
            "FROM {}.migration_deferred_constraints "
            "WHERE table_name = %s OR parked_by = %s"
        ).format(sql.Identifier(bk or schema)),
        (table, table),
    ).fetchall()
    if not rows:
        return []
    conn.execute("SET maintenance_work_mem = '512MB'")  # index builds spill less to disk
    forget = sql.SQL(
        "DELETE FROM {}.migration_deferred_constraints WHERE table_name = %s "
        "AND constraint_name = %s"
    ).format(sql.Identifier(bk or schema))
    problems = []
    for owner, name, definition, kind in sorted(rows, key=lambda r: RESTORE_ORDER.get(r[3], 9)):
        target = qualified(schema, owner)
        try:
            with conn.transaction():
                if kind == "index":
                    conn.execute(sql.SQL(definition))
                else:
                    suffix = " NOT VALID" if kind == "fk" else ""
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}{}").format(
                            target, sql.Identifier(name), sql.SQL(definition), sql.SQL(suffix)
                        )
                    )
                conn.execute(forget, (owner, name))
        except (psycopg.errors.IntegrityError, psycopg.errors.InvalidForeignKey) as exc:
            detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
            problems.append(f"{name} could not be rebuilt: {str(exc).splitlines()[0]}{detail}")
            continue
        if kind == "fk":
            try:
                conn.execute(
                    sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                        target, sql.Identifier(name)
                    )
                )
            except psycopg.errors.ForeignKeyViolation as exc:
                problems.append(f"{name} is back but NOT VALID: {str(exc).splitlines()[0]}")
    return problems
