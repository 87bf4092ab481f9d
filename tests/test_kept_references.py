"""References to keys the redesign keeps, and links the legacy data leaves dangling.

A country's capital is a city and a city's country is a country: with both keys kept, one side
of the cycle must load with its reference empty and have it set once the other side is in. A
legacy constraint declared ``NOT VALID`` (or never enforced) leaves rows pointing at parents
that do not exist: the plan asks whether their links are written empty or the rows rejected,
and under ``--yes`` every row is migrated with the dangling links empty and counted.
"""

from pathlib import Path

import yaml

from tests.conftest import answer_decisions, dbmigrate, planned, query

CYCLE_LEGACY = """
CREATE TABLE country (code char(3) PRIMARY KEY, name text NOT NULL, capital int);
CREATE TABLE city (
  id int PRIMARY KEY, name text NOT NULL, country_code char(3) NOT NULL REFERENCES country);
CREATE TABLE staff (
  staff_id int PRIMARY KEY, full_name text NOT NULL, boss_id int REFERENCES staff);
INSERT INTO country VALUES ('NOR', 'Norway', NULL), ('PRT', 'Portugal', NULL),
  ('ATA', 'Antarctica', NULL);
INSERT INTO city VALUES (1, 'Oslo', 'NOR'), (2, 'Lisbon', 'PRT'), (3, 'Porto', 'PRT'),
  (4, 'Bergen', 'NOR');
UPDATE country SET capital = 1 WHERE code = 'NOR';
UPDATE country SET capital = 2 WHERE code = 'PRT';
ALTER TABLE country ADD FOREIGN KEY (capital) REFERENCES city;
-- Reports are inserted before their bosses' rows exist in id order: 1 reports to 3.
INSERT INTO staff VALUES (3, 'Cleo', NULL), (2, 'Bram', 3), (1, 'Ada', 2);
"""

CYCLE_REDESIGN = """
CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL, capital_city_id integer);
CREATE TABLE cities (
  id integer PRIMARY KEY, name text NOT NULL,
  country_code text NOT NULL REFERENCES countries(code));
ALTER TABLE countries ADD FOREIGN KEY (capital_city_id) REFERENCES cities(id);
CREATE TABLE staff (
  staff_id integer PRIMARY KEY, full_name text NOT NULL,
  boss_id integer REFERENCES staff(staff_id));
"""


def test_a_cycle_through_kept_keys_loads_in_one_run(make_db, tmp_path: Path) -> None:
    _, tgt, project = planned(make_db, tmp_path, "keptcycle", CYCLE_LEGACY, CYCLE_REDESIGN)
    for _ in range(2):  # and a re-run leaves every reference as it is
        ran = dbmigrate("run", "--project", str(project), "--yes")
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert query(tgt, "SELECT code, name, capital_city_id FROM countries ORDER BY code") == [
            ("ATA", "Antarctica", None),
            ("NOR", "Norway", 1),
            ("PRT", "Portugal", 2),
        ]
        assert query(tgt, "SELECT id, country_code FROM cities ORDER BY id") == [
            (1, "NOR"),
            (2, "PRT"),
            (3, "PRT"),
            (4, "NOR"),
        ]
        assert query(tgt, "SELECT staff_id, boss_id FROM staff ORDER BY staff_id") == [
            (1, 2),
            (2, 3),
            (3, None),
        ]
        assert query(tgt, "SELECT count(*) FROM dbmigrate.migration_rejects") == [(0,)]


DANGLING_LEGACY = """
CREATE TABLE income (ssn text PRIMARY KEY, annual_income int NOT NULL);
CREATE TABLE license (id int PRIMARY KEY, plate text NOT NULL);
CREATE TABLE person (
  id int PRIMARY KEY, name text NOT NULL, ssn text, license_id int, mentor_id int);
INSERT INTO income VALUES ('111', 50000), ('222', 61000);
INSERT INTO license VALUES (10, 'AB-1'), (11, 'CD-2');
INSERT INTO person VALUES
  (1, 'Ann', '111', 10, NULL), (2, 'Bo', '222', 99, 1), (3, 'Cy', '999', 11, 7),
  (4, 'Di', NULL, NULL, 2), (5, 'Ed', '888', 98, NULL);
ALTER TABLE person ADD FOREIGN KEY (ssn) REFERENCES income NOT VALID;
ALTER TABLE person ADD FOREIGN KEY (license_id) REFERENCES license NOT VALID;
ALTER TABLE person ADD FOREIGN KEY (mentor_id) REFERENCES person NOT VALID;
"""

DANGLING_REDESIGN = """
CREATE TABLE income (ssn text PRIMARY KEY, annual_income integer NOT NULL);
CREATE TABLE license (id uuid PRIMARY KEY, plate text NOT NULL);
CREATE TABLE person (
  id uuid PRIMARY KEY, name text NOT NULL,
  ssn text REFERENCES income(ssn), license_id uuid REFERENCES license(id),
  mentor_id uuid REFERENCES person(id));
"""


def test_dangling_links_are_asked_about_and_written_empty_under_yes(
    make_db, tmp_path: Path
) -> None:
    _, tgt, project = planned(make_db, tmp_path, "dangling", DANGLING_LEGACY, DANGLING_REDESIGN)
    person = yaml.safe_load((project / "mappings" / "person.yaml").read_text())
    asked = {d["column"]: d for d in person["decisions"] if d["about"] == "orphans"}
    assert sorted(asked) == ["license_id", "mentor_id", "ssn"]
    assert asked["ssn"]["question"].startswith("2 legacy person rows point at a income row")
    assert asked["license_id"]["question"].startswith("2 legacy person rows")
    assert asked["mentor_id"]["question"].startswith("1 legacy person rows")
    assert {d["proposed"] for d in asked.values()} == {"set_null"}

    # Without an answer the run does not start: the questions are listed.
    blocked = dbmigrate("run", "--project", str(project))
    assert blocked.returncode != 0
    assert "person.ssn.orphans" in blocked.stdout + blocked.stderr

    ran = dbmigrate("run", "--project", str(project), "--yes")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    rows = query(
        tgt,
        "SELECT p.name, p.ssn, l.plate, m.name FROM person p LEFT JOIN license l "
        "ON l.id = p.license_id LEFT JOIN person m ON m.id = p.mentor_id ORDER BY p.name",
    )
    assert rows == [
        ("Ann", "111", "AB-1", None),
        ("Bo", "222", None, "Ann"),
        ("Cy", None, "CD-2", None),
        ("Di", None, None, "Bo"),
        ("Ed", None, None, None),
    ]
    assert query(tgt, "SELECT count(*) FROM dbmigrate.migration_rejects") == [(0,)]
    (notes,) = query(
        tgt,
        "SELECT notes FROM dbmigrate.migration_control WHERE table_name = 'person' "
        "AND phase = 'execution' ORDER BY id DESC LIMIT 1",
    )[0]
    assert "2 ssn reference(s) to missing parent rows written empty" in notes
    assert "2 license_id reference(s)" in notes
    assert "1 mentor_id reference(s)" in notes


def test_a_dangling_link_the_reviewer_rejects_takes_its_rows_out_with_the_reason(
    make_db, tmp_path: Path
) -> None:
    _, tgt, project = planned(make_db, tmp_path, "dangrej", DANGLING_LEGACY, DANGLING_REDESIGN)
    answer_decisions(
        project,
        "person",
        "orphans",
        {"ssn": "reject", "license_id": "set_null", "mentor_id": "set_null"},
    )
    ran = dbmigrate("run", "--project", str(project), "--yes")
    assert ran.returncode != 0  # 2 of 5 rows rejected is above the 5% threshold, and says so
    assert "2 of 5 rows (40.0%) were rejected" in ran.stdout + ran.stderr
    rejects = query(
        tgt,
        "SELECT row_data->>'name', reason FROM dbmigrate.migration_rejects ORDER BY 1",
    )
    assert [name for name, _ in rejects] == ["Cy", "Ed"]
    assert all("ssn: ssn references a income row that was not migrated" in r for _, r in rejects)
