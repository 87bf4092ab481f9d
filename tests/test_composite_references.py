"""References the legacy system never declared, to a composite natural key, and a composite
key the redesign keeps as data under its own UNIQUE constraint.

The legacy side is what an import from spreadsheets looks like: keys declared, references not;
a course offering is identified by its year and course code, and an enrolment repeats both.
"""

import json
from pathlib import Path

import yaml

from tests.conftest import dbmigrate, planned, query

LEGACY = """
CREATE TABLE offering (
  term_year smallint, course varchar(8), title text NOT NULL, PRIMARY KEY (term_year, course)
);
CREATE TABLE students (student_code varchar(10) PRIMARY KEY, full_name text NOT NULL);
CREATE TABLE enrolment (
  term_year smallint, course varchar(8), student_code varchar(10), grade char(1),
  PRIMARY KEY (term_year, course, student_code)
);
INSERT INTO offering VALUES
  (2021, 'MATH1', 'Algebra'), (2022, 'MATH1', 'Algebra again'), (2022, 'HIST2', 'Rome');
INSERT INTO students VALUES ('s-001', 'Ada Quill'), ('s-002', 'Ben Arch'), ('s-003', 'Cy Noor');
INSERT INTO enrolment VALUES
  (2021, 'MATH1', 's-001', 'A'), (2022, 'MATH1', 's-002', 'B'), (2022, 'HIST2', 's-001', 'C'),
  (2022, 'HIST2', 's-003', NULL);
"""

REDESIGN = """
CREATE TABLE course_offerings (
  id uuid PRIMARY KEY, session integer NOT NULL, code text NOT NULL, title text NOT NULL,
  UNIQUE (session, code)
);
CREATE TABLE students (id uuid PRIMARY KEY, student_code text NOT NULL UNIQUE, full_name text);
CREATE TABLE enrolments (
  id uuid PRIMARY KEY,
  offering_id uuid NOT NULL REFERENCES course_offerings(id),
  student_id uuid NOT NULL REFERENCES students(id),
  grade text
);
"""


def test_undeclared_composite_references_resolve_and_a_kept_composite_key_is_found(
    make_db, tmp_path: Path
) -> None:
    _src, tgt, project = planned(make_db, tmp_path, "school", LEGACY, REDESIGN)
    enrolments = yaml.safe_load((project / "mappings" / "enrolments.yaml").read_text())
    rules = {r["target"]: r for r in enrolments["columns"]}
    # Inferred from the values: the pair (term_year, course) is an offering's key.
    assert rules["offering_id"]["ref_sources"] == ["term_year", "course"]
    assert rules["student_id"]["source"] == "student_code"
    offerings = yaml.safe_load((project / "mappings" / "course_offerings.yaml").read_text())
    kept = {r["target"]: r.get("source") for r in offerings["columns"]}
    # No name links session to term_year: the UNIQUE constraint and the types do.
    assert kept["session"] == "term_year" and kept["code"] == "course"

    dbmigrate("run", "--project", str(project), "--yes")
    report = json.loads((project / "report.json").read_text())
    assert {t["target"]: t["rows_migrated"] for t in report["tables"]} == {
        "course_offerings": 3,
        "students": 3,
        "enrolments": 4,
    }
    got = query(
        tgt,
        "SELECT o.session, o.code, s.student_code, e.grade FROM enrolments e "
        "JOIN course_offerings o ON o.id = e.offering_id JOIN students s ON s.id = e.student_id "
        "ORDER BY 1, 2, 3",
    )
    assert got == [
        (2021, "MATH1", "s-001", "A"),
        (2022, "HIST2", "s-001", "C"),
        (2022, "HIST2", "s-003", None),
        (2022, "MATH1", "s-002", "B"),
    ]
