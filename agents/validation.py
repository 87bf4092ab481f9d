"""Validation role: evidence that the target holds what the legacy rows said, nothing less or more.

Checks per target table:
- ``schema``: a Pandera schema derived from the target table *and* the mapping (UUID shape, enum
  labels, required columns, unique key, type shapes) run lazily over every row, in chunks;
- ``reconciliation``: legacy rows selected by the mapping = migrated + rejected, exactly;
- ``foreign_keys``: every UUID foreign key finds its parent row;
- ``sample_values``: a sample of legacy rows transformed again and compared with the stored rows,
  compared *in PostgreSQL* so that type normalisation cannot hide or invent a difference.
"""

import io
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa_
import pyarrow as pa
from psycopg import sql

from agents import bookkeeping, pgcsv
from agents.db import connect, project_name, qualified, scalar, split_name
from agents.execution import (
    Cursor,
    ExecutionSettings,
    _Reader,
    count_source_rows,
    filter_sql,
    fk_resolver,
    kept_resolver,
    key_bounds,
    last_key,
    reader_for,
    sandbox_runner,
)
from agents.identity import entity_seed
from agents.models import CheckOutcome, ColumnInfo, TableInfo, TableMapping
from agents.reconciliation import reconcile
from agents.transform import CodeRunner, apply_mapping

CHUNK_ROWS = 200_000
SCHEMA_SAMPLE_ROWS = 100_000
SAMPLE_ROWS = 1_000
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SHAPES = {
    "uuid": UUID_RE,
    "integer": r"^-?\d+$",
    "numeric": r"^-?\d+(\.\d+)?$",
    "boolean": r"^[tf]$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
}

CHECK_NAMES = ("schema", "reconciliation", "foreign_keys", "sample_values", "checksums")


@dataclass(frozen=True)
class Counts:
    rows_source: int
    rows_migrated: int
    rows_rejected: int


def pandera_schema(target: TableInfo, mapping: TableMapping) -> pa_.DataFrameSchema:
    """What every stored row must look like, derived from the DDL plus the mapping's promises."""
    columns = {}
    for rule in mapping.columns:
        col = target.column(rule.target)
        checks = _column_checks(col)
        if rule.kind == "enum" and rule.value_map:
            # Only labels the mapping can produce may appear.
            produced = {v for v in rule.value_map.values() if v is not None}
            if produced:
                checks.append(pa_.Check.isin(sorted(produced)))
        columns[col.name] = pa_.Column(
            object,
            checks=checks,
            nullable=col.nullable,
            unique=col.name == mapping.uuid_target,
            coerce=False,
        )
    return pa_.DataFrameSchema(columns, strict=False, name=target.name)


def _column_checks(col: ColumnInfo) -> list[pa_.Check]:
    if col.data_type == "enum" and col.enum_labels:
        return [pa_.Check.isin(col.enum_labels)]
    shape = SHAPES.get(col.data_type)
    return [pa_.Check.str_matches(shape)] if shape else []


def _read_target(
    conn: Any, schema: str, table: str, cols: list[str], *, sample_pct: float | None = None
) -> pd.DataFrame:
    buf = io.BytesIO()
    sample = (
        # SYSTEM samples whole pages: it reads ~pct of the table where BERNOULLI reads all of
        # it (1.3 s at 10M rows here). Rows of a page are neighbours, which is fine for shape
        # checks; every row is compared by the checksums check anyway.
        sql.SQL(" TABLESAMPLE SYSTEM ({})").format(sql.Literal(sample_pct))
        if sample_pct
        else sql.SQL("")
    )
    q = sql.SQL("COPY (SELECT {c} FROM {t}{s}) TO STDOUT WITH (FORMAT csv)").format(
        c=sql.SQL(", ").join(map(sql.Identifier, cols)), t=qualified(schema, table), s=sample
    )
    with conn.cursor() as cur, cur.copy(q) as copy:
        for chunk in copy:
            buf.write(chunk)
    if buf.tell() == 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    tbl = pgcsv.read(buf.getvalue(), cols)
    return tbl.to_pandas().astype(object).where(lambda d: d.notna(), None)


def check_schema(
    target_dsn: str,
    settings: ExecutionSettings,
    mapping: TableMapping,
    target: TableInfo,
    total: int | None = None,
) -> CheckOutcome:
    """Pandera over every row of small tables, over a random sample of large ones.

    On a large table PostgreSQL's own types and constraints already hold for every row (UUID
    shape, enum labels, NOT NULL, the key's uniqueness); what Pandera adds on top (the labels
    the mapping may produce, text shapes) is checked on a page sample, and every row is
    still compared by the ``checksums`` check.
    """
    schema = pandera_schema(target, mapping)
    cols = [r.target for r in mapping.columns]
    with connect(target_dsn, read_only=True) as conn:
        if total is None:  # validate_table passes the count it already has
            total = int(
                scalar(
                    conn.execute(
                        sql.SQL("SELECT count(*) FROM {}").format(
                            qualified(settings.target_schema, target.name)
                        )
                    )
                )
            )
        pct = 100.0 * SCHEMA_SAMPLE_ROWS / total if total > SCHEMA_SAMPLE_ROWS else None
        frame = _read_target(conn, settings.target_schema, target.name, cols, sample_pct=pct)
    scope = (
        f"{len(frame)} rows"
        if pct is None
        else (f"a random sample of {len(frame)} of {total} rows")
    )
    try:
        schema.validate(frame, lazy=True)
    except pa_.errors.SchemaErrors as exc:
        failures = exc.failure_cases
        sample = failures.head(5)[["column", "check", "failure_case"]].to_dict("records")
        return CheckOutcome(
            name="schema",
            passed=False,
            detail=f"{len(failures)} failing values in {scope}; first: {sample}",
        )
    return CheckOutcome(
        name="schema",
        passed=True,
        detail=f"{scope} match the target schema ({len(cols)} columns)",
    )


def counts(
    source_dsn: str, target_dsn: str, settings: ExecutionSettings, mapping: TableMapping
) -> Counts:
    with connect(source_dsn, read_only=True) as sconn:
        rows_source = count_source_rows(sconn, mapping, settings.source_schema)
    s = sql.Identifier(settings.bookkeeping_schema)
    with connect(target_dsn, read_only=True) as tconn:
        # Every row of the target counts: rows that did not come from this legacy table (or
        # whose legacy row was deleted since) then show up as a reconciliation gap. A plain
        # count is also what stays cheap at 10M rows (a join with the mappings took seconds).
        migrated = scalar(
            tconn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(
                    qualified(settings.target_schema, mapping.target)
                )
            )
        )
        kept = scalar(
            tconn.execute(
                "SELECT to_regclass(%s)",
                (f'"{settings.bookkeeping_schema}".migration_rejects',),
            )
        )
        rejected = 0  # a run that failed before its first write has rejected nothing yet
        if kept is not None:
            rejected = scalar(
                tconn.execute(
                    sql.SQL(
                        "SELECT count(*) FROM {}.migration_rejects WHERE entity_type = %s"
                    ).format(s),
                    (mapping.target,),
                )
            )
    return Counts(int(rows_source), int(migrated), int(rejected))


def check_reconciliation(c: Counts) -> CheckOutcome:
    gap = c.rows_source - c.rows_migrated - c.rows_rejected
    head = f"{c.rows_source} legacy rows, {c.rows_migrated} migrated + {c.rows_rejected} rejected"
    if gap == 0:
        return CheckOutcome(
            name="reconciliation",
            passed=True,
            detail=f"{c.rows_source} legacy rows = {c.rows_migrated} migrated + "
            f"{c.rows_rejected} rejected",
        )
    why = (
        f"{gap} legacy row(s) are neither migrated nor rejected"
        if gap > 0
        else f"{-gap} row(s) more than the legacy table has (deleted legacy rows or duplicates)"
    )
    return CheckOutcome(name="reconciliation", passed=False, detail=f"{head}: {why}")


def check_foreign_keys(
    target_dsn: str,
    settings: ExecutionSettings,
    mapping: TableMapping,
    target: TableInfo,
    all_targets: dict[str, TableInfo],
) -> CheckOutcome:
    """Every FK value has its parent row.

    Where a validated FK constraint covers the column, PostgreSQL itself guarantees that for
    every row (the engine re-adds parked keys and ``VALIDATE``s them), so the check reads the
    catalog instead of scanning: 0.66 s saved at 10M rows. Otherwise it counts orphans.
    """
    problems = []
    checked = 0
    enforced: list[str] = []
    with connect(target_dsn, read_only=True) as conn:
        constraints_in_force = {
            (
                str(col),
                project_name(str(pschema), str(parent), settings.target_schema),
                str(ref),
            ): str(name)
            for name, col, pschema, parent, ref in conn.execute(
                "SELECT c.conname, a.attname, rn.nspname, r.relname, ra.attname "
                "FROM pg_constraint c "
                "JOIN pg_class t ON t.oid = c.conrelid "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "JOIN pg_class r ON r.oid = c.confrelid "
                "JOIN pg_namespace rn ON rn.oid = r.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
                "JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1] "
                "WHERE c.contype = 'f' AND c.convalidated AND cardinality(c.conkey) = 1 "
                "AND n.nspname = %s AND t.relname = %s",
                split_name(target.name, settings.target_schema),
            ).fetchall()
        }
        for rule in mapping.columns:
            if rule.kind != "fk" or not rule.fk_target:
                continue
            parent = all_targets[rule.fk_target]
            pk = parent.primary_key[0]
            name = constraints_in_force.get((rule.target, parent.name, pk))
            if name:
                checked += 1
                enforced.append(name)
                continue
            missing = scalar(
                conn.execute(
                    sql.SQL(
                        "SELECT count(*) FROM {c} x WHERE x.{col} IS NOT NULL AND NOT EXISTS "
                        "(SELECT 1 FROM {p} y WHERE y.{pk} = x.{col})"
                    ).format(
                        c=qualified(settings.target_schema, target.name),
                        col=sql.Identifier(rule.target),
                        p=qualified(settings.target_schema, parent.name),
                        pk=sql.Identifier(pk),
                    )
                )
            )
            checked += 1
            if missing:
                problems.append(
                    f"{missing} rows of {target.name}.{rule.target} have no {parent.name} parent"
                )
    if problems:
        return CheckOutcome(name="foreign_keys", passed=False, detail="; ".join(problems))
    by_db = f" ({', '.join(enforced)} validated by PostgreSQL)" if enforced else ""
    return CheckOutcome(
        name="foreign_keys",
        passed=True,
        detail=f"{checked} foreign key(s) resolve to existing parent rows{by_db}"
        if checked
        else "no foreign keys to check",
    )


def check_sample_values(
    source_dsn: str,
    target_dsn: str,
    settings: ExecutionSettings,
    mapping: TableMapping,
    source: TableInfo,
    target: TableInfo,
    *,
    run_code: CodeRunner | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> CheckOutcome:
    """Re-derive a sample of rows from the legacy data and compare them with what is stored."""
    if not mapping.target_key_columns:
        return CheckOutcome(name="sample_values", passed=True, detail="no key to sample by")
    tschema = settings.target_schema
    bk = settings.bookkeeping_schema
    if run_code is None and any(r.kind == "code" for r in mapping.columns):
        # Re-running generated code is an execution like any other: sandboxed and audited (on
        # its own connection, since the comparison below is rolled back).
        with connect(target_dsn, autocommit=True) as audit_conn:
            runner = sandbox_runner(audit_conn, bk, mapping.target, f"{settings.run_id}:validation")
            return check_sample_values(
                source_dsn,
                target_dsn,
                settings,
                mapping,
                source,
                target,
                run_code=runner,
                sample_rows=sample_rows,
            )
    with connect(source_dsn, read_only=True) as sconn, connect(target_dsn) as tconn:
        reader = reader_for(sconn, mapping, settings.source_schema, source)
        page = _spread_sample(sconn, reader, mapping, settings, sample_rows)
        res = apply_mapping(
            page,
            mapping,
            target,
            seed=entity_seed(settings.namespace, mapping.target),
            resolve_fk=fk_resolver(tconn, bk),
            resolve_kept=kept_resolver(tconn, tschema),
            run_code=run_code,
        )
        names = [r.target for r in mapping.columns]
        expected = pa.table({n: res.columns[n] for n in names})
        if res.legacy_ids is not None:
            # Rows the target refused are in the rejects table, not expected in the target.
            refused = bookkeeping.rejected_ids(tconn, bk, mapping.target)
            if refused:
                keep = ~np.isin(res.legacy_ids, list(refused))
                expected = expected.filter(pa.array(keep))
        ident = sql.SQL(", ").join(map(sql.Identifier, names))
        tconn.execute(
            sql.SQL("CREATE TEMP TABLE _dbm_expect AS SELECT {c} FROM {t} WITH NO DATA").format(
                c=ident, t=qualified(tschema, target.name)
            )
        )
        with tconn.cursor().copy(
            sql.SQL("COPY _dbm_expect ({}) FROM STDIN WITH (FORMAT csv)").format(ident)
        ) as copy:
            copy.write(pgcsv.write(expected))
        differ = scalar(
            tconn.execute(
                sql.SQL(
                    "SELECT count(*) FROM (SELECT {c} FROM _dbm_expect EXCEPT "
                    "SELECT {c} FROM {t} WHERE {k} IN (SELECT {kk} FROM _dbm_expect)) d"
                ).format(
                    c=ident,
                    t=qualified(tschema, target.name),
                    k=sql.SQL("({})").format(
                        sql.SQL(", ").join(map(sql.Identifier, mapping.target_key_columns))
                    ),
                    kk=sql.SQL(", ").join(map(sql.Identifier, mapping.target_key_columns)),
                )
            )
        )
        tconn.rollback()
    compared = expected.num_rows
    if differ:
        return CheckOutcome(
            name="sample_values",
            passed=False,
            detail=f"{differ} of {compared} sampled rows differ from the legacy "
            "values after mapping",
        )
    return CheckOutcome(
        name="sample_values",
        passed=True,
        detail=f"{compared}/{compared} sampled rows match their legacy values",
    )


def _spread_sample(
    conn: Any, reader: _Reader, mapping: TableMapping, settings: ExecutionSettings, rows: int
) -> pa.Table:
    """Ten keyset slices starting at random points of the key range (seeded by the run, so a
    re-check looks at the same rows), not just the first rows, which early batches loaded."""
    if not mapping.key_columns:
        return reader.page(None, rows)
    bounds = key_bounds(conn, mapping, settings.source_schema)
    if bounds is None or bounds[1] - bounds[0] < rows:
        return reader.page(None, rows)
    lo, hi = bounds
    rng = np.random.default_rng(zlib.crc32((settings.run_id or "").encode()))
    starts = sorted(int(x) for x in rng.integers(lo - 1, hi, size=10))
    slices = [reader.page(start, max(1, rows // 10)) for start in starts]
    return pa.concat_tables(slices).combine_chunks()


def validate_table(
    source_dsn: str,
    target_dsn: str,
    settings: ExecutionSettings,
    mapping: TableMapping,
    source: TableInfo,
    target: TableInfo,
    all_targets: dict[str, TableInfo],
    *,
    run_code: CodeRunner | None = None,
) -> tuple[Counts, list[CheckOutcome]]:
    c = counts(source_dsn, target_dsn, settings, mapping)
    return c, [
        check_schema(target_dsn, settings, mapping, target, c.rows_migrated),
        check_reconciliation(c),
        check_foreign_keys(target_dsn, settings, mapping, target, all_targets),
        check_sample_values(
            source_dsn, target_dsn, settings, mapping, source, target, run_code=run_code
        ),
        check_checksums(source_dsn, target_dsn, settings, mapping, source, target),
    ]


# --------------------------------------------------------------------------- checksums
BUCKETS = 64
NULL = "\x00N"


def _target_expr(col: ColumnInfo) -> sql.Composable:
    """The target column in a canonical text form that the Python side can reproduce."""
    c = sql.Identifier(col.name)
    if col.data_type == "boolean":
        return sql.SQL("CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END").format(c=c)
    if col.data_type == "numeric":
        return sql.SQL("trim_scale({})::text").format(c)
    if col.data_type in ("timestamp", "timestamptz"):
        return sql.SQL("((extract(epoch FROM {}) * 1000000)::bigint)::text").format(c)
    return sql.SQL("{}::text").format(c)


def _canonical(arr: pa.Array, col: ColumnInfo) -> pa.Array:
    """What PostgreSQL's canonical expression (above) prints, from the text we loaded."""
    import pyarrow.compute as pc

    if col.data_type == "boolean":
        lowered = pc.utf8_lower(arr)
        return pc.if_else(
            pc.is_in(lowered, pa.array(["t", "true"])),
            "true",
            pc.if_else(pc.is_in(lowered, pa.array(["f", "false"])), "false", lowered),
        )
    if col.data_type == "numeric":
        trimmed = pc.replace_substring_regex(arr, r"^(-?\d+)\.0*$", r"\1")
        trimmed = pc.replace_substring_regex(trimmed, r"^(-?\d+\.\d*?)0+$", r"\1")
        return pc.replace_substring_regex(trimmed, r"^-0$", "0")
    if col.data_type in ("timestamp", "timestamptz"):
        naive = pc.replace_substring_regex(arr, r"(\+00(:00)?|Z)$", "")
        micros = pc.cast(pc.cast(naive, pa.timestamp("us")), pa.int64())
        return pc.cast(micros, pa.string())
    return arr


def _digest(columns: list[pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    """Per-row 64-bit hashes of the joined canonical values, and their bucket."""
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(
        *columns, "\x1f", null_handling="replace", null_replacement=NULL
    )
    # Not categorized: pandas' factorizer compares C strings, so every row starting with the
    # NULL marker's NUL byte would be one category, hashed as whichever came first.
    hashes = pd.util.hash_array(
        np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object), categorize=False
    )
    return hashes.astype(np.uint64), (hashes % BUCKETS).astype(np.int64)


def _accumulate(
    acc: np.ndarray, counts: np.ndarray, hashes: np.ndarray, buckets: np.ndarray
) -> None:
    with np.errstate(over="ignore"):
        np.add.at(acc, buckets, hashes)
    np.add.at(counts, buckets, 1)


def _row_checksums(
    source_dsn: str,
    target_dsn: str,
    settings: ExecutionSettings,
    mapping: TableMapping,
    source: TableInfo,
    target: TableInfo,
    only: list[str],
    *,
    page_rows: int = 250_000,
) -> tuple[int, int, int]:
    """Row by row, for columns without an SQL twin: (differing buckets, legacy rows, target rows).

    The legacy rows are mapped again and both sides are put in a canonical text form (booleans
    spelled out, numerics without trailing zeros, timestamps as epoch microseconds), hashed per
    row and summed per bucket: order-free, streamed in bounded memory.
    """
    import threading

    declarative = mapping.model_copy(
        update={"columns": [r for r in mapping.columns if r.kind != "code"]}
    )
    cols = [r.target for r in declarative.columns if r.target in only]
    infos = [target.column(c) for c in cols]
    tgt_acc = np.zeros(BUCKETS, dtype=np.uint64)
    tgt_cnt = np.zeros(BUCKETS, dtype=np.int64)
    errors: list[BaseException] = []

    def read_target() -> None:
        try:
            q = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT WITH (FORMAT csv)").format(
                sql.SQL(", ").join(_target_expr(c) for c in infos),
                qualified(settings.target_schema, target.name),
            )
            with (
                connect(target_dsn, read_only=True) as conn,
                conn.cursor() as cur,
                cur.copy(q) as copy,
            ):
                buf = io.BytesIO()
                for chunk in copy:
                    buf.write(chunk)
                    if buf.tell() > 64 * 1024 * 1024:
                        _consume(buf)
                _consume(buf)
        except BaseException as exc:
            errors.append(exc)

    def _consume(buf: io.BytesIO) -> None:
        data = buf.getvalue()
        cut = data.rfind(b"\n") + 1
        if cut <= 0:
            return
        head, tail = data[:cut], data[cut:]
        buf.seek(0)
        buf.truncate()
        buf.write(tail)
        # Canonical target values never contain newlines or quotes except in text columns,
        # which PostgreSQL quotes; the CSV reader handles them.
        tbl = pgcsv.read(head, cols)
        h, b = _digest([tbl.column(c).combine_chunks() for c in cols])
        _accumulate(tgt_acc, tgt_cnt, h, b)

    reader_thread = threading.Thread(target=read_target, name="dbmigrate-checksum-target")
    reader_thread.start()
    src_acc = np.zeros(BUCKETS, dtype=np.uint64)
    src_cnt = np.zeros(BUCKETS, dtype=np.int64)
    with connect(source_dsn, read_only=True) as sconn, connect(target_dsn, read_only=True) as tc:
        rejected = bookkeeping.rejected_ids(tc, settings.bookkeeping_schema, mapping.target)
        resolve = fk_resolver(tc, settings.bookkeeping_schema)
        kept = kept_resolver(tc, settings.target_schema)
        reader = reader_for(sconn, mapping, settings.source_schema, source)
        seed = entity_seed(settings.namespace, mapping.target)
        after: Cursor = None
        total = 0
        while True:
            page = reader.page(after, page_rows)
            if page.num_rows == 0:
                break
            res = apply_mapping(
                page, declarative, target, seed=seed, resolve_fk=resolve, resolve_kept=kept
            )
            keep = None
            if rejected and res.legacy_ids is not None:
                keep = pa.array(~np.isin(res.legacy_ids, rejected))
            canon = []
            for c, info in zip(cols, infos, strict=True):
                arr = res.columns[c]
                if keep is not None:
                    arr = arr.filter(keep)
                canon.append(_canonical(arr, info))
            if canon and len(canon[0]):
                h, b = _digest(canon)
                _accumulate(src_acc, src_cnt, h, b)
            total += page.num_rows
            if not mapping.key_columns or page.num_rows < page_rows:
                break
            after = last_key(page, mapping, reader.by_id)
        sconn.rollback()
    reader_thread.join()
    if errors:
        raise errors[0]
    differ = int(np.count_nonzero((src_acc != tgt_acc) | (src_cnt != tgt_cnt)))
    return differ, int(src_cnt.sum()), int(tgt_cnt.sum())


def check_checksums(
    source_dsn: str,
    target_dsn: str,
    settings: ExecutionSettings,
    mapping: TableMapping,
    source: TableInfo,
    target: TableInfo,
) -> CheckOutcome:
    """Every row, both sides, by count and checksum per column (see :mod:`agents.reconciliation`).

    Columns with an SQL twin are aggregated inside both databases in parallel; columns parsed
    from text are compared row by row in Python; generated-code columns are left to
    ``sample_values`` (re-running code on every row would double the sandbox's work).
    """
    import time

    started = time.monotonic()
    with connect(target_dsn, read_only=True) as conn:
        rejected = bookkeeping.rejected_ids(conn, settings.bookkeeping_schema, mapping.target)
    declarative = [r for r in mapping.columns if r.kind != "code"]
    in_sql = reconcile(
        source_dsn,
        target_dsn,
        settings.source_schema,
        settings.target_schema,
        mapping,
        source,
        target,
        filter_sql(mapping.filters),
        rejected,
    )
    rowwise = [r.target for r in declarative if r.target not in in_sql.columns]
    problems = [f"{c} differs" for c in in_sql.differing]
    if rowwise:
        buckets, src_rows, tgt_rows = _row_checksums(
            source_dsn, target_dsn, settings, mapping, source, target, rowwise
        )
        if buckets:
            problems.append(
                f"{buckets} of {BUCKETS} row-checksum buckets differ over "
                f"{', '.join(rowwise)} ({src_rows} legacy vs {tgt_rows} target rows)"
            )
    seconds = max(time.monotonic() - started, 1e-9)
    rate = f"{in_sql.rows / seconds:,.0f} rows/s"
    how = f"{len(in_sql.columns)} in SQL" + (f", {len(rowwise)} row by row" if rowwise else "")
    if problems:
        return CheckOutcome(
            name="checksums", passed=False, detail=f"{'; '.join(problems)} ({how}; {rate})"
        )
    return CheckOutcome(
        name="checksums",
        passed=True,
        detail=f"{in_sql.rows} rows x {len(declarative)} columns match by count and checksum, "
        f"every row compared ({how}; {rate})",
    )
