"""Execution role: stream one table from the legacy database into the target, batch by batch.

Data path per batch: ``COPY (SELECT ...) TO STDOUT`` in CSV from a read-only source transaction ->
Arrow (pyarrow's C++ CSV reader) -> vectorised transform -> CSV -> ``COPY`` into a temporary
staging table -> one set-based upsert into the target, the ID mappings and the rejects -> commit,
with progress in ``migration_control``. Batches are keyset pages of the legacy key, so memory is
bounded by the batch size and a killed run resumes after its last committed key.

A batch the database refuses (a constraint we could not pre-check) is bisected inside savepoints
until the offending rows are isolated; they go to the rejects table with the database's message.
"""

import io
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from agents import bookkeeping, constraints, pgbinary, pgcsv, pgpipe
from agents.db import connect, qualified, regclass_text, scalar
from agents.engine import keys, references
from agents.engine.expressions import check_expression
from agents.errors import ExecutionError, MappingError
from agents.identity import entity_seed
from agents.models import (
    ColumnInfo,
    ColumnRule,
    DatabaseSchema,
    Filter,
    TableInfo,
    TableMapping,
)
from agents.transform import BatchResult, CodeRunner, KeptResolver, apply_mapping

log = logging.getLogger(__name__)
# What a single row can cause: bad values, constraint or row-level-security refusals. These are
# isolated row by row; anything else fails the table.
ROW_ERRORS = (
    psycopg.errors.DataError,
    psycopg.errors.IntegrityError,
    psycopg.errors.InsufficientPrivilege,
)
ProgressCallback = Callable[[int, int], None]
T = TypeVar("T")
# Where a keyset page starts: after an integer key, after a natural key's column values, or
# at the beginning.
Cursor = int | list[str] | None
MAPPING_COLUMNS = ("entity_type", "legacy_id", "new_id", "migration_batch")
# The cap bounds memory (a few batches are in flight: read ahead, transformed, being written),
# so RSS stays flat however large the table; 200k rows already amortise round trips.
MIN_BATCH, MAX_BATCH = 1_000, 200_000
BULK_ROWS = 50_000  # from this many new rows on, a table is loaded in bulk mode
TARGET_BATCH_SECONDS = 1.0


@dataclass(frozen=True)
class ExecutionSettings:
    namespace: str
    source_schema: str = "public"
    target_schema: str = "public"
    # The bookkeeping tables' own schema in the target: never the one Supabase's API exposes.
    bookkeeping_schema: str = "dbmigrate"
    batch_size: int = 50_000
    max_reject_ratio: float = 0.05
    target_role: str | None = None
    run_id: str = ""


@dataclass(frozen=True)
class TableRun:
    target: str
    rows_read: int
    rows_migrated: int
    rows_rejected: int
    batches: int
    seconds: float
    resumed_after: "Cursor"


def filter_sql(filters: list[Filter]) -> sql.Composable:
    parts: list[sql.Composable] = []
    ops = {"eq": "=", "ne": "<>"}
    for f in filters:
        col = sql.Identifier(f.column)
        if f.op in ops:
            parts.append(sql.SQL("{} {} {}").format(col, sql.SQL(ops[f.op]), sql.Literal(f.value)))
        elif f.op in ("in", "not_in"):
            values = f.value if isinstance(f.value, list) else [f.value]
            parts.append(
                sql.SQL("{} {} ({})").format(
                    col,
                    sql.SQL("IN" if f.op == "in" else "NOT IN"),
                    sql.SQL(", ").join(sql.Literal(v) for v in values),
                )
            )
        elif f.op == "is_null":
            parts.append(sql.SQL("{} IS NULL").format(col))
        else:
            parts.append(sql.SQL("{} IS NOT NULL").format(col))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


def check_mapping(
    mapping: TableMapping,
    source: TableInfo,
    target: TableInfo,
    legacy: DatabaseSchema | None = None,
) -> None:
    """Refuse a mapping that names what the schemas do not have (never execute a hallucination).

    Folds name other legacy tables: with ``legacy`` (the whole source schema) every hop's table
    and columns are checked too.
    """
    where = f"mappings/{mapping.target}.yaml"
    for rule in mapping.columns:
        if not target.has_column(rule.target):
            raise MappingError(
                f"target column {rule.target} does not exist in {target.name}", path=where
            )
        if rule.via:
            _check_hops(rule, source, legacy, where)
            continue
        if rule.kind == "expression":
            check_expression(rule.expression or "", {c.name for c in source.columns}, where=where)
            continue
        for part in rule.ref_expressions:
            check_expression(part, {c.name for c in source.columns}, where=where)
        if rule.kind not in ("constant", "code") and (
            rule.source is None or not source.has_column(rule.source)
        ):
            raise MappingError(
                f"{rule.target}: source column {rule.source} does not exist in {source.name}",
                path=where,
            )
        if rule.cast is not None and rule.cast != target.column(rule.target).sql_type:
            raise MappingError(
                f"{rule.target}: cast {rule.cast!r} is not the target column's type "
                f"({target.column(rule.target).sql_type})",
                path=where,
            )
        labels = target.column(rule.target).enum_labels
        if rule.kind == "enum" and labels:
            bad = sorted({v for v in rule.value_map.values() if v is not None} - set(labels))
            if bad:
                raise MappingError(
                    f"{rule.target}: {bad} are not labels of the enum ({', '.join(labels)})",
                    path=where,
                )
    for f in mapping.filters:
        if not source.has_column(f.column):
            raise MappingError(
                f"filter column {f.column} does not exist in {source.name}", path=where
            )
    for key in mapping.key_columns:
        if not source.has_column(key):
            raise MappingError(f"key column {key} does not exist in {source.name}", path=where)
    if mapping.integer_key is not None and source.column(mapping.integer_key).data_type not in (
        "integer",
        "numeric",
    ):
        raise MappingError(
            f"key column {mapping.integer_key} is {source.column(mapping.integer_key).data_type}, "
            "not an integer: set key_kind: natural (the key is then hashed to a stable id)",
            path=where,
        )


def _check_hops(
    rule: ColumnRule, source: TableInfo, legacy: DatabaseSchema | None, where: str
) -> None:
    prev = source
    for hop in rule.via:
        if legacy is None:
            return  # the database names what is missing when the query runs
        if not legacy.has_table(hop.table):
            raise MappingError(f"{rule.target}: fold table {hop.table} does not exist", path=where)
        table = legacy.table(hop.table)
        for a, b in hop.link.items():
            if not prev.has_column(a) or not table.has_column(b):
                raise MappingError(
                    f"{rule.target}: fold step {prev.name}.{a} -> {table.name}.{b} names a "
                    "column that does not exist",
                    path=where,
                )
        prev = table
    if not prev.has_column(rule.source or ""):
        raise MappingError(
            f"{rule.target}: {prev.name} has no column {rule.source} to fold in", path=where
        )


def _since(changed_since_xmin: int | None) -> sql.Composable:
    """Rows written by transactions at or after a snapshot's xmin (see change_detection)."""
    if changed_since_xmin is None:
        return sql.SQL("TRUE")
    return sql.SQL("(xmin::text::bigint >= {})").format(sql.Literal(changed_since_xmin))


PART = "__dbm_part"  # the merged relation's column naming each row's legacy table


def source_relation(mapping: TableMapping, schema: str) -> sql.Composable:
    """What a mapping reads: its legacy table, or for a merge the UNION ALL of its parts, each
    projected onto the merged column names (as text, the engine's page format) with
    ``__dbm_part`` naming the row's table. Every reader composes this, so paging, counts,
    checks and references treat a merge like one table."""
    if not mapping.merge:
        return qualified(schema, mapping.source)
    names: list[str] = []
    for part in mapping.merge:
        names += [n for n in part.columns if n not in names]
    selects = []
    for part in mapping.merge:
        cols = [
            sql.SQL("{}::text AS {}").format(sql.Identifier(part.columns[n]), sql.Identifier(n))
            if n in part.columns
            else sql.SQL("NULL::text AS {}").format(sql.Identifier(n))
            for n in names
        ]
        selects.append(
            sql.SQL("SELECT {p}::text AS {pc}, {cols} FROM {t} WHERE {f}").format(
                p=sql.Literal(part.table),
                pc=sql.Identifier(PART),
                cols=sql.SQL(", ").join(cols),
                t=qualified(schema, part.table),
                f=filter_sql(part.filters),
            )
        )
    return sql.SQL("({})").format(sql.SQL(" UNION ALL ").join(selects))


def source_table(mapping: TableMapping, legacy: DatabaseSchema) -> TableInfo:
    """The legacy table a mapping reads, as the rules see it (for a merge: the merged
    relation, every column text)."""
    if not mapping.merge:
        return legacy.table(mapping.source)
    names: list[str] = [PART]
    for part in mapping.merge:
        if not legacy.has_table(part.table):
            raise MappingError(
                f"merge part {part.table} does not exist", path=f"mappings/{mapping.target}.yaml"
            )
        table = legacy.table(part.table)
        for merged, col in part.columns.items():
            if not table.has_column(col):
                raise MappingError(
                    f"merge part {part.table} has no column {col} (for {merged})",
                    path=f"mappings/{mapping.target}.yaml",
                )
        names += [n for n in part.columns if n not in names]
    return TableInfo(
        name=mapping.source,
        columns=[
            ColumnInfo(name=n, data_type="text", udt_name="text", nullable=True, sql_type="text")
            for n in names
        ],
        row_count=sum(legacy.table(p.table).row_count for p in mapping.merge),
    )


def value_expr(rule: ColumnRule, schema: str, *, merged: bool = False) -> sql.Composable:
    """The legacy value a rule reads, in SQL over the page's row (aliased ``keys.OUTER``):
    its source column, its (checked) expression, or the value a fold looks up (from a
    ``merged`` relation's row, whose columns are text)."""
    if rule.kind == "expression" and rule.expression:
        return sql.SQL("({})").format(sql.SQL(rule.expression))
    if rule.via:
        hops = [(qualified(schema, h.table), dict(h.link)) for h in rule.via]
        return keys.fold_expr(rule.source or "", hops, text_row=merged)
    return sql.Identifier(rule.source or "")


def computed_columns(
    mapping: TableMapping, schema: str = "public"
) -> list[tuple[str, sql.Composable]]:
    """Page columns PostgreSQL computes for the engine: a natural key's id and readable form,
    and the id each natural foreign key points at (see :mod:`agents.engine.keys`)."""
    out: list[tuple[str, sql.Composable]] = []
    if mapping.key_columns and mapping.integer_key is None:
        out.append((keys.KEY_ID, keys.natural_id(mapping.key_columns, key=True)))
        out.append((keys.KEY_TEXT, keys.natural_text(mapping.key_columns)))
    out.extend(
        (keys.ref_column(r.target), keys.reference_id(r))
        for r in mapping.columns
        if r.kind == "fk" and r.ref_kind == "natural" and r.source
    )
    out.extend(
        (keys.expr_column(r.target), sql.SQL("({})").format(sql.SQL(r.expression)))
        for r in mapping.columns
        if r.kind == "expression" and r.expression
    )
    out.extend(
        (keys.fold_column(r.target), value_expr(r, schema, merged=bool(mapping.merge)))
        for r in mapping.columns
        if r.via
    )
    for r in mapping.columns:
        if r.kind == "copy" and r.cast and r.source and not r.via:
            out.append((keys.cast_column(r.target), keys.cast_expr(r.source, r.cast)))
            if r.reject_lossy and r.source_type:
                out.append(
                    (
                        keys.lossy_column(r.target),
                        keys.lossy_expr(r.source, r.cast, r.source_type),
                    )
                )
    return out


def key_id_expr(mapping: TableMapping) -> sql.Composable:
    """The legacy id of a source row, in SQL (the key column itself for an integer key)."""
    return keys.id_expr(mapping.key_columns, mapping.key_kind)


def padded_columns(source: TableInfo) -> frozenset[str]:
    """``char(n)`` columns: PostgreSQL pads them, and their padding means nothing."""
    return frozenset(
        c.name
        for c in source.columns
        if (c.sql_type or "").startswith("character(") or c.sql_type == "character"
    )


def source_select(
    mapping: TableMapping,
    schema: str,
    changed_since_xmin: int | None = None,
    padded: frozenset[str] = frozenset(),
) -> tuple[list[str], sql.Composed]:
    """Columns read and the base SELECT (without paging) for a mapping.

    ``padded`` (``char(n)``) columns are read as ``text``, which drops the padding as
    PostgreSQL's own comparisons do: ``'trad_cook   '`` is the value ``'trad_cook'`` that the
    profile, the value maps and the target's text columns see.
    """
    cols: list[str] = []
    for r in mapping.columns:
        if r.kind == "code":  # generated code may read any column of the row
            break
    else:
        for c in [*mapping.key_columns, *(r.source for r in mapping.columns if not r.via)] + [
            s for r in mapping.columns for s in r.ref_sources
        ]:
            if c and c not in cols:
                cols.append(c)
    extra = computed_columns(mapping, schema)
    select: list[sql.Composable] = [
        sql.SQL("{c}::text AS {c}").format(c=sql.Identifier(c))
        if c in padded
        else sql.Identifier(c)
        for c in cols
    ] or [sql.SQL("{}.*").format(sql.Identifier(keys.OUTER))]
    select += [sql.SQL("{} AS {}").format(e, sql.Identifier(n)) for n, e in extra]
    base = sql.SQL("SELECT {cols} FROM {t} AS {alias} WHERE {f} AND {since}").format(
        cols=sql.SQL(", ").join(select),
        t=source_relation(mapping, schema),
        alias=sql.Identifier(keys.OUTER),
        f=filter_sql(mapping.filters),
        since=_since(changed_since_xmin),
    )
    return cols, base


def count_source_rows(
    conn: Any,
    mapping: TableMapping,
    schema: str,
    key_range: tuple[int, int] | None = None,
    changed_since_xmin: int | None = None,
) -> int:
    where = [filter_sql(mapping.filters), _since(changed_since_xmin)]
    if key_range and mapping.key_columns:
        where.append(
            sql.SQL("{k} >= {lo} AND {k} < {hi}").format(
                k=key_id_expr(mapping),
                lo=sql.Literal(key_range[0]),
                hi=sql.Literal(key_range[1]),
            )
        )
    q = sql.SQL("SELECT count(*) FROM {} AS {} WHERE {}").format(
        source_relation(mapping, schema), sql.Identifier(keys.OUTER), sql.SQL(" AND ").join(where)
    )
    return int(scalar(conn.execute(q)))


def key_bounds(conn: Any, mapping: TableMapping, schema: str) -> tuple[int, int] | None:
    """The legacy key's lowest and highest value over the whole table; None when it is empty."""
    if mapping.integer_key is None:
        return None  # natural keys page in key order, not by id: no id range to split
    row = conn.execute(
        sql.SQL("SELECT min({k})::bigint, max({k})::bigint FROM {t}").format(
            k=sql.Identifier(mapping.integer_key), t=qualified(schema, mapping.source)
        )
    ).fetchone()
    return None if row is None or row[0] is None else (int(row[0]), int(row[1]))


class _Reader:
    """Keyset pages of the source as Arrow tables of strings."""

    def __init__(
        self,
        conn: Any,
        mapping: TableMapping,
        schema: str,
        columns: list[str],
        all_columns: list[str],
        key_range: tuple[int, int] | None,
        changed_since_xmin: int | None = None,
        *,
        source: TableInfo | None = None,
    ) -> None:
        self.conn = conn
        self.mapping = mapping
        self.names = (columns or all_columns) + [n for n, _ in computed_columns(mapping, schema)]
        padded = padded_columns(source) if source is not None else frozenset()
        _, base = source_select(mapping, schema, changed_since_xmin, padded)
        # A key with a column that may be NULL cannot be paged as a row comparison (NULL
        # compares to nothing, and such rows would be skipped): it pages by its id instead.
        self.by_id = (
            mapping.integer_key is None
            and bool(mapping.key_columns)
            and source is not None
            and any(
                not source.has_column(c) or source.column(c).nullable for c in mapping.key_columns
            )
        )
        self.base = base
        self.key_range = key_range
        self.pager: pgpipe.PsqlPager | None = None  # set by the engine: pages through psql

    def page(self, after: "Cursor", limit: int) -> pa.Table:
        key = self.mapping.key_columns
        q: sql.Composable = self.base
        if key:
            conds: list[sql.Composable] = []
            if self.by_id:
                if after is not None:
                    conds.append(
                        sql.SQL("{} > {}").format(key_id_expr(self.mapping), sql.Literal(after))
                    )
            elif isinstance(after, list):
                conds.append(keys.after(key, after))
            elif after is not None:
                conds.append(sql.SQL("{} > {}").format(sql.Identifier(key[0]), sql.Literal(after)))
            if self.key_range:
                conds.append(
                    sql.SQL("{k} >= {lo} AND {k} < {hi}").format(
                        k=key_id_expr(self.mapping),
                        lo=sql.Literal(self.key_range[0]),
                        hi=sql.Literal(self.key_range[1]),
                    )
                )
            if conds:
                q = sql.SQL("{} AND {}").format(q, sql.SQL(" AND ").join(conds))
            order = key_id_expr(self.mapping) if self.by_id else keys.order_by(key)
            q = sql.SQL("{} ORDER BY {} LIMIT {}").format(q, order, sql.Literal(limit))
        statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(q)
        buf = io.BytesIO()
        if self.pager is not None:
            try:
                buf.write(self.pager.copy_out(statement.as_string(self.conn)))
            except RuntimeError as exc:
                log.warning("psql reader failed, reading in-process from now on: %s", exc)
                self.pager = None
                buf = io.BytesIO()
        if self.pager is None:
            with self.conn.cursor() as cur, cur.copy(statement) as copy:
                for chunk in copy:
                    buf.write(chunk)
        if buf.tell() == 0:
            return pa.table({n: pa.array([], pa.string()) for n in self.names})
        buf.seek(0)
        return pgcsv.read(buf, self.names)


def reader_for(conn: Any, mapping: TableMapping, schema: str, source: TableInfo) -> _Reader:
    """A reader over every row the mapping selects (the checks re-derive from it)."""
    cols, _ = source_select(mapping, schema)
    return _Reader(
        conn, mapping, schema, cols, [c.name for c in source.columns], None, source=source
    )


class _Writer:
    """Set-based writes into the target inside the current transaction."""

    def __init__(
        self,
        conn: Any,
        mapping: TableMapping,
        target: TableInfo,
        schema: str,
        batch_tag: str,
        key_range: tuple[int, int] | None = None,
        *,
        bk: str | None = None,
    ) -> None:
        self.conn = conn
        self.mapping = mapping
        self.schema = schema
        self.bk = bk or schema  # where the bookkeeping tables are
        self.tag = batch_tag
        self.cols = [r.target for r in mapping.columns]
        self.tident = qualified(schema, target.name)
        self.target_name = target.name
        s = sql.Identifier(self.bk)
        ident = sql.SQL(", ").join(map(sql.Identifier, self.cols))
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS _dbm_stage AS SELECT {c} FROM {t} WITH NO DATA"
            ).format(c=ident, t=self.tident)
        )
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _dbm_map "
            "(legacy_id BIGINT, new_id UUID, legacy_key TEXT)"
        )
        pk_cols = mapping.target_key_columns
        if not pk_cols:
            open_key = next((d.id for d in mapping.decisions if d.about == "key"), None)
            raise MappingError(
                f"{target.name} needs a legacy key mapped to its primary key so that re-runs "
                "update instead of duplicating"
                + (
                    f": answer decision {open_key} (which columns identify a row)"
                    if open_key
                    else ""
                ),
                path=f"mappings/{target.name}.yaml",
            )
        # Deferred references are set after the load (agents.engine.references): an upsert
        # leaves them as they are instead of blanking them on every re-run.
        deferred = {r.target for r in references.deferred_rules(mapping)}
        others = [c for c in self.cols if c not in pk_cols and c not in deferred]
        conflict: sql.Composable = sql.SQL("DO NOTHING")
        if others:
            conflict = sql.SQL(
                "DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
            ).format(
                sets=sql.SQL(", ").join(
                    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in others
                ),
                old=sql.SQL(", ").join(
                    sql.SQL("{t}.{c}").format(t=sql.Identifier(target.name), c=sql.Identifier(c))
                    for c in others
                ),
                new=sql.SQL(", ").join(
                    sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in others
                ),
            )
        self.upsert = sql.SQL(
            "INSERT INTO {t} AS {alias} ({c}) SELECT {c} FROM _dbm_stage "
            "ON CONFLICT ({pk}) {conflict}"
        ).format(
            t=self.tident,
            alias=sql.Identifier(target.name),
            c=ident,
            pk=sql.SQL(", ").join(map(sql.Identifier, pk_cols)),
            conflict=conflict,
        )
        # Set while a bulk load has the table's keys parked (see agents.constraints). Rows of an
        # appendable batch are new, so isolating refused ones needs no ON CONFLICT (nor a key).
        self.key_parked = False
        self._legacy_keys: pa.Array | None = None  # the batch being written: natural keys' text
        self._offset = 0  # ... and where the part being written starts in it
        self.insert = sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM _dbm_stage").format(
            t=self.tident, c=ident
        )
        self._plain = False
        self.copy_stage = sql.SQL("COPY _dbm_stage ({}) FROM STDIN WITH (FORMAT csv)").format(ident)
        self.copy_target = sql.SQL("COPY {} ({}) FROM STDIN").format(self.tident, ident)
        self.copy_mappings = sql.SQL("COPY {}.migration_mappings ({}) FROM STDIN").format(
            s, sql.SQL(", ").join(map(sql.Identifier, MAPPING_COLUMNS))
        )
        self.copy_natural_mappings = sql.SQL("COPY {}.migration_mappings ({}) FROM STDIN").format(
            s, sql.SQL(", ").join(map(sql.Identifier, (*MAPPING_COLUMNS, "legacy_key")))
        )
        # The append path sends binary COPY where every column's type has an exact encoder.
        self.target_types = pgbinary.column_types(conn, schema, target.name, self.cols)
        self.mapping_types = pgbinary.column_types(
            conn, self.bk, "migration_mappings", list(MAPPING_COLUMNS)
        )
        self.mappings_conn: Any = None  # set for bulk loads: mappings COPY on its own core
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbmigrate-mappings")
        self._pending: Future[None] | None = None
        # Legacy keys above this were never mapped: their rows can be appended, not upserted.
        self.append_after: int | None = None
        # COPY cannot write into a table under row-level security: INSERT ... SELECT from the
        # staging table can, and the policies then judge every row.
        rls = bool(
            scalar(
                conn.execute(
                    "SELECT relrowsecurity FROM pg_class WHERE oid = %s::regclass",
                    (regclass_text(schema, target.name),),
                )
            )
        )
        if any(r.kind == "uuid_key" for r in mapping.columns) and not rls:
            # Per key range when loading one: sibling ranges map other keys concurrently.
            lo, hi = key_range or (-(2**63), 2**63 - 1)
            self.append_after = int(
                scalar(
                    conn.execute(
                        sql.SQL(
                            "SELECT coalesce(max(legacy_id), %s - 1) FROM {}.migration_mappings "
                            "WHERE entity_type = %s AND legacy_id >= %s AND legacy_id < %s"
                        ).format(s),
                        (lo if key_range else 0, mapping.target, lo, hi),
                    )
                )
            )
        self.map_insert = sql.SQL(
            "INSERT INTO {s}.migration_mappings "
            "(entity_type, legacy_id, new_id, migration_batch, legacy_key) "
            "SELECT {e}, legacy_id, new_id, {b}, legacy_key FROM _dbm_map ON CONFLICT DO NOTHING"
        ).format(s=s, e=sql.Literal(mapping.target), b=sql.Literal(batch_tag))
        self.has_rejects = bool(
            scalar(
                conn.execute(
                    sql.SQL(
                        "SELECT EXISTS (SELECT 1 FROM {}.migration_rejects WHERE entity_type = %s)"
                    ).format(s),
                    (mapping.target,),
                )
            )
        )

    def appendable(self, res: BatchResult) -> bool:
        """Legacy keys beyond everything this entity ever mapped cannot conflict with the
        target: such a batch is COPYed straight in (a first load's or a resume's fast path)."""
        ids = res.legacy_ids
        return (
            self.append_after is not None
            and ids is not None
            and len(ids) > 0
            and int(ids.min()) > self.append_after
        )

    def prepare(self, res: BatchResult) -> "_Payload | None":
        """The append path's two COPY bodies, encoded one batch ahead in the reader thread, so
        this thread only streams bytes while the server works."""
        if not self.appendable(res) or res.legacy_ids is None:
            return None
        assert self.mapping.uuid_target
        table = pa.table({c: res.columns[c] for c in self.cols})
        raw = res.uuid_raw or {}
        ids = res.legacy_ids
        target = self._encode(table, self.target_types, raw)
        key_raw = raw.get(self.mapping.uuid_target)
        if key_raw is not None and self.mapping_types is not None and res.legacy_keys is None:
            body = pgbinary.encode_mappings(self.mapping.target, ids, key_raw, self.tag)
            return _Payload(target, (body, "binary"))
        n = len(ids)
        columns = {
            "entity_type": pgbinary.constant_text(self.mapping.target, n),
            "legacy_id": pa.array(ids, pa.int64()),
            "new_id": table.column(self.mapping.uuid_target),
            "migration_batch": pgbinary.constant_text(self.tag, n),
        }
        if res.legacy_keys is not None:  # a natural key: its readable form is recorded too
            columns["legacy_key"] = res.legacy_keys
            return _Payload(target, (pgcsv.write(pa.table(columns)), "csv"), natural=True)
        m = pa.table(columns)
        return _Payload(target, self._encode(m, self.mapping_types, None))

    def write(
        self, res: BatchResult, budget: int, payload: "_Payload | None" = None
    ) -> list[tuple[int, str]]:
        """Write accepted rows; returns (row index, database error) for rows the DB refused.

        Appendable batches are COPYed straight in; anything else, or a batch the fast path
        fails on, goes through the staged, bisecting upsert.
        """
        ids = res.legacy_ids
        new_keys = self.appendable(res)  # implies legacy ids
        if new_keys and ids is not None:
            payload = payload or self.prepare(res)
            assert payload is not None
            try:
                with self.conn.transaction():
                    self._append(payload, ids)
                return []
            except ROW_ERRORS as exc:
                log.info("bulk append refused (%s); isolating rows", str(exc).splitlines()[0])
                self.abort_mappings()  # fall through to the row-isolating path
        if self.key_parked and not new_keys:
            # Rows that may already be in the target need the key to upsert against: bring it
            # back now (a resume whose last target commit was lost lands here, once).
            _restore_keys(self.conn, self.schema, self.target_name, self.bk)
            self.key_parked = False
        table = pa.table({c: res.columns[c] for c in self.cols})
        refused: list[tuple[int, str]] = []
        self._plain = self.key_parked  # only new keys reach here while the key is parked
        self._legacy_keys = res.legacy_keys
        self._write_range(table, ids, 0, table.num_rows, refused, budget)
        return refused

    def _append(self, payload: "_Payload", ids: np.ndarray) -> None:
        side = self.mappings_conn
        if side is not None:
            # Second connection, second core: the mappings load beside the target rows. Its
            # transaction commits just before the target's (commit_mappings); if the target's
            # commit is then lost, the resumed run sees these ids as mapped and upserts them.
            side.execute("BEGIN")
            self._pending = self._pool.submit(
                self._send,
                side,
                self.copy_natural_mappings if payload.natural else self.copy_mappings,
                payload.mappings,
            )
        self._send(self.conn, self.copy_target, payload.target)
        if side is None:
            self._send(
                self.conn,
                self.copy_natural_mappings if payload.natural else self.copy_mappings,
                payload.mappings,
            )
        elif self._pending is not None:
            self._pending.result()
        if self.has_rejects:  # a row rejected by an earlier run that now made it
            self.conn.execute(
                sql.SQL(
                    "DELETE FROM {}.migration_rejects WHERE entity_type = %s "
                    "AND legacy_id = ANY(%s)"
                ).format(sql.Identifier(self.bk)),
                (self.mapping.target, [str(i) for i in ids.tolist()]),
            )

    @staticmethod
    def _encode(
        table: pa.Table,
        types: list[pgbinary.PgType] | None,
        uuid_raw: dict[str, np.ndarray] | None,
    ) -> tuple[bytes, str]:
        """Binary when every value encodes exactly, else CSV for the server to parse (and to
        name what is wrong with a value)."""
        payload = pgbinary.encode(table, types, uuid_raw) if types else None
        return (payload, "binary") if payload is not None else (pgcsv.write(table), "csv")

    @staticmethod
    def _send(conn: Any, statement: sql.Composable, body: tuple[bytes, str]) -> None:
        data, fmt = body
        with conn.cursor().copy(
            sql.SQL("{} WITH (FORMAT {})").format(statement, sql.SQL(fmt))
        ) as copy:
            copy.write(data)

    def commit_mappings(self) -> None:
        if self._pending is not None and self.mappings_conn is not None:
            self._pending.result()
            self.mappings_conn.execute("COMMIT")
        self._pending = None

    def abort_mappings(self) -> None:
        if self._pending is not None and self.mappings_conn is not None:
            try:
                self._pending.result()
            except Exception:  # the target side already failed; this is cleanup
                pass
            self.mappings_conn.execute("ROLLBACK")
        self._pending = None

    def _write_range(
        self,
        table: pa.Table,
        ids: np.ndarray | None,
        lo: int,
        hi: int,
        refused: list[tuple[int, str]],
        budget: int,
    ) -> None:
        """Bisect inside savepoints until the refused rows are isolated.

        The reject budget bounds the work: when more rows are refused than the table may reject
        at all, the failure is systematic (a constraint every row breaks) and the table fails
        with the database's message instead of isolating row after row.
        """
        if lo >= hi:
            return
        part = table.slice(lo, hi - lo)
        try:
            with self.conn.transaction():
                self._offset = lo
                self._write_part(part, ids[lo:hi] if ids is not None else None)
            return
        except ROW_ERRORS as exc:
            err: psycopg.Error = exc
        message = str(err).strip().splitlines()[0]
        if hi - lo == 1:
            refused.append((lo, message))
            if len(refused) > budget:
                raise ExecutionError(
                    f"{self.mapping.target}: the target database refused more rows than the "
                    f"reject threshold allows ({budget}); first refusal: {refused[0][1]}"
                )
            return
        mid = (lo + hi) // 2
        self._write_range(table, ids, lo, mid, refused, budget)
        self._write_range(table, ids, mid, hi, refused, budget)

    def _write_part(self, part: pa.Table, ids: np.ndarray | None) -> None:
        conn = self.conn
        conn.execute("TRUNCATE _dbm_stage, _dbm_map")
        with conn.cursor().copy(self.copy_stage) as copy:
            copy.write(pgcsv.write(part))
        conn.execute(self.insert if self._plain else self.upsert)
        if ids is not None and self.mapping.uuid_target:
            key_col = self.mapping.uuid_target
            n = len(ids)
            texts = self._legacy_keys
            m = pa.table(
                {
                    "legacy_id": pa.array(ids, pa.int64()),
                    "new_id": part.column(key_col),
                    "legacy_key": pa.nulls(n, pa.string())
                    if texts is None
                    else texts.slice(self._offset, n),
                }
            )
            with conn.cursor().copy(
                "COPY _dbm_map (legacy_id, new_id, legacy_key) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(pgcsv.write(m))
            conn.execute(self.map_insert)
            if texts is not None:
                self._refuse_collisions()
            if self.has_rejects:
                conn.execute(
                    sql.SQL(
                        "DELETE FROM {}.migration_rejects r USING _dbm_map m "
                        "WHERE r.entity_type = %s "
                        "AND r.legacy_id = m.legacy_id::text"
                    ).format(sql.Identifier(self.bk)),
                    (self.mapping.target,),
                )

    def _refuse_collisions(self) -> None:
        """Two natural keys with one 48-bit id (odds about n^2 / 2^49) would share a UUID and
        a row: never silently. The batch is undone and the run says which keys met."""
        clash = self.conn.execute(
            sql.SQL(
                "SELECT m.legacy_key, x.legacy_key FROM _dbm_map x "
                "JOIN {}.migration_mappings m ON m.entity_type = %s AND m.legacy_id = x.legacy_id "
                "WHERE m.legacy_key IS DISTINCT FROM x.legacy_key LIMIT 1"
            ).format(sql.Identifier(self.bk)),
            (self.mapping.target,),
        ).fetchone()
        if clash:
            raise ExecutionError(
                f"{self.mapping.target}: the legacy keys {clash[0]} and {clash[1]} hash to the "
                "same 48-bit id, so they would share one UUID; nothing of this batch was "
                "written. Map this table by another key (key_source), or report it: it is "
                "rare enough to be worth knowing about"
            )

    def reject(self, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        s = sql.Identifier(self.bk)
        payload = []
        key = self.mapping.integer_key or (keys.KEY_ID if self.mapping.key_columns else None)
        for rec in rows.to_dict("records"):
            why = str(rec.pop("__reason"))
            legacy = str(rec.get(key)) if key else json.dumps(rec, sort_keys=True, default=str)
            rec = {k: v for k, v in rec.items() if not str(k).startswith("__dbm_")}
            row = {
                k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
                for k, v in rec.items()
            }
            payload.append((self.mapping.target, legacy, json.dumps(row), why, self.tag))
        with self.conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.migration_rejects (entity_type, legacy_id, row_data, reason, "
                    "migration_batch) VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (entity_type, "
                    "legacy_id) DO UPDATE SET row_data = EXCLUDED.row_data, "
                    "reason = EXCLUDED.reason, "
                    "rejected_at = now(), migration_batch = EXCLUDED.migration_batch"
                ).format(s),
                payload,
            )
        self.has_rejects = True


@dataclass(frozen=True)
class _Payload:
    """A batch's append-path COPY bodies: (data, "binary" | "csv") for target and mappings."""

    target: tuple[bytes, str]
    mappings: tuple[bytes, str]
    natural: bool = False  # the mappings carry legacy_key (a natural key's readable form)


AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.migration_sandbox_audit (
  id BIGSERIAL PRIMARY KEY,
  table_name VARCHAR NOT NULL,
  migration_batch VARCHAR,
  code TEXT NOT NULL,
  code_sha256 CHAR(64) NOT NULL,
  backend VARCHAR NOT NULL,
  limits JSONB NOT NULL,
  seconds DOUBLE PRECISION NOT NULL,
  outcome VARCHAR NOT NULL,
  detail TEXT,
  rows_in BIGINT NOT NULL,
  rows_out BIGINT NOT NULL,
  executed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def sandbox_runner(conn: Any, schema: str, table: str, tag: str) -> CodeRunner:
    """Runs generated code in the sandbox and records every execution in the target."""
    from sandbox import SandboxError, run_transform

    bookkeeping.apply_once(conn, schema, AUDIT_DDL)
    insert = sql.SQL(
        "INSERT INTO {}.migration_sandbox_audit (table_name, migration_batch, code, code_sha256, "
        "backend, limits, seconds, outcome, detail, rows_in, rows_out) "
        "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)"
    ).format(sql.Identifier(schema))

    def record(a: Any) -> None:
        conn.execute(
            insert,
            (
                table,
                tag,
                a.code,
                a.sha256,
                a.backend,
                json.dumps(a.limits),
                a.seconds,
                a.outcome,
                a.detail,
                a.rows_in,
                a.rows_out,
            ),
        )

    def run(code: str, frame: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
        try:
            result = run_transform(code, frame, expect_columns=targets)
        except SandboxError as exc:
            if exc.audit is not None:
                record(exc.audit)
            raise ExecutionError(
                f"{table}: generated transform for {targets} failed in the "
                f"sandbox ({exc.kind}): {exc}"
            ) from None
        record(result.audit)
        return result.frame

    return run


def fk_resolver(
    conn: Any, schema: str, cache_limit: int = 2_000_000
) -> Callable[[str, np.ndarray], Mapping[int, str]]:
    """Parent UUIDs by legacy id, from ``migration_mappings``, remembered across batches.

    Parents are committed before their children load and a mapping never changes, so what one
    batch learned holds for the next: a 1M-row child of 10k parents asks for each parent once.
    """
    q = sql.SQL(
        "SELECT legacy_id, new_id::text FROM {}.migration_mappings WHERE entity_type = %s "
        "AND legacy_id = ANY(%s)"
    ).format(sql.Identifier(schema))
    known: dict[str, dict[int, str]] = {}

    def resolve(entity: str, ids: np.ndarray) -> Mapping[int, str]:
        if ids.size == 0:
            return {}
        cache = known.setdefault(entity, {})
        missing = [i for i in ids.tolist() if i not in cache]
        if missing:
            if len(cache) + len(missing) > cache_limit:
                cache.clear()  # bounded memory; only costs re-asking
                missing = ids.tolist()
            rows = conn.execute(q, (entity, missing)).fetchall()
            cache.update((int(a), str(b)) for a, b in rows)
        return {i: cache[i] for i in ids.tolist() if i in cache}

    return resolve


def kept_resolver(conn: Any, schema: str, cache_limit: int = 2_000_000) -> KeptResolver:
    """Which values of a kept key a parent table of the target holds, remembered across
    batches like :func:`fk_resolver` (parents are committed before their children load)."""
    held: dict[tuple[str, str], set[str]] = {}
    asked: dict[tuple[str, str], set[str]] = {}

    def resolve(table: str, column: str, values: list[str]) -> set[str]:
        have, seen = (
            held.setdefault((table, column), set()),
            asked.setdefault((table, column), set()),
        )
        missing = [v for v in values if v not in seen]
        if missing:
            if len(seen) + len(missing) > cache_limit:
                have.clear()  # bounded memory; only costs re-asking
                seen.clear()
                missing = list(values)
            rows = conn.execute(
                sql.SQL("SELECT {c}::text FROM {t} WHERE {c}::text = ANY(%s)").format(
                    c=sql.Identifier(column), t=qualified(schema, table)
                ),
                (missing,),
            ).fetchall()
            have.update(str(r[0]) for r in rows)
            seen.update(missing)
        return {v for v in values if v in have}

    return resolve


def migrate_table(
    source_dsn: str,
    target_dsn: str,
    mapping: TableMapping,
    source: TableInfo,
    target: TableInfo,
    settings: ExecutionSettings,
    *,
    key_range: tuple[int, int] | None = None,
    partition: str | None = None,
    run_code: CodeRunner | None = None,
    on_progress: ProgressCallback | None = None,
    changed_since_xmin: int | None = None,
    set_after: frozenset[str] = frozenset(),
) -> TableRun:
    """Migrate one (approved, effective) table mapping; idempotent and resumable.

    Deferred references are set at the end of the load, except those to ``set_after`` (the
    other side of a foreign-key cycle, loaded later): its validation step sets those."""
    check_mapping(mapping, source, target)
    started = time.monotonic()
    run_id = settings.run_id or uuid.uuid4().hex[:12]
    tag = f"{run_id}:{mapping.target}" + (f":{partition}" if partition else "")
    seed = entity_seed(settings.namespace, mapping.target)
    tschema = settings.target_schema
    bk = settings.bookkeeping_schema
    # The target runs in autocommit with explicit transaction blocks: one per batch, savepoints
    # inside it for bisection.
    with (
        connect(source_dsn, read_only=True) as sconn,
        connect(target_dsn, role=settings.target_role, autocommit=True) as tconn,
    ):
        sconn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        tconn.execute("SET TIME ZONE 'UTC'")
        bookkeeping.ensure_bookkeeping(tconn, bk, moved_from=tschema)
        total = count_source_rows(
            sconn, mapping, settings.source_schema, key_range, changed_since_xmin
        )
        cols, base = source_select(mapping, settings.source_schema, changed_since_xmin)
        all_cols = [c.name for c in source.columns]
        control_id, after, done = bookkeeping.start_control(
            tconn,
            bk,
            run_id=run_id,
            table=mapping.target,
            partition=partition,
            total=total,
            batch_size=settings.batch_size,
            source_query=base.as_string(sconn),
        )
        resumed_after = after
        reader = _Reader(
            sconn,
            mapping,
            settings.source_schema,
            cols,
            all_cols,
            key_range,
            changed_since_xmin,
            source=source,
        )
        reader.pager = pgpipe.pager_for(sconn, source_dsn)
        # A parent still parked (its key ranges loaded, its validation asset not yet run) gets
        # its key back first: this table's foreign key to it cannot be re-added without it.
        for parent in {r.fk_target for r in mapping.columns if r.kind == "fk" and r.fk_target}:
            if parent != target.name and constraints.is_parked(tconn, tschema, parent, bk=bk):
                _restore_keys(tconn, tschema, parent, bk)
        # A key range whose keys a coordinator parked (park_for_ranges) loads in bulk mode and
        # leaves them to it; anything else parked is a crashed load's: put it back.
        coordinated = key_range is not None and constraints.is_parked(
            tconn, tschema, target.name, bk=bk
        )
        if not coordinated:
            _restore_keys(tconn, tschema, target.name, bk)
        writer = _Writer(tconn, mapping, target, tschema, tag, key_range, bk=bk)
        # Reading and transforming run one batch ahead of writing, in their own thread, with
        # their own target connection for FK lookups (parents are committed before children).
        lconn = psycopg.connect(target_dsn, autocommit=True)
        resolve = fk_resolver(lconn, bk)
        kept = kept_resolver(lconn, tschema)
        # Bulk mode only for rows never mapped (a first load, a resume): a re-run's rows all
        # exist and must be upserted through the key. Key ranges of one table load in parallel
        # processes; parking is per table, so a range leaves the keys in place rather than race
        # its siblings over them.
        bulk = (
            writer.append_after is not None
            and key_range is None
            and total - done >= BULK_ROWS
            and (
                writer.append_after < 0  # nothing mapped yet: every row counted above is new
                or count_source_rows(
                    sconn,
                    mapping,
                    settings.source_schema,
                    (writer.append_after + 1, 2**63 - 1),
                    changed_since_xmin,
                )
                >= BULK_ROWS
            )
        )
        deferred = (
            constraints.park_for_bulk_load(tconn, tschema, target.name, bk=bk) if bulk else []
        )
        writer.key_parked = bool(deferred) or coordinated
        mconn = psycopg.connect(target_dsn, autocommit=True) if bulk or coordinated else None
        for conn in (tconn, mconn):
            if conn is not None:
                # Each batch commits data and progress together, so losing the last commits
                # in a server crash loses nothing a resume does not redo.
                conn.execute("SET synchronous_commit = off")
        writer.mappings_conn = mconn
        sizing = {"batch": settings.batch_size}
        if run_code is None and any(r.kind == "code" for r in mapping.columns):
            run_code = sandbox_runner(lconn, bk, mapping.target, tag)

        later = frozenset(r.target for r in references.deferred_rules(mapping))

        def transform(page: pa.Table) -> tuple[BatchResult, _Payload | None]:
            res = apply_mapping(
                page,
                mapping,
                target,
                seed=seed,
                resolve_fk=resolve,
                run_code=run_code,
                deferred=later,
                resolve_kept=kept,
            )
            return res, writer.prepare(res)

        pages = _prefetch(reader, after, sizing, bool(mapping.key_columns), transform)
        read = migrated = rejected = batches = 0
        nulled: dict[str, int] = {}
        try:
            for page, (res, payload) in pages:
                t0 = time.monotonic()
                last = None
                if mapping.key_columns:
                    last = last_key(page, mapping, reader.by_id)
                with tconn.transaction():
                    budget = max(1, int(settings.max_reject_ratio * total)) - rejected
                    refused = writer.write(res, budget, payload)
                    rejects = res.rejected
                    if refused:
                        rejects = pd.concat(
                            [rejects, _refused_rows(page, res, refused)], ignore_index=True
                        )
                    writer.reject(rejects)
                    n_rej = len(rejects)
                    bookkeeping.progress(
                        tconn,
                        bk,
                        control_id,
                        processed=page.num_rows - n_rej,
                        rejected=n_rej,
                        last_key=last,
                        batch_size=page.num_rows,
                    )
                    writer.commit_mappings()  # before the target commits: see _Writer
                read += page.num_rows
                rejected += n_rej
                for col, n in (res.nulled or {}).items():
                    nulled[col] = nulled.get(col, 0) + n
                migrated += page.num_rows - n_rej
                batches += 1
                if on_progress:
                    on_progress(done + read, total)
                sizing["batch"] = _adapt(sizing["batch"], time.monotonic() - t0)
            if not coordinated:
                writer.key_parked = False
                _restore_keys(tconn, tschema, target.name, bk)
            now = {r.fk_target or "" for r in references.deferred_rules(mapping)} - set_after
            if key_range is None and now:
                # Self-references and parents loaded before: every parent is in now, whatever
                # the row order.
                done_refs = references.complete_references(
                    source_dsn,
                    target_dsn,
                    mapping,
                    target,
                    (settings.source_schema, tschema),
                    bk=bk,
                    role=settings.target_role,
                    run_tag=tag,
                    parents=now,
                )
                migrated -= done_refs.rejected
                rejected += done_refs.rejected
                for col, n in done_refs.emptied.items():
                    nulled[col] = nulled.get(col, 0) + n
            ratio = rejected / read if read else 0.0
            if ratio > settings.max_reject_ratio:
                msg = (
                    f"{rejected} of {read} rows ({ratio:.1%}) were rejected, above the "
                    f"threshold of {settings.max_reject_ratio:.1%}; see migration_rejects "
                    f"for the reasons, fix the mapping or the data, and re-run"
                )
                bookkeeping.finish_control(tconn, bk, control_id, status="failed", error=msg)
                raise ExecutionError(f"{mapping.target}: {msg}")
            notes = bookkeeping.emptied_note(nulled)
            bookkeeping.finish_control(
                tconn, bk, control_id, status="completed", notes=notes or None
            )
        except Exception as exc:  # the first outcome recorded wins (finish_control is once-only)
            pages.close()
            writer.abort_mappings()
            if deferred:
                constraints.restore_parked(tconn, tschema, target.name, bk=bk)
            bookkeeping.finish_control(tconn, bk, control_id, status="failed", error=str(exc)[:500])
            raise
        finally:
            lconn.close()
            if mconn is not None:
                mconn.close()
        sconn.rollback()
    return TableRun(
        target=mapping.target,
        rows_read=read,
        rows_migrated=migrated,
        rows_rejected=rejected,
        batches=batches,
        seconds=round(time.monotonic() - started, 3),
        resumed_after=resumed_after,
    )


def park_for_ranges(
    source_dsn: str,
    target_dsn: str,
    mapping: TableMapping,
    target: TableInfo,
    settings: ExecutionSettings,
) -> bool:
    """Before a partitioned table's key ranges load in parallel: park its keys once for all of
    them (they would race each other doing it one by one). Only for a first load (the entity
    has no mapped rows yet) of at least ``BULK_ROWS``; the caller restores with
    :func:`finish_ranges` after the last range. Returns whether anything was parked.
    """
    tschema = settings.target_schema
    bk = settings.bookkeeping_schema
    with (
        connect(source_dsn, read_only=True) as sconn,
        connect(target_dsn, role=settings.target_role, autocommit=True) as tconn,
    ):
        bookkeeping.ensure_bookkeeping(tconn, bk, moved_from=tschema)
        _restore_keys(tconn, tschema, target.name, bk)  # what a crashed load left parked
        mapped = scalar(
            tconn.execute(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM {}.migration_mappings WHERE entity_type = %s)"
                ).format(sql.Identifier(bk)),
                (mapping.target,),
            )
        )
        if mapped or count_source_rows(sconn, mapping, settings.source_schema) < BULK_ROWS:
            return False
        parked = constraints.park_for_bulk_load(tconn, tschema, target.name, bk=bk)
        log.info("%s: parked for its key ranges: %s", target.name, ", ".join(parked) or "none")
        return bool(parked)


def finish_ranges(target_dsn: str, target: TableInfo, settings: ExecutionSettings) -> None:
    """After a partitioned table's ranges: rebuild what :func:`park_for_ranges` parked."""
    with connect(target_dsn, role=settings.target_role, autocommit=True) as tconn:
        _restore_keys(tconn, settings.target_schema, target.name, settings.bookkeeping_schema)


def _restore_keys(conn: Any, schema: str, table: str, bk: str | None = None) -> None:
    """Rebuild what a bulk load of ``table`` parked; a key that will not rebuild fails the
    table with the database's reason (and stays recorded for the next run)."""
    problems = constraints.restore_parked(conn, schema, table, bk=bk)
    if problems:
        raise ExecutionError(f"{table}: " + "; ".join(problems))


def last_key(page: pa.Table, mapping: TableMapping, by_id: bool = False) -> "Cursor":
    """The keyset cursor after a page: its last (highest) legacy key; for a natural key, the
    text of its columns (compared as a row by the next page's query), or its id when the key
    pages by id (a nullable key column)."""
    if by_id:
        return int(pd.to_numeric(page.column(keys.KEY_ID)[-1].as_py()))
    if mapping.integer_key is not None:
        return int(pd.to_numeric(page.column(mapping.integer_key)[-1].as_py()))
    return [str(page.column(c)[-1].as_py()) for c in mapping.key_columns]


def _prefetch(
    reader: "_Reader",
    after: Cursor,
    sizing: dict[str, int],
    keyed: bool,
    transform: Callable[[pa.Table], T],
) -> Generator[tuple[pa.Table, T], None, None]:
    """Read, transform and encode the next page while the current one is written (bounded:
    2 ahead). A third stage (reading apart from transforming) was slower on two cores: 3.6 s
    instead of 2.9 s for 1M rows, everything contending.

    The source connection is used by this thread only; COPY parsing and Arrow kernels release
    the GIL, so this work overlaps with the target's on the other core.
    """
    pages: queue.Queue[tuple[pa.Table, T] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        cursor = after
        try:
            while not stop.is_set():
                size = sizing["batch"]
                page = reader.page(cursor, size)
                if page.num_rows == 0:
                    break
                pages.put((page, transform(page)))
                if not keyed or page.num_rows < size:
                    break
                cursor = last_key(page, reader.mapping, reader.by_id)
        except BaseException as exc:  # handed to the consumer, raised there
            pages.put(exc)
        finally:
            pages.put(None)

    thread = threading.Thread(target=produce, name="dbmigrate-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = pages.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                pages.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)


def apply_deletes(
    source_dsn: str,
    target_dsn: str,
    mapping: TableMapping,
    target: TableInfo,
    settings: ExecutionSettings,
) -> int:
    """Delete target rows whose legacy row is gone (``delete_policy: delete``).

    Their ``migration_mappings`` rows stay, so a legacy id that comes back gets its old UUID.
    """
    if not mapping.key_columns or not mapping.uuid_target:
        return 0
    with connect(source_dsn, read_only=True) as sconn:
        alive = np.array(
            [
                r[0]
                for r in sconn.execute(
                    sql.SQL("SELECT {k} FROM {t} WHERE {f}").format(
                        k=key_id_expr(mapping),
                        t=sql.SQL("{} AS {}").format(
                            source_relation(mapping, settings.source_schema),
                            sql.Identifier(keys.OUTER),
                        ),
                        f=filter_sql(mapping.filters),
                    )
                ).fetchall()
            ],
            dtype=np.int64,
        )
        sconn.rollback()
    s = sql.Identifier(settings.bookkeeping_schema)
    with connect(target_dsn, role=settings.target_role, autocommit=True) as tconn:
        mapped = tconn.execute(
            sql.SQL(
                "SELECT m.legacy_id, m.new_id FROM {s}.migration_mappings m JOIN {t} x "
                "ON x.{k} = m.new_id WHERE m.entity_type = %s"
            ).format(
                s=s,
                t=qualified(settings.target_schema, target.name),
                k=sql.Identifier(mapping.uuid_target),
            ),
            (mapping.target,),
        ).fetchall()
        if not mapped:
            return 0
        ids = np.array([r[0] for r in mapped], dtype=np.int64)
        gone = ~np.isin(ids, alive)
        doomed = [mapped[i][1] for i in np.flatnonzero(gone)]
        if doomed:
            tconn.execute(
                sql.SQL("DELETE FROM {t} WHERE {k} = ANY(%s)").format(
                    t=qualified(settings.target_schema, target.name),
                    k=sql.Identifier(mapping.uuid_target),
                ),
                (doomed,),
            )
    return len(doomed)


def _refused_rows(page: pa.Table, res: BatchResult, refused: list[tuple[int, str]]) -> pd.DataFrame:
    """Source rows of accepted-but-refused rows (indices are into the accepted subset)."""
    positions = np.flatnonzero(res.accepted)
    frame = page.take(pa.array([int(positions[i]) for i, _ in refused])).to_pandas().astype(object)
    frame["__reason"] = [f"refused by the target database: {msg}" for _, msg in refused]
    return frame


def _adapt(batch_size: int, seconds: float) -> int:
    """Aim each batch at ~1 s: big enough to amortise round trips, small enough to resume."""
    if seconds <= 0:
        return batch_size
    scaled = int(batch_size * min(2.0, max(0.5, TARGET_BATCH_SECONDS / seconds)))
    return max(MIN_BATCH, min(MAX_BATCH, scaled))
