"""What the agents do where the names say little: a lookup's integer id is not the text a
redesign wants, a required column with only a weak candidate is guessed and flagged rather than
left to reject every row, and a part split off a row links to that row, not to the row its
self-reference names."""

from pathlib import Path

import yaml

from tests.conftest import dbmigrate, planned, query

LEGACY = """
CREATE TABLE roles (role_id int PRIMARY KEY, role_desc text NOT NULL);
CREATE TABLE staff (
  staff_id int PRIMARY KEY, full_nm text NOT NULL,
  role_id int NOT NULL REFERENCES roles, mentor_id int REFERENCES staff, badge_no text);
INSERT INTO roles VALUES (1, 'Picker'), (2, 'Forklift driver'), (3, 'Shift lead');
INSERT INTO staff VALUES
  (1, 'Ines Duarte', 3, NULL, 'B-100'),
  (2, 'Tomas Berg', 1, 1, 'B-101'),
  (3, 'Mei Lin', 2, 1, 'B-102'),
  (4, 'Olu Ade', 1, 2, 'B-103');
"""

REDESIGN = """
CREATE TABLE staff (
  id uuid PRIMARY KEY, full_name text NOT NULL, role_title text NOT NULL,
  mentor_id uuid REFERENCES staff(id));
CREATE TABLE staff_badges (
  id uuid PRIMARY KEY, staff_id uuid NOT NULL REFERENCES staff(id), badge_number text);
"""


def test_weak_evidence_is_guessed_flagged_and_linked_by_the_rows_own_key(
    make_db, tmp_path: Path
) -> None:
    _, tgt, project = planned(make_db, tmp_path, "guess", LEGACY, REDESIGN)
    plan = yaml.safe_load((project / "plan.yaml").read_text())
    staff = yaml.safe_load((project / "mappings" / "staff.yaml").read_text())
    role = next(r for r in staff["columns"] if r["target"] == "role_title")
    # The label behind role_id, one hop away; weak name evidence (desc / title), so below the
    # review line, where the reviewer sees it.
    assert role["source"] == "role_desc" and role["via"][0]["table"] == "roles", role
    assert role["confidence"] < plan["review_threshold"], role

    ran = dbmigrate("run", "--project", str(project), "--yes")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert query(tgt, "SELECT full_name, role_title FROM staff ORDER BY full_name") == [
        ("Ines Duarte", "Shift lead"),
        ("Mei Lin", "Forklift driver"),
        ("Olu Ade", "Picker"),
        ("Tomas Berg", "Picker"),
    ]
    # Each badge belongs to the person whose row it came from (mentor_id would give Tomas's
    # badge to Ines).
    assert query(
        tgt,
        "SELECT s.full_name, b.badge_number FROM staff_badges b JOIN staff s ON s.id = b.staff_id "
        "ORDER BY 1",
    ) == [
        ("Ines Duarte", "B-100"),
        ("Mei Lin", "B-102"),
        ("Olu Ade", "B-103"),
        ("Tomas Berg", "B-101"),
    ]
    assert query(
        tgt,
        "SELECT s.full_name, m.full_name FROM staff s JOIN staff m ON m.id = s.mentor_id "
        "ORDER BY 1",
    ) == [("Mei Lin", "Ines Duarte"), ("Olu Ade", "Tomas Berg"), ("Tomas Berg", "Ines Duarte")]


SPLIT_LEGACY = """
CREATE TABLE vendors (
  vendor_id int PRIMARY KEY, vendor_nm text NOT NULL, street text, fax_no text,
  email_addr text, notes text);
INSERT INTO vendors VALUES
  (1, 'Acme Bolts', '4 Quay Rd', '555-0101', 'sales@acme.test', NULL),
  (2, 'Borg Tools', '9 Mill Ln', NULL, 'info@borg.test', NULL);
"""

SPLIT_REDESIGN = """
CREATE TABLE vendors (id uuid PRIMARY KEY, name text NOT NULL, site text NOT NULL);
CREATE TABLE vendor_contacts (
  id uuid PRIMARY KEY, vendor_id uuid NOT NULL REFERENCES vendors(id), fax_number text,
  email text);
"""


def test_a_split_leaves_the_one_column_its_sibling_does_not_carry(make_db, tmp_path: Path) -> None:
    # Nothing in the names links street and site; but the split part carries fax and email,
    # notes holds nothing, so street is the one legacy column left for the required site.
    _, tgt, project = planned(make_db, tmp_path, "split_left", SPLIT_LEGACY, SPLIT_REDESIGN)
    vendors = yaml.safe_load((project / "mappings" / "vendors.yaml").read_text())
    site = next(r for r in vendors["columns"] if r["target"] == "site")
    assert site["source"] == "street", site
    plan = yaml.safe_load((project / "plan.yaml").read_text())
    assert site["confidence"] < plan["review_threshold"], site
    ran = dbmigrate("run", "--project", str(project), "--yes")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert query(
        tgt,
        "SELECT v.name, v.site, c.fax_number, c.email FROM vendors v "
        "JOIN vendor_contacts c ON c.vendor_id = v.id ORDER BY 1",
    ) == [
        ("Acme Bolts", "4 Quay Rd", "555-0101", "sales@acme.test"),
        ("Borg Tools", "9 Mill Ln", None, "info@borg.test"),
    ]
