"""Insert, then set: references that cannot be resolved while their rows load.

A row whose parent sits in the same table (``reports_to``, ``manager_id``) may arrive before its
parent, in the same batch or a later one; and of two tables that reference each other, one must
load first. Such a foreign key is *deferred*: the rows load with it NULL, and once every parent
is in, one set-based pass resolves it through ``migration_mappings``, whatever the row order, in
one run.

A row whose parent never arrived (missing in the legacy data, filtered out or rejected) is not
left with a silently empty reference: it is taken out of the target again and goes to
``migration_rejects`` with the reason, and so, transitively, are the rows that pointed at it.
"""

import io
import json
import logging
from dataclasses import dataclass

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from agents import bookkeeping, pgcsv
from agents.db import connect, qualified
from agents.engine import keys
from agents.errors import ExecutionError
from agents.models import ColumnRule, TableMapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """What a completion pass did: references set, rows taken out as orphans."""

    updated: int
    rejected: int


def deferred_rules(mapping: TableMapping) -> list[ColumnRule]:
    return [r for r in mapping.columns if r.kind == "fk" and r.defer and r.fk_target]


def _ref_expr(rule: ColumnRule) -> sql.Composable:
    if rule.ref_kind == "natural":
        return keys.reference_id(rule)
    return keys.id_expr(rule.ref_sources or [rule.source or ""], rule.ref_kind)


def _legacy_refs(
    conn: psycopg.Connection, mapping: TableMapping, schema: str, rules: list[ColumnRule]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(child ids, per rule the parent id or -1) for every legacy row the mapping selects."""
    from agents.execution import filter_sql, key_id_expr, source_relation

    q = sql.SQL(
        "COPY (SELECT {k}, {refs} FROM {t} s WHERE {f}) TO STDOUT WITH (FORMAT csv)"
    ).format(
        k=key_id_expr(mapping),
        refs=sql.SQL(", ").join(_ref_expr(r) for r in rules),
        t=source_relation(mapping, schema),
        f=filter_sql(mapping.filters),
    )
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(q) as copy:
        for chunk in copy:
            buf.write(chunk)
    names = ["child", *(f"r{i}" for i in range(len(rules)))]
    if buf.tell() == 0:
        return np.array([], dtype=np.int64), [np.array([], dtype=np.int64) for _ in rules]
    buf.seek(0)
    table = pgcsv.read(buf, names)

    def ints(name: str) -> np.ndarray:
        col = table.column(name).to_pandas()
        return np.asarray(col.fillna(-1).astype("int64"), dtype=np.int64)

    return ints("child"), [ints(f"r{i}") for i in range(len(rules))]


def _mapped(conn: psycopg.Connection, schema: str, entity: str) -> np.ndarray:
    rows = conn.execute(
        sql.SQL("SELECT legacy_id FROM {}.migration_mappings WHERE entity_type = %s").format(
            sql.Identifier(schema)
        ),
        (entity,),
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def _orphans(
    mapping: TableMapping,
    rules: list[ColumnRule],
    child: np.ndarray,
    refs: list[np.ndarray],
    mapped: dict[str, np.ndarray],
) -> dict[int, str]:
    """Migrated rows whose deferred parent is not migrated, with the reason; transitively for
    self-references (a row pointing at an orphan loses its parent too)."""
    mine = np.isin(child, mapped[mapping.target])
    out: dict[int, str] = {}
    while True:
        gone = np.array(sorted(out), dtype=np.int64)
        found = False
        for rule, ref in zip(rules, refs, strict=True):
            if rule.on_orphan == "set_null":
                continue  # the reviewer made this link optional: it stays empty (counted)
            parents = mapped[rule.fk_target or ""]
            missing = (ref >= 0) & ~np.isin(ref, parents)
            if rule.fk_target == mapping.target and gone.size:
                missing |= (ref >= 0) & np.isin(ref, gone)
            bad = mine & missing & ~np.isin(child, gone)
            for i in np.flatnonzero(bad):
                out[int(child[i])] = (
                    f"{rule.target}: {rule.source} references a {rule.fk_target} row that was not "
                    "migrated (missing, filtered out or rejected)"
                )
                found = True
        if not found:
            return out


def complete_references(
    source_dsn: str,
    target_dsn: str,
    mapping: TableMapping,
    settings_schema: tuple[str, str],
    *,
    bk: str | None = None,
    role: str | None = None,
    run_tag: str = "",
    parents: set[str] | None = None,
) -> Completed:
    """Set the deferred foreign keys of ``mapping``'s table (those to ``parents``, or all)
    from the legacy data (idempotent: a re-run rewrites nothing); orphans go to the rejects.
    ``settings_schema`` is the source and target default schema."""
    rules = [r for r in deferred_rules(mapping) if parents is None or r.fk_target in parents]
    if not rules or not mapping.uuid_target:
        return Completed(0, 0)
    source_schema, target_schema = settings_schema
    book = bk or target_schema
    with connect(source_dsn, read_only=True) as sconn:
        child, refs = _legacy_refs(sconn, mapping, source_schema, rules)
        sconn.rollback()
    s = sql.Identifier(book)
    table = qualified(target_schema, mapping.target)
    pk = sql.Identifier(mapping.uuid_target)
    with connect(target_dsn, role=role, autocommit=True) as conn, conn.transaction():
        entities = {mapping.target} | {r.fk_target or "" for r in rules}
        mapped = {e: _mapped(conn, book, e) for e in entities}
        orphans = _orphans(mapping, rules, child, refs, mapped)
        if orphans:
            try:
                with conn.transaction():
                    _reject_orphans(
                        source_dsn,
                        conn,
                        mapping,
                        source_schema,
                        (target_schema, book),
                        orphans,
                        run_tag,
                    )
            except psycopg.errors.ForeignKeyViolation as exc:
                first = next(iter(orphans.values()))
                raise ExecutionError(
                    f"{mapping.target}: {len(orphans)} rows point at rows that were not migrated "
                    f"({first}), and other tables already reference them, so they cannot be "
                    "taken out again: correct the reference in the mapping, or set "
                    "on_orphan: set_null if the link is optional "
                    f"(PostgreSQL: {str(exc).splitlines()[0]})"
                ) from None
        cols = ", ".join(f"r{i} BIGINT" for i in range(len(rules)))
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS _dbm_refs (child BIGINT, {cols})")
        conn.execute("TRUNCATE _dbm_refs")
        keep = ~np.isin(child, np.array(sorted(orphans), dtype=np.int64))
        # Vectorised, as the engine writes its batches: -1 (no parent) becomes NULL.
        body = pa.table(
            {
                "child": pa.array(child[keep]),
                **{f"r{i}": pa.array(ref[keep], mask=ref[keep] < 0) for i, ref in enumerate(refs)},
            }
        )
        with conn.cursor().copy(sql.SQL("COPY _dbm_refs FROM STDIN WITH (FORMAT csv)")) as copy:
            copy.write(pgcsv.write(body))
        updated = 0
        for i, rule in enumerate(rules):
            col = sql.Identifier(rule.target)
            cur = conn.execute(
                sql.SQL(
                    "UPDATE {t} AS x SET {c} = v.parent FROM ("
                    "SELECT m.new_id AS child, p.new_id AS parent FROM _dbm_refs r "
                    "JOIN {s}.migration_mappings m ON m.entity_type = %s AND m.legacy_id = r.child "
                    "LEFT JOIN {s}.migration_mappings p ON p.entity_type = %s "
                    "AND p.legacy_id = r.{r}) v "
                    "WHERE x.{pk} = v.child AND x.{c} IS DISTINCT FROM v.parent"
                ).format(t=table, c=col, s=s, pk=pk, r=sql.Identifier(f"r{i}")),
                (mapping.target, rule.fk_target),
            )
            updated += cur.rowcount
    log.info(
        "%s: %d deferred references set, %d orphans rejected", mapping.target, updated, len(orphans)
    )
    return Completed(updated, len(orphans))


def _reject_orphans(
    source_dsn: str,
    conn: psycopg.Connection,
    mapping: TableMapping,
    source_schema: str,
    schemas: tuple[str, str],
    orphans: dict[int, str],
    run_tag: str,
) -> None:
    """Take orphans out of the target and its mappings; record them, row and reason.
    ``schemas``: the target's default schema and the bookkeeping schema."""
    from agents.execution import key_id_expr, source_relation

    target_schema, book = schemas
    ids = sorted(orphans)
    s = sql.Identifier(book)
    with connect(source_dsn, read_only=True) as sconn:
        rows = sconn.execute(
            sql.SQL("SELECT {k}, to_jsonb(t)::text FROM {src} t WHERE {k} = ANY(%s)").format(
                k=key_id_expr(mapping), src=source_relation(mapping, source_schema)
            ),
            (ids,),
        ).fetchall()
        sconn.rollback()
    data = {int(k): str(row) for k, row in rows}
    conn.execute(
        sql.SQL(
            "DELETE FROM {t} WHERE {pk} IN (SELECT new_id FROM {s}.migration_mappings "
            "WHERE entity_type = %s AND legacy_id = ANY(%s))"
        ).format(
            t=qualified(target_schema, mapping.target),
            pk=sql.Identifier(mapping.uuid_target or ""),
            s=s,
        ),
        (mapping.target, ids),
    )
    conn.execute(
        sql.SQL(
            "DELETE FROM {}.migration_mappings WHERE entity_type = %s AND legacy_id = ANY(%s)"
        ).format(s),
        (mapping.target, ids),
    )
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.migration_rejects (entity_type, legacy_id, row_data, reason, "
                "migration_batch) VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (entity_type, "
                "legacy_id) DO UPDATE SET row_data = EXCLUDED.row_data, reason = EXCLUDED.reason, "
                "rejected_at = now(), migration_batch = EXCLUDED.migration_batch"
            ).format(s),
            [
                (mapping.target, str(i), data.get(i, json.dumps({})), orphans[i], run_tag)
                for i in ids
            ],
        )
    bookkeeping.move_to_rejected(conn, book, mapping.target, len(ids))
