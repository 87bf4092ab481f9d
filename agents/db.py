"""Connections and DSN hygiene.

psycopg 3 is the data path (streaming COPY in both directions); SQLAlchemy is used only for
introspection. DSNs carry passwords, so anything that may reach a log, a report or an error message
goes through :func:`redact` first.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from agents.errors import ConnectionConfigError

_PASSWORD_IN_URL = re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@?]*:)([^@]*)(@)")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide passwords in anything DSN-shaped inside ``text``.

    >>> redact("postgresql://app:s3cret@db:5432/x")
    'postgresql://app:***@db:5432/x'
    >>> redact("host=db password=s3cret dbname=x")
    'host=db password=*** dbname=x'
    """
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m.group(1)}***{m.group(3)}", text)
    return _PASSWORD_KV.sub(lambda m: f"{m.group(1)}***", text)


def sqlalchemy_url(dsn: str) -> str:
    """The same DSN spelled for SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix) :]
    raise ConnectionConfigError(
        "the DSN must be a postgresql:// URL "
        "(key=value strings are not supported for introspection)"
    )


@contextmanager
def connect(
    dsn: str, *, read_only: bool = False, role: str | None = None, autocommit: bool = False
) -> Iterator[psycopg.Connection]:
    """Open a connection; errors never echo the DSN.

    ``read_only`` makes every transaction read-only (the source must never be written);
    ``role`` is ``SET ROLE`` on the target so row-level security policies apply to our writes.
    """
    try:
        # Every session speaks UTC so that naive timestamps never shift with the server's zone.
        conn = psycopg.connect(dsn, autocommit=autocommit, options="-c TimeZone=UTC")
    except psycopg.OperationalError as exc:
        raise ConnectionConfigError(
            f"cannot connect to the database ({redact(str(exc)).strip().splitlines()[0]}); "
            "check the DSN, that the server runs, and the credentials"
        ) from None
    try:
        if read_only:
            conn.read_only = True
        if role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            if not autocommit:
                conn.commit()
        yield conn
    finally:
        conn.close()


def split_name(name: str, default_schema: str) -> tuple[str, str]:
    """(schema, table) of a table's project name.

    A project names a table of its default schema by its bare name and any other table as
    ``schema.table`` (also a default-schema table whose own name holds a dot), so the first dot
    always separates the schema: every call site that composes SQL for a table name gets the
    right schema without carrying it separately.

    >>> split_name("members", "public")
    ('public', 'members')
    >>> split_name("HR.EMPLOYEES", "public")
    ('HR', 'EMPLOYEES')
    >>> split_name("public.park.key", "public")
    ('public', 'park.key')
    """
    schema, dot, table = name.partition(".")
    return (schema, table) if dot else (default_schema, name)


def project_name(schema: str, table: str, default_schema: str) -> str:
    """The inverse of :func:`split_name`.

    >>> project_name("public", "members", "public")
    'members'
    >>> project_name("cd", "members", "public")
    'cd.members'
    """
    if schema == default_schema and "." not in table:
        return table
    return f"{schema}.{table}"


def qualified(schema: str, table: str) -> sql.Composed:
    """``"schema"."table"`` for a project table name (see :func:`split_name`)."""
    s, t = split_name(table, schema)
    return sql.SQL("{}.{}").format(sql.Identifier(s), sql.Identifier(t))


def regclass_text(schema: str, table: str) -> str:
    """A quoted ``schema.table`` literal for ``%s::regclass`` parameters."""
    s, t = split_name(table, schema)
    return '"{}"."{}"'.format(s.replace('"', '""'), t.replace('"', '""'))


def scalar(cursor: Any) -> Any:
    """The single value of a one-row, one-column result (``count(*)``, ``to_regclass``...)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the query returned no row")
    return row[0]
