"""The bookkeeping schema is created once and trusted after that, but not blindly."""

import psycopg

from agents import bookkeeping
from tests.conftest import query


def test_bookkeeping_ddl_runs_once_and_again_when_its_tables_are_gone(make_db) -> None:
    dsn = make_db("bk")
    with psycopg.connect(dsn, autocommit=True) as conn:
        bookkeeping.ensure_bookkeeping(conn, "dbmigrate")
        bookkeeping.ensure_bookkeeping(conn, "dbmigrate")  # a no-op: the marker is there
        markers = query(dsn, "SELECT count(*) FROM dbmigrate.migration_ddl")[0][0]
        assert markers == 1
        # Someone drops a bookkeeping table by hand: the marker no longer vouches for it.
        conn.execute("DROP TABLE dbmigrate.migration_rejects")
        bookkeeping.ensure_bookkeeping(conn, "dbmigrate")
    assert query(dsn, "SELECT to_regclass('dbmigrate.migration_rejects') IS NOT NULL") == [(True,)]
    assert query(dsn, "SELECT count(*) FROM dbmigrate.migration_ddl") == [(1,)]
