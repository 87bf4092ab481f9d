"""Which project the definitions describe, read once when the code location loads.

Asset *shapes* (which tables, which FK edges) come from the project files; asset *execution* reads
them again through the ``MigrationProject`` resource, so an edited mapping applies on the next
run without reloading the code location.
"""

import os
from pathlib import Path

from agents.models import DatabaseSchema, MigrationPlan, TableMapping
from agents.project import SOURCE_ENV, TARGET_ENV, Project

PROJECT_ENV = "DBMIGRATE_PROJECT"
DEFAULT_PROJECT = Path(".dbmigrate/demo")


def project_dir() -> Path:
    return Path(os.environ.get(PROJECT_ENV) or DEFAULT_PROJECT).resolve()


def load_project() -> tuple[Project, MigrationPlan, DatabaseSchema, dict[str, TableMapping]] | None:
    root = project_dir()
    if not (root / "plan.yaml").exists():
        return None
    project = Project.load(root)
    if project.settings.embedded:
        # `dagster dev -w workspace.yaml` on the demo project: the embedded server must answer
        # for runs; start it (or attach to it) and leave it running for the run workers.
        from resources.embedded_postgres import start

        start(root / ".pg", keep_running=True)
    src, tgt = project.dsns()
    # Resources read DSNs through EnvVar; make the project's private .env visible to them.
    os.environ[SOURCE_ENV], os.environ[TARGET_ENV] = src, tgt
    plan = project.load_plan()
    mappings = {m.target: m for m in project.load_mappings()}
    return project, plan, project.load_schema("source"), mappings
