"""Foreign keys the legacy system never declared, inferred from names and values.

A column is a candidate when its name points at another table (``cust_id`` -> ``customers``) and
its type matches that table's single-column key; a set of columns is one when they are named like
the parts of another table's composite key, of their types. Values decide: the share of distinct
values (tuples) found in the referenced key (containment). Orphans do not veto a key (legacy data
has them; they become rejects with a reason), but they lower the confidence.
"""

from typing import Any

from psycopg import sql

from agents.db import connect, qualified, split_name
from agents.models import DatabaseSchema, ForeignKeyInfo, TableInfo
from agents.naming import canonical_words, name_similarity

MIN_CONTAINMENT = 0.8


def _name_evidence(column: str, table: str, ref: TableInfo) -> float:
    words = [w for w in canonical_words(column) if w not in ("id", "key", "fk", "ref")]
    if not words:
        return 0.0
    stem = " ".join(words)
    best = name_similarity(stem, ref.name, is_table=True)
    if ref.primary_key:
        best = max(
            best, 0.0 if ref.primary_key[0] == "id" else name_similarity(column, ref.primary_key[0])
        )
    return best


def infer_primary_keys(dsn: str, schema: DatabaseSchema) -> DatabaseSchema:
    """A key for tables that never declared one: a unique, non-null integer column named like one.

    Checked over every row (not a sample): a key that is unique "mostly" is not a key.
    """
    updated = []
    with connect(dsn, read_only=True) as conn:
        for table in schema.tables:
            if table.primary_key:
                updated.append(table)
                continue
            candidates = sorted(
                (c for c in table.columns if c.data_type == "integer"),
                key=lambda c: (not _looks_like_key(c.name, table.name), c.name),
            )
            found = None
            for col in candidates:
                if not _looks_like_key(col.name, table.name):
                    break
                total, distinct, nulls = conn.execute(
                    sql.SQL(
                        "SELECT count(*), count(DISTINCT {c}), count(*) - count({c}) FROM {t}"
                    ).format(
                        c=sql.Identifier(col.name), t=qualified(schema.schema_name, table.name)
                    )
                ).fetchone() or (0, 0, 0)
                if total and distinct == total and nulls == 0:
                    found = col.name
                    break
            if found:
                updated.append(
                    table.model_copy(update={"primary_key": [found], "key_inferred": True})
                )
                continue
            combo = None if table.unique else _unique_column_set(conn, schema.schema_name, table)
            updated.append(
                table.model_copy(update={"primary_key": combo, "key_inferred": True})
                if combo
                else table
            )
        conn.rollback()
    return schema.model_copy(update={"tables": updated})


KEY_FAMILIES = frozenset({"integer", "text", "date", "timestamp", "timestamptz", "uuid", "numeric"})


def _unique_column_set(
    conn: Any, schema: str, table: TableInfo, *, width: int = 4, lead: int = 6
) -> list[str] | None:
    """The smallest set of never-NULL columns whose values are unique over every row.

    Legacy tables without a declared key still have one in the data, and designers put key
    columns first: the search tries sets of 1..``width`` columns among the first ``lead``
    never-NULL ones, smallest and leftmost first, each checked over every row (a set that is
    unique "mostly" is not a key). Floats, JSON and binary never identify a row.
    """
    from itertools import combinations

    if table.row_count == 0:
        return None
    cols = [
        c.name
        for c in table.columns
        if c.data_type in KEY_FAMILIES
        and (p := table.profiles.get(c.name)) is not None
        and p.null_count == 0
    ][:lead]
    ident = qualified(schema, table.name)
    for size in range(1, width + 1):
        for combo in sorted(combinations(range(len(cols)), size), key=lambda c: (sum(c), c)):
            names = [cols[i] for i in combo]
            distinct = conn.execute(
                sql.SQL("SELECT count(*) FROM (SELECT DISTINCT {c} FROM {t}) d").format(
                    c=sql.SQL(", ").join(map(sql.Identifier, names)), t=ident
                )
            ).fetchone()
            nulls = conn.execute(
                sql.SQL("SELECT count(*) FROM {t} WHERE {cond}").format(
                    t=ident,
                    cond=sql.SQL(" OR ").join(
                        sql.SQL("{} IS NULL").format(sql.Identifier(n)) for n in names
                    ),
                )
            ).fetchone()
            if distinct and nulls and distinct[0] == table.row_count and nulls[0] == 0:
                return names
    return None


def _looks_like_key(column: str, table: str) -> bool:
    words = canonical_words(column)
    own = canonical_words(table, is_table=True)
    return column.lower() == "id" or (
        bool(words)
        and words[-1] in ("id", "number", "key")
        and (len(words) == 1 or set(words[:-1]) <= set(own) or len(words) == 2)
    )


def infer_foreign_keys(dsn: str, schema: DatabaseSchema) -> DatabaseSchema:
    """Add inferred (``declared=False``) keys to every table of ``schema``."""
    keyed = {t.name: t for t in schema.tables if len(t.primary_key) == 1}
    updated = []
    with connect(dsn, read_only=True) as conn:
        for table in schema.tables:
            declared = {tuple(fk.columns) for fk in table.foreign_keys}
            found = list(table.foreign_keys)
            for col in table.columns:
                # A table's own single key is no reference; the parts of a composite key
                # usually are (playlist_track, a season's salaries by team and player).
                if (col.name,) in declared or table.primary_key == [col.name]:
                    continue
                if col.data_type not in ("integer", "text", "uuid"):
                    continue
                best: tuple[float, float, TableInfo] | None = None
                for ref in keyed.values():
                    if ref.name == table.name and not col.name.startswith(("parent", "manager")):
                        continue
                    ref_col = ref.column(ref.primary_key[0])
                    if ref_col.data_type != col.data_type:
                        continue
                    evidence = _name_evidence(col.name, table.name, ref)
                    if evidence < 0.75:
                        continue
                    containment = _containment(
                        conn, schema.schema_name, table.name, [col.name], ref.name, [ref_col.name]
                    )
                    if containment is None or containment < MIN_CONTAINMENT:
                        continue
                    score = 0.5 * evidence + 0.5 * containment
                    if best is None or score > best[0]:
                        best = (score, containment, ref)
                if best:
                    score, containment, ref = best
                    found.append(
                        ForeignKeyInfo(
                            columns=[col.name],
                            ref_table=ref.name,
                            ref_columns=list(ref.primary_key),
                            declared=False,
                            confidence=round(min(score, 0.95), 3),
                            rationale=(
                                f"name points at {ref.name}; {containment:.1%} of distinct "
                                f"values exist in {ref.name}.{ref.primary_key[0]}"
                            ),
                        )
                    )
            found += _composite_references(conn, schema, table, {tuple(f.columns) for f in found})
            updated.append(table.model_copy(update={"foreign_keys": found}))
        conn.rollback()
    return schema.model_copy(update={"tables": updated})


def _composite_references(
    conn: Any, schema: DatabaseSchema, table: TableInfo, known: set[tuple[str, ...]]
) -> list[ForeignKeyInfo]:
    """References to a composite key (``(yearID, teamID)`` -> Teams): ``table`` holds a column
    named like each part of the other table's key, of its type, and the value tuples are found
    there. A composite natural key is spelled the same wherever it is copied, so the names
    must agree nearly exactly; the values then decide, as for a single column."""
    out = []
    for ref in schema.tables:
        if ref.name == table.name or len(ref.primary_key) < 2:
            continue
        cols: list[str] = []
        for part in ref.primary_key:
            ref_col = ref.column(part)
            match = max(
                (
                    (name_similarity(c.name, part), c.name)
                    for c in table.columns
                    if c.data_type == ref_col.data_type and c.name not in cols
                ),
                default=(0.0, ""),
            )
            if match[0] < 0.9:
                break
            cols.append(match[1])
        if len(cols) != len(ref.primary_key) or tuple(cols) in known:
            continue
        if sorted(cols) == sorted(table.primary_key) and len(table.primary_key) == len(cols):
            continue  # the same key on both sides: one to one, an extension at most
        containment = _containment(
            conn, schema.schema_name, table.name, cols, ref.name, ref.primary_key
        )
        if containment is None or containment < MIN_CONTAINMENT:
            continue
        out.append(
            ForeignKeyInfo(
                columns=cols,
                ref_table=ref.name,
                ref_columns=list(ref.primary_key),
                declared=False,
                confidence=round(min(0.5 + 0.5 * containment, 0.95), 3),
                rationale=(
                    f"columns {', '.join(cols)} are named like {ref.name}'s key; "
                    f"{containment:.1%} of their distinct values exist there"
                ),
            )
        )
    return out


def _containment(
    conn: Any, schema: str, table: str, cols: list[str], ref: str, ref_cols: list[str]
) -> float | None:
    """Share of ``table``'s distinct non-NULL values (tuples) of ``cols`` found in ``ref``'s
    ``ref_cols``: the evidence that they reference it."""
    pairs = list(zip(cols, ref_cols, strict=True))
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {r} r WHERE {on})) "
            "FROM (SELECT DISTINCT {c} FROM {t} WHERE {nn}) d"
        ).format(
            r=qualified(schema, ref),
            on=sql.SQL(" AND ").join(
                sql.SQL("r.{} = d.{}").format(sql.Identifier(rc), sql.Identifier(c))
                for c, rc in pairs
            ),
            c=sql.SQL(", ").join(map(sql.Identifier, cols)),
            t=qualified(schema, table),
            nn=sql.SQL(" AND ").join(
                sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in cols
            ),
        )
    ).fetchone()
    total, hit = row
    if not total:
        return None
    return float(hit) / float(total)


def count_dangling(dsn: str, schema: DatabaseSchema) -> DatabaseSchema:
    """Count, per reference, the legacy rows whose parent row does not exist.

    A validated constraint has none by construction. One declared ``NOT VALID``, one an engine
    never enforced (SQLite's, carried over), and every inferred one may: the mapping agent then
    asks whether those links are written empty or their rows rejected, instead of the target's
    constraint refusing them one by one at run time."""
    updated = []
    with connect(dsn, read_only=True) as conn:
        validated = {
            (str(nsp), str(rel), tuple(cols))
            for nsp, rel, cols in conn.execute(
                "SELECT n.nspname, r.relname, array_agg(a.attname::text ORDER BY k.i) "
                "FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
                "JOIN pg_namespace n ON n.oid = r.relnamespace "
                "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, i) "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
                "WHERE c.contype = 'f' AND c.convalidated GROUP BY c.oid, n.nspname, r.relname"
            ).fetchall()
        }
        for table in schema.tables:
            where = split_name(table.name, schema.schema_name)
            fks = [
                fk
                if fk.declared and (*where, tuple(fk.columns)) in validated
                else fk.model_copy(
                    update={"dangling": _dangling(conn, schema.schema_name, table, fk)}
                )
                for fk in table.foreign_keys
            ]
            updated.append(table.model_copy(update={"foreign_keys": fks}))
        conn.rollback()
    return schema.model_copy(update={"tables": updated})


def _dangling(conn: Any, schema: str, table: TableInfo, fk: ForeignKeyInfo) -> int:
    present = sql.SQL(" AND ").join(
        sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(col)) for col in fk.columns
    )
    match = sql.SQL(" AND ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(rc), sql.Identifier(col))
        for col, rc in zip(fk.columns, fk.ref_columns, strict=True)
    )
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {t} c WHERE {present} AND NOT EXISTS "
            "(SELECT 1 FROM {r} p WHERE {match})"
        ).format(
            t=qualified(schema, table.name),
            r=qualified(schema, fk.ref_table),
            present=present,
            match=match,
        )
    ).fetchone()
    return int(row[0]) if row else 0
