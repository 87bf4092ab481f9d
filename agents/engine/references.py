"""Insert, then set: references that cannot be resolved while their rows load.

A row whose parent sits in the same table (``reports_to``, ``manager_id``) may arrive before its
parent, in the same batch or a later one; and of two tables that reference each other, one must
load first. Such a foreign key is *deferred*: the rows load with it NULL, and once every parent
is in, one set-based pass resolves it, whatever the row order, in one run: through
``migration_mappings`` to a UUID parent, or, to a parent that keeps its legacy key, as that
key's value once the parent row is there. A child that keeps its own key is found by it.

A reference the legacy data leaves dangling (a constraint never enforced) is deferred too, so
that each row's link is decided once every parent is in.

A row whose parent never arrived (missing in the legacy data, filtered out or rejected) is not
left with a silently empty reference: it is taken out of the target again and goes to
``migration_rejects`` with the reason, and so, transitively, are the rows that pointed at it.
Where the reviewer made the link optional (``on_orphan: set_null``) it stays empty, counted.
"""

import json
import logging
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from agents import bookkeeping
from agents.db import connect, qualified, scalar
from agents.engine import keys
from agents.errors import ExecutionError
from agents.models import ColumnRule, TableInfo, TableMapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """What a completion pass did: references set, rows taken out as orphans, and links the
    reviewer made optional written empty because their parent is missing."""

    updated: int
    rejected: int
    emptied: dict[str, int] = field(default_factory=dict)  # per column


def deferred_rules(mapping: TableMapping) -> list[ColumnRule]:
    """Reference rules written after the load: to a UUID parent (``fk``) or to a parent that
    keeps its legacy key (a ``copy`` of the key's value)."""
    return [r for r in mapping.columns if r.kind in ("fk", "copy") and r.defer and r.fk_target]


def _ref_expr(rule: ColumnRule) -> sql.Composable:
    if rule.kind == "copy":
        return sql.SQL("s.{}::text").format(sql.Identifier(rule.source or ""))
    if rule.ref_kind == "natural":
        return keys.reference_id(rule)
    return keys.id_expr(rule.ref_sources or [rule.source or ""], rule.ref_kind)


@dataclass(frozen=True)
class _Identity:
    """How a legacy row finds its row in the target: through ``migration_mappings`` to the
    UUID key, or, for a key the redesign keeps, by the key's own values."""

    uuid: str | None
    kept: list[tuple[str, str]]  # (target key column, legacy column it is copied from)

    def match(self) -> sql.Composable:
        """``x`` (the target row) is ``r`` (the staged legacy row)."""
        if self.uuid:
            return sql.SQL("x.{} = r.tid").format(sql.Identifier(self.uuid))
        return sql.SQL(" AND ").join(
            sql.SQL("x.{}::text = r.{}").format(sql.Identifier(t), sql.Identifier(f"k{j}"))
            for j, (t, _) in enumerate(self.kept)
        )


def _identity(mapping: TableMapping) -> _Identity:
    if mapping.uuid_target:
        return _Identity(mapping.uuid_target, [])
    copies = {r.target: r.source for r in mapping.columns if r.kind == "copy" and not r.via}
    kept = []
    for col in mapping.target_key_columns:
        source = copies.get(col)
        if not isinstance(source, str):
            raise ExecutionError(
                f"{mapping.target}: its deferred references are set by the row's key, but key "
                f"column {col} is not a copy of a legacy column: map it with kind: copy, or "
                "remove defer from the references"
            )
        kept.append((col, source))
    if not kept:
        raise ExecutionError(
            f"{mapping.target}: its deferred references are set by the row's key, and it has "
            "none: map the target's primary key"
        )
    return _Identity(None, kept)


@dataclass(frozen=True)
class _Parent:
    """Where rule ``i``'s parent is looked up, and the value the reference takes."""

    exists: sql.Composable  # over r: the parent row is in the target
    join: sql.Composable  # LEFT JOIN ... p ON ...: p.value is the reference's value


def _parent(rule: ColumnRule, i: int, table: TableInfo, schemas: tuple[str, str]) -> _Parent:
    target_schema, book = schemas
    r = sql.Identifier(f"r{i}")
    if rule.kind == "fk":
        maps = sql.SQL("{}.migration_mappings").format(sql.Identifier(book))
        on = sql.SQL("p.entity_type = {e} AND p.legacy_id = r.{r}").format(
            e=sql.Literal(rule.fk_target), r=r
        )
        return _Parent(
            sql.SQL("EXISTS (SELECT 1 FROM {m} p WHERE {on})").format(m=maps, on=on),
            sql.SQL(
                "LEFT JOIN (SELECT entity_type, legacy_id, new_id AS value FROM {m}) p ON {on}"
            ).format(m=maps, on=on),
        )
    fk = table.foreign_key_on(rule.target)
    if fk is None:
        raise ExecutionError(
            f"{table.name}.{rule.target}: defer sets a kept key's reference once its parent is "
            f"in, and the target declares no foreign key on {rule.target} to say where the "
            "parent is: declare it, or remove defer"
        )
    parent = qualified(target_schema, fk.ref_table)
    on = sql.SQL("p.{c}::text = r.{r}").format(c=sql.Identifier(fk.ref_columns[0]), r=r)
    return _Parent(
        sql.SQL("EXISTS (SELECT 1 FROM {t} p WHERE {on})").format(t=parent, on=on),
        sql.SQL("LEFT JOIN (SELECT {c} AS value, {c} FROM {t}) p ON {on}").format(
            c=sql.Identifier(fk.ref_columns[0]), t=parent, on=on
        ),
    )


def _stage(
    sconn: psycopg.Connection,
    conn: psycopg.Connection,
    mapping: TableMapping,
    source_schema: str,
    rules: list[ColumnRule],
    identity: _Identity,
) -> None:
    """``_dbm_refs`` in the target session: per legacy row the mapping selects, its legacy id,
    its kept key's values, and each deferred reference (a parent legacy id, or a kept key's
    text); then ``tid``, its target row's UUID, and only rows that are in the target."""
    from agents.execution import filter_sql, key_id_expr, source_relation

    kept = [sql.SQL("s.{}::text").format(sql.Identifier(c)) for _, c in identity.kept]
    q = sql.SQL("COPY (SELECT {cols} FROM {t} s WHERE {f}) TO STDOUT").format(
        cols=sql.SQL(", ").join([key_id_expr(mapping), *kept, *(_ref_expr(r) for r in rules)]),
        t=source_relation(mapping, source_schema),
        f=filter_sql(mapping.filters),
    )
    cols = [
        "child BIGINT",
        *(f"k{j} TEXT" for j in range(len(identity.kept))),
        *(f"r{i} {'TEXT' if r.kind == 'copy' else 'BIGINT'}" for i, r in enumerate(rules)),
    ]
    conn.execute("DROP TABLE IF EXISTS _dbm_refs")
    conn.execute(f"CREATE TEMP TABLE _dbm_refs ({', '.join(cols)}, tid UUID)")
    with (
        sconn.cursor().copy(q) as out,
        conn.cursor().copy(
            sql.SQL("COPY _dbm_refs ({}) FROM STDIN").format(
                sql.SQL(", ").join(sql.Identifier(c.split()[0]) for c in cols)
            )
        ) as into,
    ):
        for chunk in out:
            into.write(chunk)


def complete_references(
    source_dsn: str,
    target_dsn: str,
    mapping: TableMapping,
    table: TableInfo,
    settings_schema: tuple[str, str],
    *,
    bk: str | None = None,
    role: str | None = None,
    run_tag: str = "",
    parents: set[str] | None = None,
    note: bool = False,
) -> Completed:
    """Set the deferred references of ``mapping``'s table (``table``, as the target declares
    it) to ``parents``, or all, from the legacy data. Idempotent: a re-run rewrites nothing.
    Orphans go to the rejects, or are written empty where ``on_orphan: set_null`` says so;
    with ``note``, after the table's load, those are counted in its notes.
    ``settings_schema`` is the source and target default schema."""
    rules = [r for r in deferred_rules(mapping) if parents is None or r.fk_target in parents]
    if not rules:
        return Completed(0, 0)
    source_schema, target_schema = settings_schema
    book = bk or target_schema
    identity = _identity(mapping)
    s = sql.Identifier(book)
    target = qualified(target_schema, mapping.target)
    found = [_parent(r, i, table, (target_schema, book)) for i, r in enumerate(rules)]
    with (
        connect(source_dsn, read_only=True) as sconn,
        connect(target_dsn, role=role, autocommit=True) as conn,
        conn.transaction(),
    ):
        _stage(sconn, conn, mapping, source_schema, rules, identity)
        sconn.rollback()
        if identity.uuid:
            conn.execute(
                sql.SQL(
                    "UPDATE _dbm_refs r SET tid = m.new_id FROM {}.migration_mappings m "
                    "WHERE m.entity_type = %s AND m.legacy_id = r.child"
                ).format(s),
                (mapping.target,),
            )
        # Rows that are not in the target (rejected, filtered, not loaded yet) have nothing
        # to set.
        conn.execute(
            sql.SQL(
                "DELETE FROM _dbm_refs r WHERE NOT EXISTS (SELECT 1 FROM {t} x WHERE {m})"
            ).format(t=target, m=identity.match())
        )
        rejected = _take_out_orphans(
            source_dsn,
            conn,
            mapping,
            (source_schema, target_schema, book),
            rules,
            found,
            identity,
            run_tag,
        )
        emptied: dict[str, int] = {}
        updated = 0
        for i, (rule, parent) in enumerate(zip(rules, found, strict=True)):
            r = sql.Identifier(f"r{i}")
            if rule.on_orphan == "set_null":
                n = int(
                    scalar(
                        conn.execute(
                            sql.SQL(
                                "SELECT count(*) FROM _dbm_refs r "
                                "WHERE r.{r} IS NOT NULL AND NOT {e}"
                            ).format(r=r, e=parent.exists)
                        )
                    )
                )
                if n:
                    emptied[rule.target] = n
            col = sql.Identifier(rule.target)
            cur = conn.execute(
                sql.SQL(
                    "UPDATE {t} AS x SET {c} = r.value FROM (SELECT r.*, p.value FROM _dbm_refs r "
                    "{join}) r WHERE {m} AND x.{c} IS DISTINCT FROM r.value"
                ).format(t=target, c=col, join=parent.join, m=identity.match()),
            )
            updated += cur.rowcount
        if note and emptied:
            bookkeeping.add_note(conn, book, mapping.target, bookkeeping.emptied_note(emptied))
    log.info(
        "%s: %d deferred references set, %d orphans rejected, %d written empty",
        mapping.target,
        updated,
        rejected,
        sum(emptied.values()),
    )
    return Completed(updated, rejected, emptied)


def _take_out_orphans(
    source_dsn: str,
    conn: psycopg.Connection,
    mapping: TableMapping,
    schemas: tuple[str, str, str],
    rules: list[ColumnRule],
    found: list[_Parent],
    identity: _Identity,
    run_tag: str,
) -> int:
    """Reject the rows whose parent is missing, round after round: a row pointing at a row
    just taken out (a self-reference) loses its parent too."""
    source_schema, target_schema, book = schemas
    checks = [
        (
            sql.SQL("r.{r} IS NOT NULL AND NOT {e}").format(r=sql.Identifier(f"r{i}"), e=p.exists),
            f"{rule.target}: {rule.source} references a {rule.fk_target} row that was not "
            "migrated (missing, filtered out or rejected)",
        )
        for i, (rule, p) in enumerate(zip(rules, found, strict=True))
        if rule.on_orphan == "reject"
    ]
    if not checks:
        return 0
    reason = sql.SQL("CASE {} END").format(
        sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(c, sql.Literal(w)) for c, w in checks)
    )
    anyone = sql.SQL(" OR ").join(c for c, _ in checks)
    total = 0
    while True:
        rows = conn.execute(
            sql.SQL("SELECT r.child, {why} FROM _dbm_refs r WHERE {any}").format(
                why=reason, any=anyone
            )
        ).fetchall()
        if not rows:
            return total
        orphans = {int(c): str(w) for c, w in rows}
        try:
            with conn.transaction():
                _reject_orphans(
                    source_dsn,
                    conn,
                    mapping,
                    source_schema,
                    (target_schema, book),
                    orphans,
                    identity,
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
        total += len(orphans)


def _reject_orphans(
    source_dsn: str,
    conn: psycopg.Connection,
    mapping: TableMapping,
    source_schema: str,
    schemas: tuple[str, str],
    orphans: dict[int, str],
    identity: _Identity,
    run_tag: str,
) -> None:
    """Take orphans out of the target, its mappings and ``_dbm_refs``; record them, row and
    reason. ``schemas``: the target's default schema and the bookkeeping schema."""
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
        sql.SQL("DELETE FROM {t} x USING _dbm_refs r WHERE r.child = ANY(%s) AND {m}").format(
            t=qualified(target_schema, mapping.target), m=identity.match()
        ),
        (ids,),
    )
    conn.execute("DELETE FROM _dbm_refs WHERE child = ANY(%s)", (ids,))
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
