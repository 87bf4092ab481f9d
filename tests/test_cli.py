"""`dbmigrate plan` and `run` as a user calls them, on schemas the project has never seen."""

import json
from pathlib import Path

from bench.accuracy import install
from bench.accuracy_cases import hr
from tests import shop_fixture
from tests.conftest import dbmigrate as cli
from tests.conftest import execute, query


def test_plan_then_run_yes_on_an_unseen_schema(make_db, tmp_path: Path) -> None:
    src, tgt = make_db("hr_src"), make_db("hr_tgt")
    install(hr(), src, tgt)
    project = tmp_path / "hr"
    planned = cli("plan", "--source", src, "--target", tgt, "--project", str(project))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "employees" in planned.stdout and "emp" in planned.stdout
    assert (project / "mappings" / "employees.yaml").exists()
    ran = cli("run", "--project", str(project), "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert query(tgt, "SELECT count(*) FROM employees")[0][0] == 800
    report = json.loads((project / "report.json").read_text())
    assert report["passed"] and {t["target"] for t in report["tables"]} == {
        "departments",
        "employees",
    }
    status = cli("status", "--project", str(project))
    assert "completed" in status.stdout and "employees" in status.stdout


def test_run_without_answers_stops_and_says_where(make_db, tmp_path: Path) -> None:
    src, tgt = make_db("s"), make_db("t")
    execute(
        src,
        "CREATE TABLE tickets (id INT PRIMARY KEY, prio TEXT); "
        "INSERT INTO tickets VALUES (1, 'P1'), (2, 'urgent'), (3, 'zzz');",
    )
    execute(
        tgt,
        "CREATE TYPE priority AS ENUM ('low', 'high', 'urgent'); "
        "CREATE TABLE tickets (id UUID PRIMARY KEY, priority priority);",
    )
    project = tmp_path / "t"
    assert cli("plan", "--source", src, "--target", tgt, "--project", str(project)).returncode == 0
    ran = cli("run", "--project", str(project))
    assert ran.returncode == 2
    assert "mappings/tickets.yaml" in ran.stdout and "--yes" in ran.stdout
    assert query(tgt, "SELECT count(*) FROM tickets")[0][0] == 0  # nothing written


def test_failed_table_exits_nonzero_with_the_reasons_in_the_report(make_db, tmp_path: Path) -> None:
    src, tgt = make_db("shop_s"), make_db("shop_t")
    shop_fixture.install(src, tgt)
    project = tmp_path / "shop"
    assert cli("plan", "--source", src, "--target", tgt, "--project", str(project)).returncode == 0
    ran = cli("run", "--project", str(project), "--yes")
    assert ran.returncode == 1
    report = json.loads((project / "report.json").read_text())
    assert report["passed"] is False
    customers = next(t for t in report["tables"] if t["target"] == "customers")
    assert customers["rows_rejected"] == 2 and customers["rows_migrated"] == 5
    execution = next(c for c in customers["checks"] if c["name"] == "execution")
    assert not execution["passed"] and "threshold" in execution["detail"]
    assert any("not a date" in r["reason"] for r in customers["reject_samples"])
    md = (project / "report.md").read_text()
    assert "Attention needed" in md and "not a date" in md


def test_a_plan_against_a_missing_database_names_the_side_and_leaves_nothing(
    make_db, tmp_path: Path
) -> None:
    src = make_db("cli_src")
    name = src.split("@/", 1)[1].split("?", 1)[0]
    missing = src.replace(f"@/{name}", "@/no_such_db")
    project = tmp_path / "never"
    out = cli("plan", "--source", src, "--target", missing, "--project", str(project))
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert "target database" in text and "no_such_db" in text and "does not exist" in text
    assert "Traceback" not in text
    assert not project.exists()  # no .env holding the DSNs, no half-written project
