"""A redesign that keeps a legacy key as it is (an integer id, a country code) while other
tables get UUIDs: the kept key is copied, and references to it stay legacy values."""

from pathlib import Path

from tests.conftest import dbmigrate, planned, query

LEGACY = """
CREATE TABLE country (code char(2) PRIMARY KEY, name text NOT NULL);
CREATE TABLE dept (dept_id int PRIMARY KEY, dept_name text NOT NULL);
CREATE TABLE emp (
  emp_id int PRIMARY KEY, emp_name text NOT NULL,
  dept_id int REFERENCES dept, country_code char(2) REFERENCES country);
INSERT INTO country VALUES ('NO', 'Norway'), ('PT', 'Portugal');
INSERT INTO dept VALUES (10, 'Sales'), (20, 'Research');
INSERT INTO emp VALUES (1, 'Ann', 10, 'NO'), (2, 'Bo', 20, 'PT'), (3, 'Cy', NULL, 'PT');
"""

REDESIGN = """
CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE departments (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE employees (
  id uuid PRIMARY KEY, name text NOT NULL,
  department_id integer REFERENCES departments(id),
  country_code text REFERENCES countries(code));
"""


def test_kept_integer_and_code_keys_are_copied_and_referenced_by_value(
    make_db, tmp_path: Path
) -> None:
    _, tgt, project = planned(make_db, tmp_path, "kept", LEGACY, REDESIGN)
    ran = dbmigrate("run", "--project", str(project), "--yes")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert query(tgt, "SELECT code, name FROM countries ORDER BY code") == [
        ("NO", "Norway"),
        ("PT", "Portugal"),
    ]
    assert query(tgt, "SELECT id, name FROM departments ORDER BY id") == [
        (10, "Sales"),
        (20, "Research"),
    ]
    assert query(tgt, "SELECT name, department_id, country_code FROM employees ORDER BY name") == [
        ("Ann", 10, "NO"),
        ("Bo", 20, "PT"),
        ("Cy", None, "PT"),
    ]
