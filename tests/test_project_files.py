"""Reviewable files: errors point at file and line; reviewed answers survive a re-plan."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from agents.errors import MappingError
from agents.project import Project
from agents.workflow import apply_review, plan_project
from demo.legacy_db import REVIEW_FILE, install_legacy, install_target


@pytest.fixture
def demo_project(make_db, tmp_path: Path) -> Project:
    src, tgt = make_db("legacy"), make_db("target")
    install_legacy(src)
    install_target(tgt)
    project = Project.create(tmp_path / "p", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    return project


def test_typo_in_mapping_file_names_file_and_line(demo_project: Project) -> None:
    path = demo_project.mapping_path("technician_roles")
    lines = path.read_text().splitlines()
    idx = next(i for i, ln in enumerate(lines) if ln.strip() == "kind: enum")
    lines[idx] = lines[idx].replace("enum", "enumm")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MappingError) as err:
        demo_project.load_mapping("technician_roles")
    assert f"technician_roles.yaml:{idx + 1}:" in str(err.value)
    assert "columns." in str(err.value) and "kind" in str(err.value)


def test_broken_yaml_names_the_line(demo_project: Project) -> None:
    path = demo_project.mapping_path("brackets")
    path.write_text(path.read_text() + "columns: [unclosed\n")
    with pytest.raises(MappingError, match=r"brackets.yaml:\d+: not valid YAML"):
        demo_project.load_mapping("brackets")


def test_unknown_key_is_refused(demo_project: Project) -> None:
    path = demo_project.mapping_path("brackets")
    path.write_text(path.read_text() + "colums: []\n")
    with pytest.raises(MappingError, match=r"colums.*Extra inputs are not permitted"):
        demo_project.load_mapping("brackets")


def test_reviewed_answers_survive_a_replan(demo_project: Project) -> None:
    apply_review(demo_project, REVIEW_FILE)
    namespace = demo_project.settings.namespace
    plan_project(Project.load(demo_project.root))
    mapping = demo_project.load_mapping("technician_roles")
    answers = {d.id: d.answer for d in mapping.decisions}
    assert answers["technician_roles.role_type.value:Supervisor"] == "master"
    assert mapping.filters[0].column == "group_id"
    assert Project.load(demo_project.root).settings.namespace == namespace


def test_dsns_stay_out_of_project_yaml(make_db, tmp_path: Path) -> None:
    dsn = make_db("x").replace("postgres:@", "postgres:Sup3rSecret@")
    project = Project.create(tmp_path / "s", source_dsn=dsn, target_dsn=dsn)
    assert "Sup3rSecret" not in (project.root / "project.yaml").read_text()
    assert (project.root / ".env").stat().st_mode & 0o077 == 0


def test_definitions_load_and_lineage_follows_foreign_keys(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBMIGRATE_PROJECT", str(demo_project.root))
    from migration_assets.definitions import build_definitions

    defs = build_definitions()
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    roles = dg.AssetKey(["target", "technician_roles"])
    parents = graph.get(roles).parent_keys
    assert {
        dg.AssetKey(["target", "technician_profiles"]),
        dg.AssetKey(["mapping", "mapping_technician_roles"]),
        dg.AssetKey(["legacy", "legacy_dispatch_role"]),
    } <= parents
    checks = {k.name for k in graph.asset_check_keys if k.asset_key == roles}
    assert checks == {"schema", "reconciliation", "foreign_keys", "sample_values", "checksums"}
    report = graph.get(dg.AssetKey(["migration_report"])).parent_keys
    assert roles in report


def test_replanning_keeps_the_settings_the_owner_edited(tmp_path: Path) -> None:
    first = Project.create(
        tmp_path / "p", source_dsn="postgresql://a@h/s", target_dsn="postgresql://a@h/t"
    )
    edited = yaml.safe_load((first.root / "project.yaml").read_text())
    edited.update(partition_rows=5_000_000, max_reject_ratio=0.2, delete_policy="delete")
    (first.root / "project.yaml").write_text(yaml.safe_dump(edited))
    again = Project.create(
        first.root, source_dsn="postgresql://a:pw@h2/s", target_dsn="postgresql://a@h/t"
    )
    s = Project.load(again.root).settings
    assert (s.partition_rows, s.max_reject_ratio, s.delete_policy) == (5_000_000, 0.2, "delete")
    assert s.namespace == first.settings.namespace
    assert s.source_display == "postgresql://a:***@h2/s"  # what the new plan was given
