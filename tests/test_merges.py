"""Several legacy tables into one target, proposed by the agents.

A union: staff and clients become one people table whose ``kind`` says which table a row came
from; the labels of that enum name the legacy tables, and both tables hold the target's
columns. Their ids overlap, so a row is keyed by (table, id), and a reference into the
merge names the table it points into. A one-to-one extension: the
details a legacy system kept in a side table keyed by its parent's key are the parent row's
own columns in the redesign.
"""

from pathlib import Path

import yaml

from tests.conftest import dbmigrate, planned, query

LEGACY = """
CREATE TABLE cities (city_id int PRIMARY KEY, city_name text NOT NULL);
INSERT INTO cities VALUES (1, 'Oslo'), (2, 'Porto');
CREATE TABLE staff (staff_no int PRIMARY KEY, email text NOT NULL, full_name text NOT NULL,
  hired_on date, city_id int REFERENCES cities);
CREATE TABLE clients (client_id int PRIMARY KEY, email_address text NOT NULL,
  full_name text NOT NULL, home_city int REFERENCES cities);
INSERT INTO staff VALUES (1, 'ann@corp.example', 'Ann Archer', '2019-03-01', 1),
  (2, 'bo@corp.example', 'Bo Baker', NULL, 2);
INSERT INTO clients VALUES (1, 'cy@mail.example', 'Cy Cole', 2),
  (2, 'di@mail.example', 'Di Dunn', NULL), (3, 'ed@mail.example', 'Ed Eng', 1);
CREATE TABLE shop (shop_id int PRIMARY KEY, shop_name text NOT NULL);
CREATE TABLE shop_profile (shop_id int PRIMARY KEY REFERENCES shop, opening_hours text,
  website text);
INSERT INTO shop VALUES (1, 'North'), (2, 'South');
INSERT INTO shop_profile VALUES (1, '9-17', 'https://north.example');
CREATE TABLE tickets (ticket_id int PRIMARY KEY, client_id int NOT NULL REFERENCES clients,
  subject text NOT NULL);
INSERT INTO tickets VALUES (10, 2, 'Refund'), (11, 3, 'Invoice copy');
"""

REDESIGN = """
CREATE TYPE person_kind AS ENUM ('staff', 'client');
CREATE TABLE people (id uuid PRIMARY KEY, kind person_kind NOT NULL, email text NOT NULL,
  full_name text NOT NULL, city_name text);
CREATE TABLE shops (id uuid PRIMARY KEY, name text NOT NULL, opening_hours text, website text);
CREATE TABLE tickets (id uuid PRIMARY KEY, person_id uuid NOT NULL REFERENCES people(id),
  subject text NOT NULL);
"""


def test_a_union_and_a_one_to_one_extension_are_proposed_and_migrated(
    make_db, tmp_path: Path
) -> None:
    _, tgt, project = planned(make_db, tmp_path, "merges", LEGACY, REDESIGN)
    plan = yaml.safe_load((project / "plan.yaml").read_text())
    people = next(t for t in plan["tables"] if t["target"] == "people")
    assert people["merge"] == {"staff": "staff", "clients": "client"}
    assert people["merge_column"] == "kind"
    assert people["confidence"] < plan["review_threshold"]  # a structural guess is reviewed
    mapping = yaml.safe_load((project / "mappings" / "people.yaml").read_text())
    parts = {p["table"]: p["columns"] for p in mapping["merge"]}
    assert parts["clients"]["email"] == "email_address"

    ran = dbmigrate("run", "--project", str(project), "--yes")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    # The city's name is folded in through each table's own link column.
    assert query(
        tgt, "SELECT kind::text, email, full_name, city_name FROM people ORDER BY email"
    ) == [
        ("staff", "ann@corp.example", "Ann Archer", "Oslo"),
        ("staff", "bo@corp.example", "Bo Baker", "Porto"),
        ("client", "cy@mail.example", "Cy Cole", "Porto"),
        ("client", "di@mail.example", "Di Dunn", None),
        ("client", "ed@mail.example", "Ed Eng", "Oslo"),
    ]
    assert query(tgt, "SELECT count(DISTINCT id) FROM people") == [(5,)]
    # A reference into the merge points at the row of the table it references (client 2 is
    # Di, not staff member 2).
    assert query(
        tgt,
        "SELECT t.subject, p.full_name FROM tickets t JOIN people p ON p.id = t.person_id "
        "ORDER BY 1",
    ) == [("Invoice copy", "Ed Eng"), ("Refund", "Di Dunn")]
    assert query(tgt, "SELECT name, opening_hours, website FROM shops ORDER BY name") == [
        ("North", "9-17", "https://north.example"),
        ("South", None, None),
    ]
