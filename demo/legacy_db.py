"""The seed's case as a runnable database: ``dispatch_role`` (31 roles of group 11 among others),
the technicians they refer to, and the 1,569-row ``brackets`` catalog; plus the redesigned target.

The legacy side is deliberately legacy: one ``tech_nm`` field holding "Last, First" where the
redesign has two name columns (split by generated code, in the sandbox), abbreviated names
(``mfr_nm``, ``email_addr``), flags as
``Y``/``N`` and ``T``/``F``, dates and prices stored as text, and a foreign key from roles to
technicians that was never declared. Generation is seeded, so every install is identical.
"""

import random
from pathlib import Path
from typing import Any

from psycopg import sql

from agents.db import connect, scalar

REVIEW_FILE = Path(__file__).with_name("review.yaml")
GROUP = 11

# (role name, description, expected technician_type) for group 11: 21/4/3/2/1 by type.
ROLES_GROUP_11: list[tuple[str, str | None, str]] = [
    ("MT-Crown", "Manufacturing Technician for crowns", "manufacturing"),
    ("MT-Bridge", None, "manufacturing"),
    ("MT-Implant", None, "manufacturing"),
    ("MT-Denture", "Full and partial dentures", "manufacturing"),
    ("MT-Veneer", None, "manufacturing"),
    ("MT-Inlay", None, "manufacturing"),
    ("MT-Onlay", None, "manufacturing"),
    ("MT-Model", "Stone models and dies", "manufacturing"),
    ("MT-Die Trim", None, "manufacturing"),
    ("MT-Wax-up", None, "manufacturing"),
    ("MT-Ceramics", None, "manufacturing"),
    ("MT-Finishing", None, "manufacturing"),
    ("Manufacturing Lead", "Leads the manufacturing floor", "manufacturing"),
    ("Manufacturing Assistant", None, "manufacturing"),
    ("Manufacturing QC", "Quality control before shipping", "manufacturing"),
    ("Manufacturing Night Shift", None, "manufacturing"),
    ("Manufacturing Trainee", None, "manufacturing"),
    ("Manufacturing - Polishing", None, "manufacturing"),
    ("Manufacturing/Casting", None, "manufacturing"),
    ("manufacturing milling", None, "manufacturing"),
    ("Manufacturing Scanning", None, "manufacturing"),
    ("IDB Prep", "Indirect bonding trays, sectioning step", "sectioning"),
    ("IDB-Trays", "Cuts and sections IDB trays", "sectioning"),
    ("Sectioning Lead", None, "sectioning"),
    ("Model Sectioning", None, "sectioning"),
    ("DT-Crown", "Design Technician, crown and bridge CAD", "designing"),
    ("DT-Ortho", None, "designing"),
    ("Designing Lead", None, "designing"),
    ("Remote QC", "Checks scans from home", "remote"),
    ("DTR-Evening", "Works remotely in the evening", "remote"),
    ("Supervisor", "Oversees all technicians of the lab", "master"),
]

# Roles of other groups: must never be migrated by the group-11 mapping.
ROLES_OTHER: list[tuple[int, str, str | None]] = [
    (3, "Manufacturing Tech (Plant 2)", None),
    (3, "Sectioning Night", None),
    (3, "Designing Trainee", None),
    (7, "Remote Support", None),
    (7, "Manufacturing Temp", None),
    (7, "Designing Contractor", "External design house"),
    (3, "Manufacturing Plant 2 Lead", None),
    (9, "Remote Scan Intake", None),
    (9, "Sectioning Backup", None),
]

GROUPS = [(3, "Plant 2"), (7, "Contractors"), (9, "Intake"), (GROUP, "Main lab")]
MANUFACTURERS = [
    "Ormco",
    "3M Unitek",
    "American Orthodontics",
    "Dentsply",
    "GAC",
    "Ortho Technology",
]
STYLES = ["Roth", "MBT", "Damon", "Edgewise", "Self-ligating", "Ceramic", "Lingual", "Mini"]
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Goran",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomas",
]
LAST = [
    "Silva",
    "Okafor",
    "Nguyen",
    "Kowalski",
    "Haddad",
    "Jensen",
    "Moreau",
    "Tanaka",
    "Ivanova",
    "Garcia",
    "Novak",
    "Adeyemi",
    "Larsen",
    "Rossi",
    "Kim",
    "Petrov",
    "Diaz",
    "Ahmed",
]
TECHNICIANS = 40
BRACKETS = 1569

LEGACY_DDL = """
CREATE TABLE dispatch_group (id SERIAL PRIMARY KEY, group_name VARCHAR(60) NOT NULL);
CREATE TABLE dispatch_technician (
  tech_id SERIAL PRIMARY KEY, tech_nm VARCHAR(80), email_addr VARCHAR(120),
  active_flg CHAR(1), hire_dt VARCHAR(10), group_id INTEGER);
CREATE TABLE dispatch_role (
  id SERIAL PRIMARY KEY, group_id INTEGER NOT NULL REFERENCES dispatch_group(id),
  role_name VARCHAR(80) NOT NULL, description TEXT, technician_id INTEGER, is_active SMALLINT,
  created_ts TIMESTAMP);
CREATE TABLE brackets (
  bracket_id SERIAL PRIMARY KEY, bracket_cd VARCHAR(20), bracket_nm VARCHAR(120),
  mfr_nm VARCHAR(60), unit_price VARCHAR(20), in_stock_flg CHAR(1), created_dt VARCHAR(12));
"""

TARGET_DDL = """
CREATE TYPE technician_type AS ENUM
  ('manufacturing', 'sectioning', 'designing', 'remote', 'master');
CREATE TABLE technician_profiles (
  id UUID PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT,
  is_active BOOLEAN NOT NULL DEFAULT true, hired_on DATE);
CREATE TABLE technician_roles (
  id UUID PRIMARY KEY, name TEXT NOT NULL, role_type technician_type NOT NULL, description TEXT,
  technician_id UUID REFERENCES technician_profiles(id), is_active BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMPTZ);
CREATE TABLE brackets (
  id UUID PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, manufacturer TEXT,
  unit_price NUMERIC(10, 2), in_stock BOOLEAN, created_on DATE);
"""


def _rows() -> dict[str, list[tuple[Any, ...]]]:
    rng = random.Random(20250818)
    techs = []
    for i in range(1, TECHNICIANS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        hired = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2008, 2024)}"
        # The legacy system kept one name field: "Last, First" (some entered "First Last").
        full = f"{first} {last}" if i % 7 == 0 else f"{last}, {first}"
        techs.append(
            (
                i,
                full,
                f"{first}.{last}{i}@lab.example".lower(),
                rng.choice("YYYYN"),
                hired,
                rng.choice([g for g, _ in GROUPS]),
            )
        )
    roles = []
    rid = 100
    ordered = [(GROUP, n, d) for n, d, _ in ROLES_GROUP_11] + ROLES_OTHER
    rng.shuffle(ordered)
    for group, name, desc in ordered:
        rid += rng.randint(1, 3)
        tech = rng.choice([None, *range(1, TECHNICIANS + 1)])
        roles.append(
            (
                rid,
                group,
                name,
                desc,
                tech,
                rng.choice([1, 1, 1, 0]),
                f"20{rng.randint(15, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                f"{rng.randint(6, 18):02d}:{rng.randint(0, 59):02d}:00",
            )
        )
    brackets = []
    for i in range(1, BRACKETS + 1):
        price = rng.choice([rng.uniform(2, 90), rng.uniform(900, 2500)])
        created = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2010, 2024)}"
        brackets.append(
            (
                i,
                f"BR-{i:05d}",
                f"{rng.choice(STYLES)} bracket {rng.randint(1, 47)}",
                rng.choice(MANUFACTURERS),
                f"${price:,.2f}",
                rng.choice("TTTF"),
                created,
            )
        )
    return {
        "dispatch_group": GROUPS,
        "dispatch_technician": techs,
        "dispatch_role": roles,
        "brackets": brackets,
    }


def install_legacy(dsn: str, *, schema: str = "public", only_if_missing: bool = False) -> None:
    """Create and fill the legacy tables (replace any previous copy unless ``only_if_missing``)."""
    with connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        if only_if_missing and scalar(conn.execute("SELECT to_regclass('dispatch_role')")):
            return
        for t in ("dispatch_role", "dispatch_technician", "dispatch_group", "brackets"):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(t)))
        conn.execute(LEGACY_DDL)
        with conn.cursor() as cur:
            for table, rows in _rows().items():
                with cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as cp:
                    for row in rows:
                        cp.write_row(row)
        conn.commit()


def install_target(dsn: str, *, schema: str = "public") -> None:
    """Create the redesigned target schema if it is not there yet (never drops data)."""
    with connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        exists = scalar(conn.execute("SELECT to_regclass('technician_roles')"))
        if not exists:
            conn.execute(TARGET_DDL)
        conn.commit()


def expected_role_types() -> dict[str, str]:
    return {name: kind for name, _, kind in ROLES_GROUP_11}
