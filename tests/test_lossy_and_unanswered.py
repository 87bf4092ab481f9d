"""Nothing is changed silently: a narrowing cast is a decision with numbers, and a required
column nobody could fill rejects its rows with the open question instead of failing them all."""

import json
from pathlib import Path

import yaml

from tests.conftest import dbmigrate, planned, query

LEGACY = """
CREATE TABLE visit (visit_id integer PRIMARY KEY, happened timestamp NOT NULL,
                    note varchar(200));
INSERT INTO visit SELECT g, timestamp '2024-01-01' + g * interval '7 hours', 'visit ' || g
  FROM generate_series(1, 40) g;
CREATE TABLE gadget (gadget_id integer PRIMARY KEY, label text NOT NULL);
INSERT INTO gadget SELECT g, 'gadget ' || g FROM generate_series(1, 5) g;
"""
REDESIGN = """
CREATE TABLE visits (id uuid PRIMARY KEY, happened date NOT NULL, note varchar(200));
CREATE TABLE gadgets (id uuid PRIMARY KEY, label text NOT NULL, warehouse_zone text NOT NULL);
"""


def test_a_dropped_time_of_day_is_a_counted_decision_and_checks_pass_on_the_cast_values(
    make_db, tmp_path: Path
) -> None:
    src, tgt, project = planned(make_db, tmp_path, "lossy", LEGACY, REDESIGN)
    visits = yaml.safe_load((project / "mappings" / "visits.yaml").read_text())
    (cast,) = [d for d in visits["decisions"] if d["about"] == "cast"]
    # 40 timestamps, every one but those at midnight loses its time of day.
    lossy = query(src, "SELECT count(*) FROM visit WHERE happened::time <> '00:00'")[0][0]
    assert f"{lossy} legacy visit.happened values lose information" in cast["question"]
    assert cast["proposed"] == "accept"
    ran = dbmigrate("run", "--project", str(project), "--yes")
    report = json.loads((project / "report.json").read_text())
    tables = {t["target"]: t for t in report["tables"]}
    visits_report = tables["visits"]
    assert all(c["passed"] for c in visits_report["checks"]), visits_report["checks"]
    assert query(tgt, "SELECT happened::text, note FROM visits ORDER BY 2") == query(
        src, "SELECT happened::date::text, note FROM visit ORDER BY 2"
    )
    # No column of gadget can fill warehouse_zone: every row is rejected with that question.
    gadgets = tables["gadgets"]
    assert (gadgets["rows_source"], gadgets["rows_migrated"], gadgets["rows_rejected"]) == (5, 0, 5)
    reasons = {r for (r,) in query(tgt, "SELECT reason FROM dbmigrate.migration_rejects")}
    assert len(reasons) == 1
    assert "warehouse_zone" in next(iter(reasons)) and "open decision" in next(iter(reasons))
    assert ran.returncode != 0  # the owner has a question to answer; the run says so
    # ... in one paragraph per failing table, no traceback; the full log is a file.
    said = ran.stdout + ran.stderr
    assert "table failed" in said and "gadgets" in said and "Traceback" not in said
    assert "logs/dbmigrate.log" in said and (project / "logs" / "dbmigrate.log").exists()
