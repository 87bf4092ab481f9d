"""Supabase-style targets: writes run under SET ROLE, so row-level security decides what lands."""

from pathlib import Path

import yaml

from agents.project import Project
from agents.workflow import apply_review, plan_project
from demo.legacy_db import REVIEW_FILE, install_legacy, install_target
from migration_assets.runner import run_project
from tests.conftest import execute, query

SECRET = "service-role-Key-123"

RLS_SETUP = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbm_migrator') THEN
    CREATE ROLE dbm_migrator NOLOGIN;
  END IF;
END $$;
GRANT USAGE, CREATE ON SCHEMA public TO dbm_migrator;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dbm_migrator;
ALTER TABLE brackets ENABLE ROW LEVEL SECURITY;
ALTER TABLE brackets FORCE ROW LEVEL SECURITY;
CREATE POLICY migrator_reads ON brackets FOR SELECT TO dbm_migrator USING (true);
CREATE POLICY migrator_writes ON brackets FOR INSERT TO dbm_migrator
  WITH CHECK (code <> 'BR-00010');
CREATE POLICY migrator_updates ON brackets FOR UPDATE TO dbm_migrator USING (true)
  WITH CHECK (code <> 'BR-00010');
"""


def test_writes_under_set_role_obey_row_level_security(make_db, tmp_path: Path) -> None:
    src = make_db("rls_src")
    tgt_plain = make_db("rls_tgt")
    install_legacy(src)
    install_target(tgt_plain)
    execute(tgt_plain, RLS_SETUP)
    tgt = tgt_plain.replace("postgres:@", f"postgres:{SECRET}@")  # a key-bearing DSN
    project = Project.create(tmp_path / "rls", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    apply_review(project, REVIEW_FILE)
    settings = yaml.safe_load((project.root / "project.yaml").read_text())
    settings["target_role"] = "dbm_migrator"
    (project.root / "project.yaml").write_text(yaml.safe_dump(settings))

    outcome = run_project(project.root, accept_proposals=False)
    assert outcome.success, outcome.failures
    # The policy refused exactly one row; it is in the rejects table with the database's words.
    assert query(tgt_plain, "SELECT count(*) FROM brackets")[0][0] == 1568
    [(legacy, reason)] = query(
        tgt_plain,
        "SELECT legacy_id, reason FROM dbmigrate.migration_rejects WHERE entity_type = 'brackets'",
    )
    assert legacy == "10" and "row-level security" in reason
    # The rows were written as the role, not as the connecting superuser.
    owner = query(
        tgt_plain, "SELECT tableowner FROM pg_tables WHERE tablename = 'migration_mappings'"
    )
    assert owner == [("dbm_migrator",)]
    brackets = next(t for t in outcome.report.tables if t.target == "brackets")
    assert (brackets.rows_migrated, brackets.rows_rejected) == (1568, 1)
    assert all(c.passed for c in brackets.checks)
    # The key-bearing DSN never reaches a file a person or a log reads.
    for path in project.root.rglob("*"):
        if path.is_file() and path.name != ".env" and ".pg" not in path.parts:
            assert SECRET not in path.read_text(errors="ignore"), path


# Supabase's API roles as Supabase creates them: PostgREST serves whatever they may read.
SUPABASE_ROLES = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO anon, authenticated;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated;
-- An older dbmigrate kept its bookkeeping in public: one mapping row of an earlier run.
CREATE TABLE public.migration_mappings (
  entity_type VARCHAR COLLATE "C" NOT NULL, legacy_id BIGINT NOT NULL, new_id UUID NOT NULL,
  migrated_at TIMESTAMPTZ NOT NULL DEFAULT now(), migration_batch VARCHAR NOT NULL,
  PRIMARY KEY (entity_type, legacy_id));
INSERT INTO public.migration_mappings VALUES
  ('earlier_table', 7, '00000000-0000-8000-8000-000000000007', now(), 'old-run');
"""


def test_bookkeeping_lives_in_its_own_schema_that_supabase_api_roles_cannot_read(
    make_db, tmp_path: Path
) -> None:
    src, tgt = make_db("sb_src"), make_db("sb_tgt")
    install_legacy(src)
    install_target(tgt)
    execute(tgt, RLS_SETUP + SUPABASE_ROLES)
    project = Project.create(tmp_path / "sb", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    apply_review(project, REVIEW_FILE)
    settings = yaml.safe_load((project.root / "project.yaml").read_text())
    assert settings["bookkeeping_schema"] == "dbmigrate"
    settings["target_role"] = "dbm_migrator"
    (project.root / "project.yaml").write_text(yaml.safe_dump(settings))

    outcome = run_project(project.root, accept_proposals=False)
    assert outcome.success, outcome.failures
    # Nothing of the migration's own is left in the schema the API exposes.
    assert (
        query(
            tgt,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE 'migration%%' ORDER BY 1",
        )
        == []
    )
    # The earlier run's mapping moved with its table.
    assert query(
        tgt,
        "SELECT legacy_id FROM dbmigrate.migration_mappings WHERE entity_type = 'earlier_table'",
    ) == [(7,)]
    # The API roles can read neither the rejects nor the mappings, not even the schema.
    for role in ("anon", "authenticated"):
        assert query(tgt, "SELECT has_schema_privilege(%s, 'dbmigrate', 'USAGE')", (role,)) == [
            (False,)
        ]
        for table in ("migration_rejects", "migration_mappings", "migration_control"):
            assert query(
                tgt, "SELECT has_table_privilege(%s, %s, 'SELECT')", (role, f"dbmigrate.{table}")
            ) == [(False,)]
    # ... while the migration wrote under SET ROLE, RLS judging: the refused row is a reject.
    assert query(
        tgt, "SELECT count(*) FROM dbmigrate.migration_rejects WHERE entity_type = 'brackets'"
    ) == [(1,)]
