"""Running a project's migration through Dagster from a plain process (the CLI, the tests).

The run uses the project's own persistent Dagster instance (``DIR/.dagster``), so `dbmigrate ui`
later shows the same run history, asset materializations and check results.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from agents.models import MigrationReport
from agents.project import SOURCE_ENV, TARGET_ENV, Project
from agents.reporting import assemble_report, write_report
from agents.workflow import load_run_inputs
from migration_assets.definitions import ACCEPT_ENV, MIGRATE_JOB, build_definitions
from migration_assets.project_context import PROJECT_ENV


@dataclass(frozen=True)
class RunOutcome:
    report: MigrationReport
    success: bool
    failures: list[str]


def project_instance(root: Path) -> dg.DagsterInstance:
    home = root / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _root_cause(error: object) -> str:
    """The innermost error's message: what the user can act on, not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    return str(getattr(error, "message", error)).strip()


def run_project(root: Path, *, accept_proposals: bool, log_level: str = "WARNING") -> RunOutcome:
    """Materialize every asset of the project in FK order and return the report."""
    root = root.resolve()
    project = Project.load(root)
    inputs = load_run_inputs(project, accept_proposals=accept_proposals)  # fail fast, clearly
    os.environ[PROJECT_ENV] = str(root)
    # The resources read DSNs through EnvVar: point them at *this* project.
    os.environ[SOURCE_ENV], os.environ[TARGET_ENV] = project.dsns()
    os.environ[ACCEPT_ENV] = "1" if accept_proposals else "0"
    defs = build_definitions(accept_proposals=accept_proposals)
    job = defs.resolve_job_def(MIGRATE_JOB)
    with project_instance(root) as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    failures = [
        _root_cause(e.event_specific_data.error)  # type: ignore[union-attr]
        for e in result.all_events
        if e.is_step_failure and e.event_specific_data
    ]

    if result.success:
        report = MigrationReport.model_validate_json((root / "report.json").read_text())
    else:  # the report asset did not run because a table failed; the owner still gets a report
        report = assemble_report(inputs)
        write_report(inputs, report)
    return RunOutcome(report=report, success=result.success, failures=failures)
