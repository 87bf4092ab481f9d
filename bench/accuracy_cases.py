"""Three legacy -> redesign pairs from different domains, each with its known right answer.

Every generator returns the legacy rows *and* what each target cell must hold (the oracle), so
accuracy is measured against truth written independently of the mapping agents.
"""

import random
from dataclasses import dataclass, field
from typing import Any

Cell = str | None


@dataclass
class Case:
    name: str
    legacy_ddl: str
    target_ddl: str
    rows: dict[str, list[tuple[Any, ...]]]
    expected: dict[str, dict[int, dict[str, Cell]]]  # target -> legacy id -> column -> text
    columns: dict[str, dict[str, str]]  # target -> target column -> legacy column
    values: dict[tuple[str, str], dict[str, str]]  # (target, column) -> legacy value -> label
    fks: dict[tuple[str, str], str] = field(default_factory=dict)  # (target, col) -> parent


def clinic(seed: int = 1) -> Case:
    rng = random.Random(seed)
    sex = {"M": "male", "F": "female", "U": "unknown", "m": "male", " f": "female"}
    status = {
        "Sched": "scheduled",
        "DONE": "completed",
        "No-Show": "no_show",
        "cancelled": "cancelled",
        "canc.": "cancelled",
        "Completed": "completed",
    }
    patients, exp_p, appts, exp_a = [], {}, [], {}
    for i in range(1, 301):
        d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2015)
        s = rng.choice(list(sex))
        ins = rng.choice("YN")
        ts = (
            f"2020-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:15:00"
        )
        first, last = rng.choice(["Ana", "Ravi", "Mei", "Olu"]), rng.choice(["Diaz", "Khan", "Li"])
        patients.append((i, first, last, f"{d:02d}.{m:02d}.{y}", s, ins, ts))
        exp_p[i] = {
            "first_name": first,
            "last_name": last,
            "birth_date": f"{y}-{m:02d}-{d:02d}",
            "sex": sex[s],
            "insured": "true" if ins == "Y" else "false",
            "registered_at": ts + "+00",
        }
    for j in range(1, 1201):
        pid = rng.randint(1, 300)
        st = rng.choice(list(status))
        fee = rng.randint(20, 400)
        cents = rng.choice([0, 50])
        when = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(8, 17):02d}:30"
        appts.append((1000 + j, pid, when, st, f"€{fee},{cents:02d}", rng.choice([None, "f/u"])))
        exp_a[1000 + j] = {
            "patient_id": str(pid),
            "scheduled_at": when + ":00+00",
            "status": status[st],
            "fee": f"{fee}.{cents:02d}",
            "notes": appts[-1][5],
        }
    return Case(
        name="clinic",
        legacy_ddl="""
CREATE TABLE tbl_patients (pat_id INT PRIMARY KEY, pat_fname TEXT, pat_lname TEXT, dob TEXT,
  sex_cd CHAR(2), ins_flg CHAR(1), reg_ts TIMESTAMP);
CREATE TABLE appt (appt_no INT PRIMARY KEY, pat_id INT, appt_dt TEXT, appt_status TEXT,
  fee_amt TEXT, appt_notes TEXT);""",
        target_ddl="""
CREATE TYPE sex_type AS ENUM ('male', 'female', 'unknown');
CREATE TYPE appointment_status AS ENUM ('scheduled', 'completed', 'no_show', 'cancelled');
CREATE TABLE patients (id UUID PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
  birth_date DATE, sex sex_type, insured BOOLEAN, registered_at TIMESTAMPTZ);
CREATE TABLE appointments (id UUID PRIMARY KEY, patient_id UUID NOT NULL REFERENCES patients(id),
  scheduled_at TIMESTAMPTZ, status appointment_status NOT NULL, fee NUMERIC(10, 2), notes TEXT);""",
        rows={"tbl_patients": patients, "appt": appts},
        expected={"patients": exp_p, "appointments": exp_a},
        columns={
            "patients": {
                "first_name": "pat_fname",
                "last_name": "pat_lname",
                "birth_date": "dob",
                "sex": "sex_cd",
                "insured": "ins_flg",
                "registered_at": "reg_ts",
            },
            "appointments": {
                "patient_id": "pat_id",
                "scheduled_at": "appt_dt",
                "status": "appt_status",
                "fee": "fee_amt",
                "notes": "appt_notes",
            },
        },
        values={("patients", "sex"): sex, ("appointments", "status"): status},
        fks={("appointments", "patient_id"): "patients"},
    )


def hr(seed: int = 2) -> Case:
    rng = random.Random(seed)
    kinds = {
        "FT": "full_time",
        "PT": "part_time",
        "CONTR": "contractor",
        "Full-Time": "full_time",
        "part time": "part_time",
    }
    depts = [(1, "ENG", "Engineering"), (2, "OPS", "Operations"), (3, "FIN", "Finance")]
    exp_d = {i: {"code": c, "name": n} for i, c, n in depts}
    emps, exp_e = [], {}
    for i in range(1, 801):
        dep = rng.randint(1, 3)
        m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(2000, 2024)
        sal = rng.randint(40, 200) * 1000 + rng.choice([0, 500])
        active = rng.choice("YYYN")
        term = None if active == "Y" else f"{rng.randint(1, 12):02d}/{rng.randint(13, 28):02d}/2024"
        k = rng.choice(list(kinds))
        first, last = rng.choice(["Jo", "Sam", "Kai"]), rng.choice(["Berg", "Ng", "Ortiz"])
        emps.append(
            (
                i,
                dep,
                first,
                last,
                f"{first}.{last}{i}@corp.example".lower(),
                f"{m:02d}/{d:02d}/{y}",
                f"${sal:,.2f}",
                active,
                term,
                k,
            )
        )
        tm, td = (term.split("/")[0], term.split("/")[1]) if term else (None, None)
        exp_e[i] = {
            "department_id": str(dep),
            "first_name": first,
            "last_name": last,
            "email": emps[-1][4],
            "hired_on": f"{y}-{m:02d}-{d:02d}",
            "salary": f"{sal}.00",
            "is_active": "true" if active == "Y" else "false",
            "terminated_on": f"2024-{tm}-{td}" if term else None,
            "employment_type": kinds[k],
        }
    return Case(
        name="hr",
        legacy_ddl="""
CREATE TABLE dept (dept_id INT PRIMARY KEY, dept_cd TEXT, dept_nm TEXT);
CREATE TABLE emp (emp_no INT PRIMARY KEY, dept_id INT, first_nm TEXT, last_nm TEXT,
  email_addr TEXT, hire_dt TEXT, salary_amt TEXT, active_yn CHAR(1), term_dt TEXT,
  emp_typ TEXT);""",
        target_ddl="""
CREATE TYPE employment_type AS ENUM ('full_time', 'part_time', 'contractor');
CREATE TABLE departments (id UUID PRIMARY KEY, code TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE employees (id UUID PRIMARY KEY, department_id UUID REFERENCES departments(id),
  first_name TEXT, last_name TEXT, email TEXT, hired_on DATE, salary NUMERIC(12, 2),
  is_active BOOLEAN, terminated_on DATE, employment_type employment_type);""",
        rows={"dept": depts, "emp": emps},
        expected={"departments": exp_d, "employees": exp_e},
        columns={
            "departments": {"code": "dept_cd", "name": "dept_nm"},
            "employees": {
                "department_id": "dept_id",
                "first_name": "first_nm",
                "last_name": "last_nm",
                "email": "email_addr",
                "hired_on": "hire_dt",
                "salary": "salary_amt",
                "is_active": "active_yn",
                "terminated_on": "term_dt",
                "employment_type": "emp_typ",
            },
        },
        values={("employees", "employment_type"): kinds},
        fks={("employees", "department_id"): "departments"},
    )


def logistics(seed: int = 3) -> Case:
    rng = random.Random(seed)
    status = {
        "IN TRANSIT": "in_transit",
        "delivered": "delivered",
        "DLVRD": "delivered",
        "exception": "exception",
        "EXCPT": "exception",
        "RTS": "returned",
    }
    carriers = [(7, "Northwind Freight", "NWFR"), (8, "Blue Box", "BLBX"), (9, "Ferro", "FERR")]
    exp_c = {i: {"name": n, "scac": s} for i, n, s in carriers}
    ships, exp_s = [], {}
    zones = ["+00:00", "+01:00", "-05:00"]
    for i in range(1, 2001):
        car = rng.randint(7, 9)
        st = rng.choices(list(status), weights=[30, 30, 20, 8, 8, 4])[0]
        kg, frac = rng.randint(1, 900), rng.randint(0, 9)
        h = rng.randint(5, 18)
        z = rng.choice(zones)
        ts = f"2024-03-{rng.randint(1, 28):02d}T{h:02d}:00:00{z}"
        utc_h = h - int(z[:3])
        ships.append(
            (
                i,
                car,
                f"REF-{i:06d}",
                rng.choice(["Oslo", "Lyon"]),
                rng.choice(["Porto", "Riga"]),
                f"{kg}.{frac}",
                st,
                ts,
            )
        )
        exp_s[i] = {
            "carrier_id": str(car),
            "customer_reference": f"REF-{i:06d}",
            "origin_city": ships[-1][3],
            "destination_city": ships[-1][4],
            "weight_kg": f"{kg}.{frac}",
            "status": status[st],
            "shipped_at": f"{ts[:10]} {utc_h:02d}:00:00+00",
        }
    return Case(
        name="logistics",
        legacy_ddl="""
CREATE TABLE carrier (car_id INT PRIMARY KEY, car_nm TEXT, scac_cd TEXT);
CREATE TABLE shipmnt (shp_id INT PRIMARY KEY, car_id INT, cust_ref TEXT, orig_cty TEXT,
  dest_cty TEXT, wt_kg TEXT, shp_status TEXT, ship_ts TEXT);""",
        target_ddl="""
CREATE TYPE shipment_status AS ENUM ('in_transit', 'delivered', 'exception', 'returned');
CREATE TABLE carriers (id UUID PRIMARY KEY, name TEXT NOT NULL, scac TEXT);
CREATE TABLE shipments (id UUID PRIMARY KEY, carrier_id UUID REFERENCES carriers(id),
  customer_reference TEXT, origin_city TEXT, destination_city TEXT, weight_kg NUMERIC(8, 1),
  status shipment_status, shipped_at TIMESTAMPTZ);""",
        rows={"carrier": carriers, "shipmnt": ships},
        expected={"carriers": exp_c, "shipments": exp_s},
        columns={
            "carriers": {"name": "car_nm", "scac": "scac_cd"},
            "shipments": {
                "carrier_id": "car_id",
                "customer_reference": "cust_ref",
                "origin_city": "orig_cty",
                "destination_city": "dest_cty",
                "weight_kg": "wt_kg",
                "status": "shp_status",
                "shipped_at": "ship_ts",
            },
        },
        values={("shipments", "status"): status},
        fks={("shipments", "carrier_id"): "carriers"},
    )


CASES = [clinic, hr, logistics]
