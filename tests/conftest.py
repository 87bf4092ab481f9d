"""Real PostgreSQL for every test: one embedded server per session, one database per test."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resources.embedded_postgres import EmbeddedPostgres, start

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    base = Path(tempfile.mkdtemp(prefix="dbm-test-pg-"))
    os.chmod(base, 0o755)
    server = start(base / "data")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_db(pg_server: EmbeddedPostgres) -> Iterator:
    """Factory: a fresh, uniquely named database per call, dropped after the test."""
    created: list[str] = []

    def _make(prefix: str = "db") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        created.append(name)
        return pg_server.create_database(name)

    yield _make
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def query(dsn: str, q: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(q, params).fetchall()


def execute(dsn: str, q: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(q)


def dbmigrate(*args: str, timeout: int = 900):
    """The CLI as a user runs it, in a process of its own."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "migration_assets.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def planned(make_db, tmp_path: Path, name: str, legacy_sql: str, target_sql: str):
    """Legacy and target databases from SQL, and a project planned on them:
    (source DSN, target DSN, project folder)."""
    src, tgt = make_db(name), make_db(f"{name}_new")
    execute(src, legacy_sql)
    execute(tgt, target_sql)
    project = tmp_path / name
    out = dbmigrate("plan", "--source", src, "--target", tgt, "--project", str(project))
    assert out.returncode == 0, out.stdout + out.stderr
    return src, tgt, project


def answer_decisions(project: Path, table: str, about: str, answers: dict[str, str]) -> list[dict]:
    """Answer a mapping's decisions of one kind, by column, as a reviewer edits the file;
    returns those decisions as the plan wrote them."""
    import yaml

    path = project / "mappings" / f"{table}.yaml"
    mapping = yaml.safe_load(path.read_text())
    asked = [d for d in mapping["decisions"] if d["about"] == about]
    for d in asked:
        if d["column"] in answers:
            d["answer"] = answers[d["column"]]
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return [{k: v for k, v in d.items() if k != "answer"} for d in asked]


def start_ui(project: Path, port: int, **popen: Any):
    """`dbmigrate ui` on a project, as a user starts it (no inherited Dagster settings)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "migration_assets.cli",
            "ui",
            "--project",
            str(project),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        **popen,
    )
