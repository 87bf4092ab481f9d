"""SQL expressions over a legacy row, checked before they run.

A reviewer (or an LLM) may write a column as one PostgreSQL expression: ``country || '-' ||
code``, ``lpad(id::text, 3, '0')``, ``slots * 30``, ``make_date(y, m, d)``. It runs inside the
source's read-only snapshot, computed by PostgreSQL like a fold, so checks can aggregate it on
the legacy side too. Text is never trusted as SQL: sqlglot parses it as exactly one PostgreSQL
expression; statements, subqueries, set operations and server-side functions (``pg_*``,
``dblink``, large objects, settings) are refused, and every column it names must be a column of
the mapping's source.
"""

import sqlglot
from sqlglot import expressions as exp

from agents.errors import MappingError

_REFUSED_NODES = (
    exp.Select,
    exp.Subquery,
    exp.Union,
    exp.Command,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
)
_REFUSED_PREFIXES = (
    "pg_",
    "dblink",
    "lo_",
    "set_config",
    "current_setting",
    "query_to_",
    "txid_",
    "nextval",
    "setval",
    "currval",
)


def check_expression(text: str, columns: set[str], *, where: str) -> str:
    """The expression, once it is known to be one expression over ``columns`` and nothing
    else; a MappingError that says what is wrong otherwise."""
    try:
        parsed = sqlglot.parse(text, read="postgres")
    except sqlglot.errors.ParseError as exc:
        raise MappingError(f"expression {text!r} does not parse: {exc}", path=where) from None
    if len(parsed) != 1 or parsed[0] is None:
        raise MappingError(f"expression {text!r} must be exactly one expression", path=where)
    tree = parsed[0]
    for node in tree.walk():
        if isinstance(node, _REFUSED_NODES):
            raise MappingError(
                f"expression {text!r}: {type(node).__name__.lower()} is not allowed in a column "
                "expression (one expression over the row's own columns)",
                path=where,
            )
        if isinstance(node, exp.Func):
            name = (node.sql_name() if not isinstance(node, exp.Anonymous) else node.name).lower()
            if name.startswith(_REFUSED_PREFIXES):
                raise MappingError(
                    f"expression {text!r}: the server function {name} is not allowed", path=where
                )
        if isinstance(node, exp.Column):
            if node.table:
                raise MappingError(
                    f"expression {text!r}: {node.sql()} names another table; use a fold (via)",
                    path=where,
                )
            name = node.name
            known = name in columns or (
                not node.this.quoted and name.lower() in {c.lower() for c in columns}
            )
            if not known:
                raise MappingError(
                    f"expression {text!r}: the source has no column {name}", path=where
                )
    return text
