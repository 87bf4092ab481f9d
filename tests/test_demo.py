"""The demo end to end, as a user runs it: the CLI, then what is in the target database."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from demo.legacy_db import GROUP, ROLES_GROUP_11, ROLES_OTHER, expected_role_types
from tests.conftest import ROOT, query


def _demo(project: Path, src: str, tgt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "migration_assets.cli",
            "demo",
            "--source",
            src,
            "--target",
            tgt,
            "--project",
            str(project),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, pg_server):
    src = pg_server.create_database("demo_legacy", replace=True)
    tgt = pg_server.create_database("demo_target", replace=True)
    project = tmp_path_factory.mktemp("demo") / "proj"
    first = _demo(project, src, tgt)
    snapshot = {
        t: query(tgt, f"SELECT * FROM {t} ORDER BY id")
        for t in ("technician_roles", "technician_profiles", "brackets")
    }
    mappings_before = query(
        tgt, "SELECT entity_type, legacy_id, new_id FROM dbmigrate.migration_mappings ORDER BY 1, 2"
    )
    second = _demo(project, src, tgt)
    return {
        "src": src,
        "tgt": tgt,
        "project": project,
        "first": first,
        "second": second,
        "snapshot": snapshot,
        "mappings_before": mappings_before,
    }


def test_demo_exits_zero_and_says_passed(demo_run) -> None:
    first = demo_run["first"]
    assert first.returncode == 0, first.stdout + first.stderr
    assert "PASSED" in first.stdout
    assert "Supervisor" in first.stdout  # the decision was shown to the human


def test_group_11_roles_migrate_with_seed_type_distribution(demo_run) -> None:
    rows = query(demo_run["tgt"], "SELECT name, role_type::text FROM technician_roles")
    assert len(rows) == 31
    assert Counter(t for _, t in rows) == Counter(
        {"manufacturing": 21, "sectioning": 4, "designing": 3, "remote": 2, "master": 1}
    )
    assert dict(rows) == expected_role_types()


def test_other_groups_are_not_migrated(demo_run) -> None:
    names = {n for (n,) in query(demo_run["tgt"], "SELECT name FROM technician_roles")}
    assert not names & {name for _, name, _ in ROLES_OTHER}
    other_ids = {
        i
        for (i,) in query(
            demo_run["src"], "SELECT id FROM dispatch_role WHERE group_id <> %s", (GROUP,)
        )
    }
    mapped = {
        i
        for (i,) in query(
            demo_run["tgt"],
            "SELECT legacy_id FROM dbmigrate.migration_mappings "
            "WHERE entity_type = 'technician_roles'",
        )
    }
    assert other_ids and not other_ids & mapped
    assert len(ROLES_GROUP_11) == 31


def test_brackets_and_values_are_converted(demo_run) -> None:
    tgt, src = demo_run["tgt"], demo_run["src"]
    assert query(tgt, "SELECT count(*) FROM brackets")[0][0] == 1569
    legacy = dict(query(src, "SELECT bracket_cd, unit_price FROM brackets"))
    for code, price in query(tgt, "SELECT code, unit_price::text FROM brackets LIMIT 50"):
        assert price == legacy[code].replace("$", "").replace(",", "")
    big = query(tgt, "SELECT count(*) FROM brackets WHERE unit_price > 999")[0][0]
    assert big > 0  # "$1,234.50" style values parsed, not rejected
    flags = dict(query(src, "SELECT bracket_cd, in_stock_flg FROM brackets"))
    for code, in_stock in query(tgt, "SELECT code, in_stock FROM brackets"):
        assert in_stock == (flags[code] == "T")


def test_every_migrated_legacy_id_has_one_mapping_row(demo_run) -> None:
    tgt = demo_run["tgt"]
    for table in ("technician_roles", "technician_profiles", "brackets"):
        rows, mapped = query(
            tgt,
            f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM "
            f"dbmigrate.migration_mappings m JOIN {table} t ON t.id = m.new_id "
            f"WHERE m.entity_type = '{table}')",
        )[0]
        assert rows == mapped > 0
    dupes = query(
        tgt,
        "SELECT entity_type, legacy_id FROM dbmigrate.migration_mappings "
        "GROUP BY 1, 2 HAVING count(*) > 1",
    )
    assert dupes == []


def test_role_foreign_keys_point_at_the_right_technician(demo_run) -> None:
    tgt, src = demo_run["tgt"], demo_run["src"]
    legacy = {
        name: tech
        for name, tech in query(
            src,
            "SELECT r.role_name, t.email_addr FROM dispatch_role r LEFT JOIN dispatch_technician"
            " t ON t.tech_id = r.technician_id WHERE r.group_id = 11",
        )
    }
    migrated = dict(
        query(
            tgt,
            "SELECT r.name, p.email FROM technician_roles r LEFT JOIN "
            "technician_profiles p ON p.id = r.technician_id",
        )
    )
    assert migrated == legacy


def test_second_run_changes_nothing(demo_run) -> None:
    second, tgt = demo_run["second"], demo_run["tgt"]
    assert second.returncode == 0, second.stdout + second.stderr
    for table, before in demo_run["snapshot"].items():
        assert query(tgt, f"SELECT * FROM {table} ORDER BY id") == before
    assert (
        query(
            tgt,
            "SELECT entity_type, legacy_id, new_id FROM dbmigrate.migration_mappings ORDER BY 1, 2",
        )
        == demo_run["mappings_before"]
    )


def test_report_json_has_the_documented_shape(demo_run) -> None:
    report = json.loads((demo_run["project"] / "report.json").read_text())
    assert report["passed"] is True
    by_target = {t["target"]: t for t in report["tables"]}
    roles = by_target["technician_roles"]
    assert roles["sources"] == ["dispatch_role"]
    assert (roles["rows_source"], roles["rows_migrated"], roles["rows_rejected"]) == (31, 31, 0)
    names = {c["name"] for c in roles["checks"]}
    assert {"schema", "reconciliation", "foreign_keys", "sample_values"} <= names
    assert all(c["passed"] and c["detail"] for c in roles["checks"])
    md = (demo_run["project"] / "report.md").read_text()
    assert "31 of 31 legacy rows" in md and "You answered **master**" in md


def test_report_and_project_files_hold_no_password(demo_run, tmp_path) -> None:
    project: Path = demo_run["project"]
    for name in ("report.md", "report.json", "project.yaml", "plan.yaml"):
        text = (project / name).read_text()
        assert "postgresql://" not in text or "***" in text


def test_names_are_split_by_sandboxed_code_and_audited(demo_run) -> None:
    src, tgt = demo_run["src"], demo_run["tgt"]
    legacy = dict(query(src, "SELECT email_addr, tech_nm FROM dispatch_technician"))
    for email, first, last in query(
        tgt, "SELECT email, first_name, last_name FROM technician_profiles"
    ):
        full = legacy[email]
        assert full in (f"{last}, {first}", f"{first} {last}")
    audits = query(
        tgt,
        "SELECT outcome, code_sha256, backend, rows_in, rows_out, limits "
        "FROM dbmigrate.migration_sandbox_audit WHERE table_name = 'technician_profiles'",
    )
    assert audits and all(a[0] == "ok" and len(a[1]) == 64 and a[3] == a[4] for a in audits)
    assert audits[0][5]["memory_mb"] == 512 and audits[0][2] in ("local", "docker")
    mapping = (demo_run["project"] / "mappings" / "technician_profiles.yaml").read_text()
    assert "kind: code" in mapping and "def transform(df)" in mapping
