"""A text column whose CHECK lists its values is a closed set of labels, like an enum.

Supabase schemas often write ``status text CHECK (status IN (...))`` instead of an enum type;
legacy codes copied into it as they are would all be refused by the constraint.
"""

import json
from pathlib import Path

import yaml

from tests.conftest import dbmigrate, planned, query

LEGACY = """
CREATE TABLE accounts (
  acct_no integer PRIMARY KEY,
  holder text NOT NULL,
  stat varchar(1) NOT NULL CHECK (stat IN ('A', 'S', 'C'))  -- the legacy side lists its codes too
);
INSERT INTO accounts VALUES (1, 'Ada', 'A'), (2, 'Ben', 'S'), (3, 'Cy', 'C'), (4, 'Di', 'A');
"""

REDESIGN = """
CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  holder text NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'suspended', 'closed'))
);
"""


def test_legacy_codes_map_onto_the_labels_a_check_constraint_lists(make_db, tmp_path: Path) -> None:
    _src, tgt, project = planned(make_db, tmp_path, "bank", LEGACY, REDESIGN)
    mapping = yaml.safe_load((project / "mappings" / "accounts.yaml").read_text())
    status = next(r for r in mapping["columns"] if r["target"] == "status")
    assert status["kind"] == "enum" and status["source"] == "stat"
    assert status["value_map"] == {"A": "active", "S": "suspended", "C": "closed"}

    dbmigrate("run", "--project", str(project), "--yes")
    report = json.loads((project / "report.json").read_text())
    assert [(t["rows_migrated"], t["rows_rejected"]) for t in report["tables"]] == [(4, 0)]
    assert report["passed"], report  # every-row validation reads the labels as the map wrote them
    assert query(tgt, "SELECT holder, status FROM accounts ORDER BY holder") == [
        ("Ada", "active"),
        ("Ben", "suspended"),
        ("Cy", "closed"),
        ("Di", "active"),
    ]
