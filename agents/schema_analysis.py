"""Schema analysis role: what is in a database, and what its data looks like.

Structure comes from SQLAlchemy's inspector (portable, well-tested reflection); the data profile
comes from a bounded sample so that analysing a 100M-row table costs about as much as a 100k one.
Foreign keys the legacy system never declared are inferred later, from values, by
:mod:`agents.key_inference`.
"""

import re
from typing import Any

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql as pg

from agents.bookkeeping import BOOKKEEPING
from agents.db import connect, project_name, qualified, redact, scalar, sqlalchemy_url
from agents.errors import SchemaAnalysisError
from agents.models import ColumnInfo, ColumnProfile, DatabaseSchema, ForeignKeyInfo, TableInfo

PROFILE_SAMPLE_ROWS = 20_000
TOP_VALUES = 25
BOOKKEEPING_TABLES = frozenset(BOOKKEEPING)


# Schemas that hold no user data: PostgreSQL's own, and those Supabase manages for its services
# (https://supabase.com/docs/guides/database/overview: auth, storage, realtime, ...). A target
# table there is never a migration target unless the owner names the schema explicitly.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
MANAGED_SCHEMAS = frozenset(
    {
        "auth",
        "storage",
        "realtime",
        "_realtime",
        "graphql",
        "graphql_public",
        "extensions",
        "pgsodium",
        "pgsodium_masks",
        "vault",
        "supabase_functions",
        "supabase_migrations",
        "net",
        "pgbouncer",
        "cron",
        "_analytics",
        "pgmq",
        "dbmigrate",
    }
)


def type_family(sa_type: Any) -> str:
    """Collapse SQLAlchemy's reflected types into the families the mapping rules reason about.

    A domain is its base type's family (its name is kept in ``ColumnInfo.domain``): a column
    declared ``tid`` matches a same-named ``varchar`` column of the redesign.
    """
    if isinstance(sa_type, pg.DOMAIN):
        return type_family(sa_type.data_type)
    if isinstance(sa_type, pg.MONEY):
        return "money"
    if isinstance(sa_type, pg.INTERVAL):
        return "interval"
    if isinstance(sa_type, pg.ARRAY):
        return "array"
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


def _user_tables(conn: Any, schemas: list[str] | None, managed: bool) -> list[tuple[str, str]]:
    """(schema, table) of every ordinary or partitioned table (not a partition: its rows are
    read through its parent; not a view) in ``schemas``, or in every user schema."""
    rows = conn.execute(
        sql.SQL(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND left(n.nspname, 3) <> 'pg_' ORDER BY 1, 2"
        )
    ).fetchall()
    out = []
    for schema, table in rows:
        if table in BOOKKEEPING_TABLES or schema in SYSTEM_SCHEMAS:
            continue
        if schemas is not None:
            if schema not in schemas:
                continue
        elif schema in MANAGED_SCHEMAS and not managed:
            continue
        out.append((str(schema), str(table)))
    return out


def _all_sql_types(conn: Any) -> dict[tuple[str, str], dict[str, str]]:
    """Every user column's type as PostgreSQL prints it, a domain by its base type, by
    (schema, table): one catalog query for the whole database."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, a.attname, "
        "format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, "
        "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') "
        "AND left(n.nspname, 3) <> 'pg_' AND n.nspname <> 'information_schema'"
    ).fetchall()
    out: dict[tuple[str, str], dict[str, str]] = {}
    for s, t, c, f in rows:
        out.setdefault((str(s), str(t)), {})[str(c)] = str(f)
    return out


def _all_foreign_keys(
    conn: Any,
) -> dict[tuple[str, str], list[tuple[list[str], str, str, list[str]]]]:
    """Every foreign key, by (schema, table): (columns, referenced schema, referenced table,
    referenced columns), from the catalog. SQLAlchemy's reflection names the referencing
    table's schema for a referenced table that is on the search path (``hr.employees ->
    people`` read as ``hr.people``); the catalog's ``confrelid`` says where it is."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, "
        "array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(num, i) "
        "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.i), "
        "rn.nspname, rc.relname, "
        "array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(num, i) "
        "JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.i) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
        "WHERE k.contype = 'f' ORDER BY n.nspname, c.relname, k.conname"
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[list[str], str, str, list[str]]]] = {}
    for schema, table, cols, ref_schema, ref_table, ref_cols in rows:
        out.setdefault((str(schema), str(table)), []).append(
            ([str(c) for c in cols], str(ref_schema), str(ref_table), [str(c) for c in ref_cols])
        )
    return out


_ANY_ARRAY = re.compile(
    r"^CHECK \(+\(?(?P<col>\"(?:[^\"]|\"\")+\"|\w+)\)?(?:::[\w ]+)? = "
    r"(?:ANY \(\(?ARRAY\[(?P<items>.*)\]\)?(?:::[\w ]+\[\])?\)|(?P<one>'(?:[^']|'')*'::[\w ]+))\)+$"
)
_LITERAL = re.compile(r"'((?:[^']|'')*)'::[\w ]+")


def _closed_labels(conn: Any) -> dict[tuple[str, str, str], list[str]]:
    """Text columns whose CHECK lists the values they may hold (``status IN ('open',
    'closed')``, which PostgreSQL keeps as ``status = ANY (ARRAY[...])``): closed labels, an
    enum in all but its type, as Supabase schemas often write them. By (schema, table,
    column), read from ``pg_get_constraintdef``'s canonical form."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, a.attname, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1] "
        "WHERE k.contype = 'c' AND cardinality(k.conkey) = 1 "
        "AND left(n.nspname, 3) <> 'pg_' AND n.nspname <> 'information_schema'"
    ).fetchall()
    out: dict[tuple[str, str, str], list[str]] = {}
    for schema, table, column, definition in rows:
        m = _ANY_ARRAY.match(str(definition))
        if m is None or m["col"].strip('"').replace('""', '"') != column:
            continue
        items = m["items"] if m["items"] is not None else m["one"]
        labels = [x.replace("''", "'") for x in _LITERAL.findall(items)]
        if labels:
            out[(str(schema), str(table), str(column))] = labels
    return out


def _column_info(col: Any) -> ColumnInfo:
    typ = col["type"]
    family = type_family(typ)
    base = typ.data_type if isinstance(typ, pg.DOMAIN) else typ
    return ColumnInfo(
        name=col["name"],
        data_type=family,
        udt_name=getattr(base, "name", None) or str(base).lower(),
        nullable=bool(col["nullable"]),
        has_default=col.get("default") is not None or bool(col.get("identity")),
        enum_labels=list(getattr(base, "enums", [])) if family == "enum" else None,
        max_length=getattr(base, "length", None),
        numeric_scale=getattr(base, "scale", None) if family == "numeric" else None,
        numeric_precision=getattr(base, "precision", None) if family == "numeric" else None,
        domain=str(typ.name) if isinstance(typ, pg.DOMAIN) else None,
    )


def introspect(
    dsn: str,
    *,
    schema: str = "public",
    schemas: list[str] | None = None,
    profile: bool = True,
    managed: bool = False,
    closed_labels: bool = False,
) -> DatabaseSchema:
    """Read tables, columns, keys and (optionally) a value profile of every table.

    ``schemas`` limits the reading to those schemas; by default every user schema is read
    (PostgreSQL's and Supabase's own excepted unless ``managed``). Tables outside the default
    ``schema`` are named ``schema.table`` (see :func:`agents.db.split_name`).

    With ``closed_labels`` (the target), a text column whose CHECK lists its values is read
    as closed labels (:func:`_closed_labels`): the values written there must be those. On the
    legacy side such a CHECK only restates what the profile reads from the values, and the
    column is read as the text it holds.
    """
    engine = sa.create_engine(sqlalchemy_url(dsn), poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        with engine.connect() as sa_conn:
            raw = sa_conn.connection.driver_connection
            assert raw is not None
            found = _user_tables(raw, schemas, managed)
            raw_types = _all_sql_types(raw)
            closed = _closed_labels(raw) if closed_labels else {}
            references = _all_foreign_keys(raw)
        tables = []
        for s, name in found:

            def pname(table: str, in_schema: str | None = None, _s: str = s) -> str:
                return project_name(in_schema or _s, table, schema)

            types = raw_types.get((s, name), {})
            columns = [
                _column_info(col).model_copy(update={"sql_type": types.get(col["name"])})
                for col in insp.get_columns(name, schema=s)
            ]
            columns = [
                c.model_copy(update={"data_type": "enum", "enum_labels": closed[(s, name, c.name)]})
                if c.data_type == "text" and (s, name, c.name) in closed
                else c
                for c in columns
            ]
            pk = insp.get_pk_constraint(name, schema=s).get("constrained_columns") or []
            fks = [
                ForeignKeyInfo(
                    columns=cols,
                    ref_table=pname(ref, ref_schema),
                    ref_columns=ref_cols,
                    declared=True,
                )
                for cols, ref_schema, ref, ref_cols in references.get((s, name), [])
            ]
            uniques: list[list[str]] = [
                [str(c) for c in u["column_names"]]
                for u in insp.get_unique_constraints(name, schema=s)
            ]
            uniques += [
                [str(c) for c in i["column_names"]]
                for i in insp.get_indexes(name, schema=s)
                if i.get("unique") and all(c for c in i["column_names"])
            ]
            tables.append(
                TableInfo(
                    name=pname(name),
                    columns=columns,
                    primary_key=list(pk),
                    foreign_keys=fks,
                    unique=[list(u) for u in uniques],
                )
            )
    except sa.exc.OperationalError as exc:
        first = redact(str(exc.orig or exc)).strip().splitlines()[0]
        raise SchemaAnalysisError(
            f"cannot read the schema: the server said: {first}; check the DSN and the server"
        ) from None
    finally:
        engine.dispose()
    tables.sort(key=lambda t: t.name)
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
        if col.data_type in ("json", "bytea", "other", "array"):
            continue
        # Booleans have no min/max in PostgreSQL; every other family profiled here orders.
        ordered = col.data_type != "boolean"
        c = sql.Identifier(col.name)
        lo_hi = (
            sql.SQL("min({c})::text, max({c})::text").format(c=c)
            if ordered
            else sql.SQL("NULL, NULL")
        )
        stats = conn.execute(
            sql.SQL(
                "SELECT count(*), count(*) - count({c}), count(DISTINCT {c}), {lo_hi} FROM {src}"
            ).format(c=c, src=source, lo_hi=lo_hi)
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
