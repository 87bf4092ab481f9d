"""Schema analysis role: what is in a database, and what its data looks like.

Structure comes from SQLAlchemy's inspector (portable, well-tested reflection); the data profile
comes from a bounded sample so that analysing a 100M-row table costs about as much as a 100k one.
Foreign keys the legacy system never declared are inferred later, from values, by
:mod:`agents.key_inference`.
"""

from typing import Any

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql as pg

from agents.db import connect, qualified, scalar, sqlalchemy_url
from agents.errors import SchemaAnalysisError
from agents.models import ColumnInfo, ColumnProfile, DatabaseSchema, ForeignKeyInfo, TableInfo

PROFILE_SAMPLE_ROWS = 20_000
TOP_VALUES = 25
BOOKKEEPING_TABLES = frozenset(
    {
        "migration_control",
        "migration_deferred_constraints",
        "migration_mappings",
        "migration_rejects",
        "migration_sandbox_audit",
        "migration_validation",
    }
)


def type_family(sa_type: Any) -> str:
    """Collapse SQLAlchemy's reflected types into the families the mapping rules reason about."""
    if isinstance(sa_type, pg.ENUM | sa.Enum):
        return "enum"
    if isinstance(sa_type, sa.Uuid | pg.UUID):
        return "uuid"
    if isinstance(sa_type, sa.Boolean):
        return "boolean"
    if isinstance(sa_type, sa.SmallInteger | sa.BigInteger | sa.Integer):
        return "integer"
    if isinstance(sa_type, sa.Numeric) and not isinstance(sa_type, sa.Float):
        return "numeric"
    if isinstance(sa_type, sa.Float):
        return "float"
    if isinstance(sa_type, sa.DateTime):
        return "timestamptz" if getattr(sa_type, "timezone", False) else "timestamp"
    if isinstance(sa_type, sa.Date):
        return "date"
    if isinstance(sa_type, sa.Time):
        return "time"
    if isinstance(sa_type, sa.JSON | pg.JSONB):
        return "json"
    if isinstance(sa_type, sa.LargeBinary):
        return "bytea"
    if isinstance(sa_type, sa.String):
        return "text"
    return "other"


def introspect(dsn: str, *, schema: str = "public", profile: bool = True) -> DatabaseSchema:
    """Read tables, columns, keys and (optionally) a value profile of every table in ``schema``."""
    engine = sa.create_engine(sqlalchemy_url(dsn), poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        names = sorted(
            n for n in insp.get_table_names(schema=schema) if n not in BOOKKEEPING_TABLES
        )
        tables = []
        for name in names:
            columns = []
            for col in insp.get_columns(name, schema=schema):
                typ = col["type"]
                family = type_family(typ)
                columns.append(
                    ColumnInfo(
                        name=col["name"],
                        data_type=family,
                        udt_name=getattr(typ, "name", None) or str(typ).lower(),
                        nullable=bool(col["nullable"]),
                        has_default=col.get("default") is not None or bool(col.get("identity")),
                        enum_labels=list(getattr(typ, "enums", [])) if family == "enum" else None,
                        max_length=getattr(typ, "length", None),
                    )
                )
            pk = insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or []
            fks = [
                ForeignKeyInfo(
                    columns=fk["constrained_columns"],
                    ref_table=fk["referred_table"],
                    ref_columns=fk["referred_columns"],
                    declared=True,
                )
                for fk in insp.get_foreign_keys(name, schema=schema)
            ]
            uniques: list[list[str]] = [
                [str(c) for c in u["column_names"]]
                for u in insp.get_unique_constraints(name, schema=schema)
            ]
            uniques += [
                [str(c) for c in i["column_names"]]
                for i in insp.get_indexes(name, schema=schema)
                if i.get("unique") and all(c for c in i["column_names"])
            ]
            tables.append(
                TableInfo(
                    name=name,
                    columns=columns,
                    primary_key=list(pk),
                    foreign_keys=fks,
                    unique=[list(u) for u in uniques],
                )
            )
    except sa.exc.OperationalError:
        raise SchemaAnalysisError(
            "cannot read the schema: the database did not answer; check the DSN and the server"
        ) from None
    finally:
        engine.dispose()
    result = DatabaseSchema(schema_name=schema, tables=tables)
    if profile:
        result = profile_schema(dsn, result)
    return result


def profile_schema(dsn: str, schema: DatabaseSchema) -> DatabaseSchema:
    """Attach exact row counts and sampled value profiles to each table."""
    with connect(dsn, read_only=True) as conn:
        out = [_profile_table(conn, schema.schema_name, table) for table in schema.tables]
        conn.rollback()
    return schema.model_copy(update={"tables": out})


def _profile_table(conn: Any, schema: str, table: TableInfo) -> TableInfo:
    ident = qualified(schema, table.name)
    row_count = scalar(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)))
    if row_count > PROFILE_SAMPLE_ROWS * 5:
        pct = min(100.0, 100.0 * PROFILE_SAMPLE_ROWS * 2 / row_count)
        source = sql.SQL("(SELECT * FROM {} TABLESAMPLE SYSTEM ({})) s").format(
            ident, sql.Literal(pct)
        )
    else:
        source = sql.SQL("{} s").format(ident)
    profiles: dict[str, ColumnProfile] = {}
    for col in table.columns:
        if col.data_type in ("json", "bytea", "other"):
            continue
        c = sql.Identifier(col.name)
        stats = conn.execute(
            sql.SQL(
                "SELECT count(*), count(*) - count({c}), count(DISTINCT {c}), min({c})::text, "
                "max({c})::text FROM {src}"
            ).format(c=c, src=source)
        ).fetchone()
        top = conn.execute(
            sql.SQL(
                "SELECT {c}::text, count(*) FROM {src} WHERE {c} IS NOT NULL GROUP BY 1 "
                "ORDER BY 2 DESC, 1 LIMIT {n}"
            ).format(c=c, src=source, n=sql.Literal(TOP_VALUES))
        ).fetchall()
        profiles[col.name] = ColumnProfile(
            name=col.name,
            rows_sampled=stats[0],
            null_count=stats[1],
            distinct_count=stats[2],
            min_value=stats[3],
            max_value=stats[4],
            top_values=[(str(v), int(n)) for v, n in top],
        )
    return table.model_copy(update={"row_count": int(row_count), "profiles": profiles})


def distinct_values(
    dsn: str, schema: str, table: str, column: str, *, limit: int = 1000
) -> list[tuple[str, int]]:
    """Every distinct value of a column with its count (enum mapping needs all, not a sample)."""
    with connect(dsn, read_only=True) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT {c}::text, count(*) FROM {t} WHERE {c} IS NOT NULL "
                "GROUP BY 1 ORDER BY 2 DESC, 1 "
                "LIMIT {n}"
            ).format(c=sql.Identifier(column), t=qualified(schema, table), n=sql.Literal(limit))
        ).fetchall()
    return [(str(v), int(n)) for v, n in rows]
