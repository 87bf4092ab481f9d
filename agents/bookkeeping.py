"""The seed's bookkeeping tables, kept in the target next to the data they describe.

``migration_control`` is the progress log (one row per table run, updated per committed batch);
``migration_mappings`` maps every legacy id to its UUID (primary key entity + legacy id, so a legacy
id can never get a second UUID); ``migration_rejects`` holds every row that could not be migrated,
with the row itself and the reason. Widened from the seed where it was too narrow: legacy ids are
BIGINT, timestamps carry a zone, and control rows remember the last committed key for resume.
"""

import hashlib
import json
import re
from typing import Any

from psycopg import sql

from agents.db import scalar

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.migration_control (
  id BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  phase VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  operation VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  records_processed BIGINT NOT NULL DEFAULT 0,
  records_rejected BIGINT NOT NULL DEFAULT 0,
  total_records BIGINT,
  started_at TIMESTAMPTZ,
  completed_at TIMESTAMPTZ,
  error_message TEXT,
  batch_size INTEGER,
  worker_id INTEGER,
  partition_key TEXT,
  last_key BIGINT,
  source_query TEXT,
  validation_query TEXT
);
CREATE INDEX IF NOT EXISTS migration_control_table_idx
  ON {schema}.migration_control (table_name, partition_key, id DESC);
CREATE TABLE IF NOT EXISTS {schema}.migration_mappings (
  entity_type VARCHAR COLLATE "C" NOT NULL,
  legacy_id BIGINT NOT NULL,
  new_id UUID NOT NULL,
  migrated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  migration_batch VARCHAR NOT NULL,
  PRIMARY KEY (entity_type, legacy_id)
);
ALTER TABLE {schema}.migration_control ADD COLUMN IF NOT EXISTS last_key_text TEXT;
ALTER TABLE {schema}.migration_control ADD COLUMN IF NOT EXISTS notes TEXT;
ALTER TABLE {schema}.migration_mappings ADD COLUMN IF NOT EXISTS legacy_key TEXT;
CREATE TABLE IF NOT EXISTS {schema}.migration_rejects (
  entity_type VARCHAR NOT NULL,
  legacy_id TEXT NOT NULL,
  row_data JSONB NOT NULL,
  reason TEXT NOT NULL,
  rejected_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  migration_batch VARCHAR,
  PRIMARY KEY (entity_type, legacy_id)
);
"""


BOOKKEEPING = (
    "migration_control",
    "migration_mappings",
    "migration_rejects",
    "migration_validation",
    "migration_sandbox_audit",
    "migration_deferred_constraints",
    "migration_ddl",
)
# Supabase's API roles (PostgREST): they must never see the bookkeeping (rejects hold legacy
# rows as JSON). Revoked where they exist; elsewhere nothing to do.
API_ROLES = ("anon", "authenticated")


def ensure_bookkeeping(conn: Any, schema: str, *, moved_from: str | None = None) -> None:
    """Create the bookkeeping schema and tables if missing (idempotent; safe every run).

    The schema is the project's own (``dbmigrate`` by default), never the one Supabase exposes
    through its API; the API roles get no privilege on it. Tables an older version kept in
    ``moved_from`` (the target's ``public``) are moved here first, rows and all.
    """
    s = sql.Identifier(schema)
    row = conn.execute(
        "SELECT current_user::text, session_user::text, to_regnamespace(%s) IS NOT NULL",
        (f'"{schema}"',),
    ).fetchone()
    assert row is not None
    current, session, exists = row
    as_role = current != session
    if as_role:
        # Writing under SET ROLE (Supabase: a role that RLS judges): the connecting user
        # creates the schema, owned by that role (which then creates its tables itself), and
        # moves an older version's tables, which it owns.
        conn.execute("RESET ROLE")
    try:
        if not exists:
            owner = sql.SQL(" AUTHORIZATION {}").format(sql.Identifier(current))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}{}").format(
                    s, owner if as_role else sql.SQL("")
                )
            )
        if moved_from and moved_from != schema:
            _move_tables(conn, moved_from, schema, current if as_role else None)
            # Moved tables keep the grants public gave the API roles: take them away.
            for role in API_ROLES:
                known = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                if known.fetchone():
                    conn.execute(
                        sql.SQL(
                            "REVOKE ALL ON SCHEMA {s} FROM {r}; "
                            "REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}; "
                            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}"
                        ).format(s=s, r=sql.Identifier(role))
                    )
    finally:
        if as_role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(current)))
    apply_once(conn, schema, DDL)


def apply_once(conn: Any, schema: str, ddl: str) -> None:
    """Run bookkeeping DDL (``{schema}`` placeholders) unless this exact text already ran here.

    ``ADD COLUMN IF NOT EXISTS`` and ``CREATE INDEX IF NOT EXISTS`` take their strong table
    lock before they find there is nothing to do. In a run whose key ranges load in parallel
    processes, one process's batch holds row locks on the bookkeeping tables while another
    starts: its DDL queues behind that batch, and the batch's own next statement, on another
    connection, queues behind the DDL, a wait PostgreSQL cannot see as a deadlock. A marker
    per DDL text, read without any table lock, makes every later call a no-op.
    """
    digest = hashlib.sha256(ddl.encode()).hexdigest()[:16]
    s = sql.Identifier(schema)
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.migration_ddl (ddl_sha256 TEXT PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ).format(s)
    )
    done = conn.execute(
        sql.SQL("SELECT 1 FROM {}.migration_ddl WHERE ddl_sha256 = %s").format(s), (digest,)
    ).fetchone()
    # The marker is trusted only while the tables it created are there (someone may have
    # dropped them by hand); to_regclass reads the catalog and takes no lock.
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS \{schema\}\.(\w+)", ddl)
    present = conn.execute(
        "SELECT bool_and(to_regclass(format('%%I.%%I', %s::text, t)) IS NOT NULL) "
        "FROM unnest(%s::text[]) AS t",
        (schema, tables),
    ).fetchone()
    if done and (not tables or (present is not None and present[0])):
        return
    conn.execute(sql.SQL(ddl).format(schema=s))
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.migration_ddl (ddl_sha256) VALUES (%s) ON CONFLICT DO NOTHING"
        ).format(s),
        (digest,),
    )


def _move_tables(conn: Any, old: str, new: str, role: str | None) -> None:
    """Bookkeeping tables an older version kept in ``old``: moved, rows and all."""
    for table in BOOKKEEPING:
        found = conn.execute(
            "SELECT to_regclass(%s), to_regclass(%s)",
            (f'"{old}"."{table}"', f'"{new}"."{table}"'),
        ).fetchone()
        if not found or found[0] is None or found[1] is not None:
            continue
        conn.execute(
            sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                sql.Identifier(old), sql.Identifier(table), sql.Identifier(new)
            )
        )
        if role:
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(
                    sql.Identifier(new), sql.Identifier(table), sql.Identifier(role)
                )
            )


def start_control(
    conn: Any,
    schema: str,
    *,
    run_id: str,
    table: str,
    partition: str | None,
    total: int,
    batch_size: int,
    source_query: str,
) -> tuple[int, int | list[str] | None, int]:
    """Open a control row; returns (id, key to resume after, rows already done) for resume.

    A previous run of the same table and partition that never completed left its last committed
    key behind; we continue after it instead of starting over.
    """
    s = sql.Identifier(schema)
    prev = conn.execute(
        sql.SQL(
            "SELECT id, status, last_key, records_processed, records_rejected, last_key_text "
            "FROM {}.migration_control WHERE table_name = %s "
            "AND partition_key IS NOT DISTINCT FROM %s AND phase = 'execution' "
            "ORDER BY id DESC LIMIT 1"
        ).format(s),
        (table, partition),
    ).fetchone()
    resume_key: int | list[str] | None = None
    done = 0
    if prev and prev[1] in ("running", "failed") and (prev[2] is not None or prev[5]):
        resume_key = int(prev[2]) if prev[2] is not None else list(json.loads(prev[5]))
        done = int(prev[3]) + int(prev[4])
        conn.execute(
            sql.SQL("UPDATE {}.migration_control SET status = 'interrupted' WHERE id = %s").format(
                s
            ),
            (prev[0],),
        )
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {}.migration_control (run_id, phase, table_name, operation, status, "
            "total_records, started_at, batch_size, partition_key, source_query, last_key, "
            "last_key_text) VALUES "
            "(%s, 'execution', %s, 'upsert', 'running', %s, now(), %s, %s, %s, %s, %s) "
            "RETURNING id"
        ).format(s),
        (run_id, table, total, batch_size, partition, source_query, *_cursor(resume_key)),
    ).fetchone()
    return int(row[0]), resume_key, done


def progress(
    conn: Any,
    schema: str,
    control_id: int,
    *,
    processed: int,
    rejected: int,
    last_key: int | list[str] | None,
    batch_size: int,
) -> None:
    conn.execute(
        sql.SQL(
            "UPDATE {}.migration_control SET records_processed = records_processed + %s, "
            "records_rejected = records_rejected + %s, last_key = %s, last_key_text = %s, "
            "batch_size = %s WHERE id = %s"
        ).format(sql.Identifier(schema)),
        (processed, rejected, *_cursor(last_key), batch_size, control_id),
    )


def _cursor(key: int | list[str] | None) -> tuple[int | None, str | None]:
    """(last_key, last_key_text): an integer key's cursor, or a natural key's column values."""
    if isinstance(key, list):
        return None, json.dumps(key)
    return key, None


def finish_control(
    conn: Any,
    schema: str,
    control_id: int,
    *,
    status: str,
    error: str | None = None,
    notes: str | None = None,
) -> None:
    """Close a control row; ``notes`` say in words what the load changed on purpose (links
    written empty by the reviewer's choice), for the report."""
    conn.execute(
        sql.SQL(
            "UPDATE {}.migration_control SET status = %s, completed_at = now(), "
            "error_message = %s, notes = %s WHERE id = %s AND status = 'running'"
        ).format(sql.Identifier(schema)),
        (status, error, notes, control_id),
    )


def status_rows(conn: Any, schema: str) -> list[tuple[Any, ...]]:
    """Latest control row per table and partition, for ``dbmigrate status``."""
    return list(
        conn.execute(
            sql.SQL(
                "SELECT DISTINCT ON (table_name, partition_key) table_name, partition_key, status, "
                "records_processed, records_rejected, total_records, started_at, completed_at, "
                "error_message FROM {}.migration_control WHERE phase = 'execution' "
                "ORDER BY table_name, partition_key, id DESC"
            ).format(sql.Identifier(schema))
        ).fetchall()
    )


VALIDATION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.migration_validation (
  id BIGSERIAL PRIMARY KEY,
  run_id TEXT,
  table_name VARCHAR NOT NULL,
  check_name VARCHAR NOT NULL,
  passed BOOLEAN NOT NULL,
  detail TEXT NOT NULL,
  checked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def record_checks(
    conn: Any, schema: str, table: str, run_id: str, outcomes: list[tuple[str, bool, str]]
) -> None:
    """Keep every validation outcome: the report and ``status`` read the latest per check."""
    conn.execute(sql.SQL(VALIDATION_DDL).format(schema=sql.Identifier(schema)))
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.migration_validation "
                "(run_id, table_name, check_name, passed, detail) "
                "VALUES (%s, %s, %s, %s, %s)"
            ).format(sql.Identifier(schema)),
            [(run_id, table, n, p, d) for n, p, d in outcomes],
        )


def latest_checks(conn: Any, schema: str, table: str) -> list[tuple[str, bool, str]]:
    """The latest outcome of each check, if it was recorded after the table's latest load
    began: an earlier run's verdicts never sit next to this run's counts."""
    exists = scalar(conn.execute("SELECT to_regclass(%s)", (f'"{schema}".migration_validation',)))
    if not exists:
        return []
    loaded = scalar(conn.execute("SELECT to_regclass(%s)", (f'"{schema}".migration_control',)))
    since: sql.Composable = sql.SQL("TRUE")
    if loaded:
        since = sql.SQL(
            "checked_at >= coalesce((SELECT max(started_at) FROM {}.migration_control c "
            "WHERE c.table_name = %s AND c.phase = 'execution'), '-infinity')"
        ).format(sql.Identifier(schema))
    return [
        (str(n), bool(p), str(d))
        for n, p, d in conn.execute(
            sql.SQL(
                "SELECT DISTINCT ON (check_name) check_name, passed, detail "
                "FROM {}.migration_validation "
                "WHERE table_name = %s AND {} ORDER BY check_name, id DESC"
            ).format(sql.Identifier(schema), since),
            (table, table) if loaded else (table,),
        ).fetchall()
    ]


def latest_control(conn: Any, schema: str, table: str) -> tuple[str, str | None] | None:
    exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".migration_control',)).fetchone()[
        0
    ]
    if not exists:
        return None
    row = conn.execute(
        sql.SQL(
            "SELECT status, error_message FROM {}.migration_control WHERE table_name = %s AND "
            "phase = 'execution' ORDER BY id DESC LIMIT 1"
        ).format(sql.Identifier(schema)),
        (table,),
    ).fetchone()
    return (str(row[0]), row[1]) if row else None


def latest_timing(conn: Any, schema: str, table: str) -> tuple[str, float | None, str, str] | None:
    """(run id, seconds, finished at) of the table's latest load: the report says which run
    its numbers belong to."""
    exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".migration_control',)).fetchone()
    if not exists or exists[0] is None:
        return None
    row = conn.execute(
        sql.SQL(
            "SELECT run_id, extract(epoch FROM completed_at - started_at)::float8, "
            "to_char(coalesce(completed_at, started_at) AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD HH24:MI:SS') || ' UTC', coalesce(notes, '') FROM {}.migration_control "
            "WHERE table_name = %s AND phase = 'execution' ORDER BY id DESC LIMIT 1"
        ).format(sql.Identifier(schema)),
        (table,),
    ).fetchone()
    if not row:
        return None
    return str(row[0]), (float(row[1]) if row[1] is not None else None), str(row[2]), str(row[3])


def reject_samples(conn: Any, schema: str, table: str, limit: int = 5) -> list[dict[str, str]]:
    exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".migration_rejects',)).fetchone()[
        0
    ]
    if not exists:
        return []
    rows = conn.execute(
        sql.SQL(
            "SELECT legacy_id, reason FROM {}.migration_rejects WHERE entity_type = %s "
            "ORDER BY rejected_at, legacy_id LIMIT %s"
        ).format(sql.Identifier(schema)),
        (table, limit),
    ).fetchall()
    return [{"legacy_id": str(a), "reason": str(b)} for a, b in rows]


def rejected_ids(conn: Any, schema: str, entity: str) -> list[int]:
    """Integer legacy ids currently in the rejects table for an entity."""
    rows = conn.execute(
        sql.SQL("SELECT legacy_id FROM {}.migration_rejects WHERE entity_type = %s").format(
            sql.Identifier(schema)
        ),
        (entity,),
    ).fetchall()
    return [int(r[0]) for r in rows if str(r[0]).lstrip("-").isdigit()]


def emptied_note(counts: dict[str, int]) -> str:
    """Links to missing parents written empty (``on_orphan: set_null``), per column, in words."""
    return "; ".join(
        f"{n} {col} reference(s) to missing parent rows written empty (on_orphan)"
        for col, n in sorted(counts.items())
    )


def add_note(conn: Any, schema: str, table: str, note: str) -> None:
    """Say what a step after the load changed on purpose (links written empty once a cycle's
    other side was in), on the table's last load, where the report reads its notes."""
    conn.execute(
        sql.SQL(
            "UPDATE {s}.migration_control SET notes = concat_ws('; ', nullif(notes, ''), %s) "
            "WHERE id = (SELECT max(id) FROM {s}.migration_control WHERE table_name = %s "
            "AND phase = 'execution')"
        ).format(s=sql.Identifier(schema)),
        (note, table),
    )


def move_to_rejected(conn: Any, schema: str, table: str, rows: int) -> None:
    """Rows counted as migrated by the table's last load that were taken out again (orphans
    of a deferred reference): the progress log says so."""
    conn.execute(
        sql.SQL(
            "UPDATE {s}.migration_control SET records_processed = records_processed - %s, "
            "records_rejected = records_rejected + %s WHERE id = (SELECT max(id) FROM "
            "{s}.migration_control WHERE table_name = %s AND phase = 'execution')"
        ).format(s=sql.Identifier(schema)),
        (rows, rows, table),
    )
