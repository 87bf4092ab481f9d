"""Legacy keys of every kind as one stable 48-bit integer id, computed in SQL.

The engine, the bookkeeping tables and the checks all speak integer legacy ids: one integer key
column *is* its id (the fast path, unchanged). Any other key (text or char codes, UUIDs,
``numeric`` codes with a scale, composite keys) gets an id computed by PostgreSQL itself from
the key's text: the first 48 bits of ``md5`` over the key's columns joined by a separator that
text cannot contain unnoticed (U+001F). Computing it in SQL means a child's foreign-key columns
give exactly the id their parent's key gave (``char(n)::text`` drops the padding, so a
``char(3)`` code and a ``varchar`` reference agree), the checks can aggregate it on the legacy
side, and the derived UUID layout of :mod:`agents.identity` holds for every key kind.

48 bits make a collision unlikely (about n^2 / 2^49: 2e-5 at 100k rows) but not impossible, so a
collision is never silent: ``migration_mappings`` refuses the second key, and the run fails
naming both (see :func:`collision_check`).
"""

from collections.abc import Sequence

from psycopg import sql

from agents.models import ColumnRule

KEY_ID = "__dbm_key"  # the page column holding a natural key's id
KEY_TEXT = "__dbm_key_text"  # ... and its readable form, recorded in migration_mappings
SEPARATOR = "\x1f"


def ref_column(target_column: str) -> str:
    """The page column holding a natural foreign key's id for one target column."""
    return f"__dbm_ref:{target_column}"


def fold_column(target_column: str) -> str:
    """The page column holding a value looked up through a fold's hops."""
    return f"__dbm_fold:{target_column}"


OUTER = "__dbm_s"  # the source table's alias in the page query, for folds to correlate with


def fold_expr(
    source_column: str,
    hops: Sequence[tuple[sql.Composable, dict[str, str]]],
    *,
    text_row: bool = False,
) -> sql.Composable:
    """A scalar subquery walking ``hops`` (table, {previous column: this column}) from the
    page's row to the last table, returning its ``source_column``. NULL when a link is NULL
    or missing (the rule then decides: a required column rejects the row with the reason).
    ``text_row``: the row is a merge's, whose columns all read as text, so the first step
    compares as text (losing the index on the lookup's key, which a merge accepts)."""
    aliases = [sql.Identifier(f"__dbm_h{i}") for i in range(len(hops))]
    joins: list[sql.Composable] = []
    for i, (table, on) in enumerate(hops):
        prev = sql.Identifier(OUTER) if i == 0 else aliases[i - 1]
        as_text = sql.SQL("::text" if text_row and i == 0 else "")
        cond = sql.SQL(" AND ").join(
            sql.SQL("{}.{}{} = {}.{}").format(
                aliases[i], sql.Identifier(b), as_text, prev, sql.Identifier(a)
            )
            for a, b in on.items()
        )
        joins.append(sql.SQL("{} {} ON {}").format(table, aliases[i], cond) if i else cond)
    first_table = hops[0][0]
    rest = sql.SQL(" ").join(sql.SQL("JOIN {}").format(j) for j in joins[1:])
    return sql.SQL("(SELECT {last}.{col} FROM {t0} {a0} {rest} WHERE {where})").format(
        last=aliases[-1],
        col=sql.Identifier(source_column),
        t0=first_table,
        a0=aliases[0],
        rest=rest,
        where=joins[0],
    )


def cast_column(target_column: str) -> str:
    """The page column holding a legacy value cast to its target's type."""
    return f"__dbm_cast:{target_column}"


def lossy_column(target_column: str) -> str:
    """The page column saying whether that cast changed the value."""
    return f"__dbm_lossy:{target_column}"


def cast_expr(column: str, sql_type: str) -> sql.Composable:
    """``column::type``; ``sql_type`` is a catalog type name (checked against the target's
    ``format_type`` before anything runs, never free text)."""
    return sql.SQL("{}::{}").format(sql.Identifier(column), sql.SQL(sql_type))


def lossy_expr(column: str, sql_type: str, source_type: str) -> sql.Composable:
    c = sql.Identifier(column)
    return sql.SQL("({c} IS NOT NULL AND {c}::{t}::{s} IS DISTINCT FROM {c})").format(
        c=c, t=sql.SQL(sql_type), s=sql.SQL(source_type)
    )


def expr_column(target_column: str) -> str:
    """The page column holding a rule's SQL expression, computed by the source."""
    return f"__dbm_expr:{target_column}"


NULL_MARK = "\x1e"  # a NULL part of a key (U+001E), so that (a, NULL) and (a, '') differ
Part = str | sql.Composable  # a column name, or an SQL expression (checked) over the row


def _part(p: Part) -> sql.Composable:
    return sql.Identifier(p) if isinstance(p, str) else sql.SQL("({})").format(p)


def _text(
    columns: Sequence[Part], literal: str | None = None, nulls: bool = False
) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.SQL("coalesce({}::text, {})").format(_part(c), sql.Literal(NULL_MARK))
        if nulls
        else sql.SQL("{}::text").format(_part(c))
        for c in columns
    ]
    if literal is not None:
        parts.insert(0, sql.Literal(literal))
    if len(parts) == 1:
        return parts[0]
    return sql.SQL("concat_ws({}, {})").format(sql.Literal(SEPARATOR), sql.SQL(", ").join(parts))


def _any_null(columns: Sequence[Part]) -> sql.Composable:
    return sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(_part(c)) for c in columns)


def natural_id(
    columns: Sequence[Part], part: str | None = None, *, key: bool = False
) -> sql.Composable:
    """SQL for the 48-bit id of a key over ``columns``.

    For a reference, NULL when any part is NULL (a foreign key with a NULL part references
    nothing, as PostgreSQL's MATCH SIMPLE says). For a row's own ``key``, a NULL part is a
    value like any other (a legacy table's unique column set may hold NULLs); without NULLs
    both give the same id, so references still find their parents. ``part``: a reference
    into a merged table names the legacy table first, as the merge's key does.
    """
    digest = sql.SQL("('x' || substr(md5({}), 1, 12))::bit(48)::bigint").format(
        _text(columns, part, nulls=key)
    )
    if key:
        return digest
    return sql.SQL("CASE WHEN {} THEN NULL ELSE {} END").format(_any_null(columns), digest)


def reference_id(rule: ColumnRule) -> sql.Composable:
    """The id a natural foreign key points at: over its referencing columns, or over checked
    expressions when the row holds the parent's key parts in another shape."""
    parts: list[Part] = (
        [sql.SQL(e) for e in rule.ref_expressions]
        if rule.ref_expressions
        else list(rule.ref_sources or [rule.source or ""])
    )
    return natural_id(parts, rule.ref_part)


def natural_text(columns: Sequence[str]) -> sql.Composable:
    """SQL for the key's readable form: the value, or a JSON array of the parts' text."""
    if len(columns) == 1:
        return sql.SQL("{}::text").format(sql.Identifier(columns[0]))
    return sql.SQL("json_build_array({})::text").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
    )


def id_expr(columns: Sequence[str], kind: str) -> sql.Composable:
    """The legacy id of a key (or of a reference to one) as an SQL expression."""
    if kind == "integer" and len(columns) == 1:
        return sql.Identifier(columns[0])
    return natural_id(columns, key=True)


def order_by(columns: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def after(columns: Sequence[str], cursor: Sequence[str]) -> sql.Composable:
    """Keyset condition: rows after ``cursor`` (the last page's key, as text) in key order."""
    return sql.SQL("({}) > ({})").format(
        order_by(columns), sql.SQL(", ").join(sql.Literal(v) for v in cursor)
    )
