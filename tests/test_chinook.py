"""A real public database nobody on this project wrote: Chinook into a UUID-keyed redesign."""

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, execute, query

CHINOOK = ROOT / "tests" / "data" / "chinook" / "chinook.sql"
REDESIGN = """
CREATE TABLE artists (id UUID PRIMARY KEY, name TEXT);
CREATE TABLE albums (id UUID PRIMARY KEY, title TEXT NOT NULL,
                     artist_id UUID NOT NULL REFERENCES artists(id));
CREATE TABLE customers (id UUID PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
                        company TEXT, email TEXT NOT NULL, country TEXT);
CREATE TABLE invoices (id UUID PRIMARY KEY, customer_id UUID NOT NULL REFERENCES customers(id),
                       invoiced_at TIMESTAMPTZ NOT NULL, billing_country TEXT,
                       total NUMERIC(10, 2) NOT NULL);
"""


@pytest.mark.skipif(not CHINOOK.exists(), reason=f"{CHINOOK} is not there")
def test_chinook_plans_and_migrates_with_every_check_passing(make_db, tmp_path: Path) -> None:
    src, tgt = make_db("chinook"), make_db("chinook_new")
    with psycopg.connect(src, autocommit=True) as conn:
        conn.execute(CHINOOK.read_text())
    execute(tgt, REDESIGN)
    project = tmp_path / "chinook"
    cli = [sys.executable, "-m", "migration_assets.cli"]
    planned = subprocess.run(
        [*cli, "plan", "--source", src, "--target", tgt, "--project", str(project)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    ran = subprocess.run(
        [*cli, "run", "--project", str(project), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    report = json.loads((project / "report.json").read_text())
    counts = {t["target"]: (t["rows_source"], t["rows_migrated"]) for t in report["tables"]}
    assert counts == {
        "artists": (275, 275),
        "albums": (347, 347),
        "customers": (59, 59),
        "invoices": (412, 412),
    }
    # Foreign keys re-resolved: every album's artist is the legacy album's artist.
    legacy = dict(
        query(
            src,
            "SELECT al.title || '#' || al.album_id, ar.name FROM album al "
            "JOIN artist ar ON ar.artist_id = al.artist_id",
        )
    )
    migrated = query(
        tgt, "SELECT al.title, ar.name FROM albums al JOIN artists ar ON ar.id = al.artist_id"
    )
    assert sorted(n for _, n in migrated) == sorted(legacy.values())
    total = query(tgt, "SELECT sum(total)::text FROM invoices")[0][0]
    assert total == query(src, "SELECT sum(total)::text FROM invoice")[0][0]
