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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa_
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from agents.db import connect, qualified, scalar
from agents.execution import ExecutionSettings, _Reader, count_source_rows, source_select
from agents.identity import entity_seed
from agents.models import CheckOutcome, ColumnInfo, TableInfo, TableMapping
from agents.transform import CodeRunner, apply_mapping

CHUNK_ROWS = 200_000
SAMPLE_ROWS = 1_000
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SHAPES = {
    "uuid": UUID_RE,
    "integer": r"^-?\d+$",
    "numeric": r"^-?\d+(\.\d+)?$",
    "boolean": r"^[tf]$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
}

CHECK_NAMES = ("schema", "reconciliation", "foreign_keys", "sample_values")


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
            unique=col.name == mapping.key_target,
            coerce=False,
        )
    return pa_.DataFrameSchema(columns, strict=False, name=target.name)


def _column_checks(col: ColumnInfo) -> list[pa_.Check]:
    if col.data_type == "enum" and col.enum_labels:
        return [pa_.Check.isin(col.enum_labels)]
    shape = SHAPES.get(col.data_type)
    return [pa_.Check.str_matches(shape)] if shape else []


def _read_target(conn: Any, schema: str, table: str, cols: list[str]) -> pd.DataFrame:
    buf = io.BytesIO()
    q = sql.SQL("COPY (SELECT {c} FROM {t}) TO STDOUT WITH (FORMAT csv)").format(
        c=sql.SQL(", ").join(map(sql.Identifier, cols)), t=qualified(schema, table)
    )
    with conn.cursor() as cur, cur.copy(q) as copy:
        for chunk in copy:
            buf.write(chunk)
    if buf.tell() == 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    buf.seek(0)
    tbl = pacsv.read_csv(
        buf,
        read_options=pacsv.ReadOptions(column_names=cols),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in cols},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )
    return tbl.to_pandas().astype(object).where(lambda d: d.notna(), None)


def check_schema(
    target_dsn: str, settings: ExecutionSettings, mapping: TableMapping, target: TableInfo
) -> CheckOutcome:
    schema = pandera_schema(target, mapping)
    cols = [r.target for r in mapping.columns]
    with connect(target_dsn, read_only=True) as conn:
        frame = _read_target(conn, settings.target_schema, target.name, cols)
    try:
        schema.validate(frame, lazy=True)
    except pa_.errors.SchemaErrors as exc:
        failures = exc.failure_cases
        sample = failures.head(5)[["column", "check", "failure_case"]].to_dict("records")
        return CheckOutcome(
            name="schema",
            passed=False,
            detail=f"{len(failures)} failing values in {len(frame)} rows; first: {sample}",
        )
    return CheckOutcome(
        name="schema",
        passed=True,
        detail=f"{len(frame)} rows match the target schema ({len(cols)} columns)",
    )


def counts(
    source_dsn: str, target_dsn: str, settings: ExecutionSettings, mapping: TableMapping
) -> Counts:
    with connect(source_dsn, read_only=True) as sconn:
        rows_source = count_source_rows(sconn, mapping, settings.source_schema)
    s = sql.Identifier(settings.target_schema)
    with connect(target_dsn, read_only=True) as tconn:
        if mapping.key_target and any(r.kind == "uuid_key" for r in mapping.columns):
            migrated = scalar(
                tconn.execute(
                    sql.SQL(
                        "SELECT count(*) FROM {t} x JOIN {s}.migration_mappings m "
                        "ON m.entity_type = %s "
                        "AND m.new_id = x.{k}"
                    ).format(
                        t=qualified(settings.target_schema, mapping.target),
                        s=s,
                        k=sql.Identifier(mapping.key_target),
                    ),
                    (mapping.target,),
                )
            )
        else:
            migrated = scalar(
                tconn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(
                        qualified(settings.target_schema, mapping.target)
                    )
                )
            )
        rejected = scalar(
            tconn.execute(
                sql.SQL("SELECT count(*) FROM {}.migration_rejects WHERE entity_type = %s").format(
                    s
                ),
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
    problems = []
    checked = 0
    with connect(target_dsn, read_only=True) as conn:
        for rule in mapping.columns:
            if rule.kind != "fk" or not rule.fk_target:
                continue
            parent = all_targets[rule.fk_target]
            pk = parent.primary_key[0]
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
    return CheckOutcome(
        name="foreign_keys",
        passed=True,
        detail=f"{checked} foreign key(s) resolve to existing parent rows"
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
    if not mapping.key_target:
        return CheckOutcome(name="sample_values", passed=True, detail="no key to sample by")
    cols, _ = source_select(mapping, settings.source_schema)
    tschema = settings.target_schema
    with connect(source_dsn, read_only=True) as sconn, connect(target_dsn) as tconn:
        reader = _Reader(
            sconn, mapping, settings.source_schema, cols, [c.name for c in source.columns], None
        )
        page = reader.page(None, sample_rows)
        resolve_q = sql.SQL(
            "SELECT legacy_id, new_id::text FROM {}.migration_mappings WHERE "
            "entity_type = %s AND legacy_id = ANY(%s)"
        ).format(sql.Identifier(tschema))

        def resolve(entity: str, ids: np.ndarray) -> dict[int, str]:
            rows = tconn.execute(resolve_q, (entity, ids.tolist())).fetchall()
            return {int(a): str(b) for a, b in rows}

        res = apply_mapping(
            page,
            mapping,
            target,
            seed=entity_seed(settings.namespace, mapping.target),
            resolve_fk=resolve,
            run_code=run_code,
        )
        names = [r.target for r in mapping.columns]
        expected = pa.table({n: res.columns[n] for n in names})
        if res.legacy_ids is not None:
            # Rows the target refused are in the rejects table, not expected in the target.
            refused = {
                int(i)
                for (i,) in tconn.execute(
                    sql.SQL(
                        "SELECT legacy_id FROM {}.migration_rejects WHERE entity_type = %s"
                    ).format(sql.Identifier(tschema)),
                    (mapping.target,),
                ).fetchall()
                if str(i).isdigit()
            }
            if refused:
                keep = ~np.isin(res.legacy_ids, list(refused))
                expected = expected.filter(pa.array(keep))
        ident = sql.SQL(", ").join(map(sql.Identifier, names))
        tconn.execute(
            sql.SQL("CREATE TEMP TABLE _dbm_expect AS SELECT {c} FROM {t} WITH NO DATA").format(
                c=ident, t=qualified(tschema, target.name)
            )
        )
        buf = io.BytesIO()
        pacsv.write_csv(expected, buf, pacsv.WriteOptions(include_header=False))
        with tconn.cursor().copy(
            sql.SQL("COPY _dbm_expect ({}) FROM STDIN WITH (FORMAT csv)").format(ident)
        ) as copy:
            copy.write(buf.getvalue())
        differ = scalar(
            tconn.execute(
                sql.SQL(
                    "SELECT count(*) FROM "
                    "(SELECT {c} FROM _dbm_expect EXCEPT SELECT {c} FROM {t}) d"
                ).format(c=ident, t=qualified(tschema, target.name))
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
        check_schema(target_dsn, settings, mapping, target),
        check_reconciliation(c),
        check_foreign_keys(target_dsn, settings, mapping, target, all_targets),
        check_sample_values(
            source_dsn, target_dsn, settings, mapping, source, target, run_code=run_code
        ),
    ]
