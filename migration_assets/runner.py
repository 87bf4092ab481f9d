"""Running a project's migration through Dagster from a plain process (the CLI, the tests).

The run uses the project's own persistent Dagster instance (``DIR/.dagster``), so `dbmigrate ui`
later shows the same run history, asset materializations and check results.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from agents.errors import MigrationError
from agents.execution import finish_ranges, park_for_ranges
from agents.models import MigrationReport
from agents.project import SOURCE_ENV, TARGET_ENV, Project
from agents.reporting import assemble_report, write_report
from agents.workflow import RunInputs, load_run_inputs
from migration_assets.definitions import ACCEPT_ENV, MIGRATE_JOB, build_definitions
from migration_assets.keys import REPORT_KEY, target_key, validation_key
from migration_assets.project_context import PROJECT_ENV
from migration_assets.run_log import log_path


@dataclass(frozen=True)
class RunOutcome:
    report: MigrationReport
    success: bool
    failures: list[str]


def project_instance(root: Path) -> dg.DagsterInstance:
    home = root / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or "nux:" not in config.read_text():
        # No telemetry (nothing leaves the machine), no first-visit dialog over every page.
        config.write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
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
    partitions = {tp.target: tp.partitions for tp in inputs.plan.tables if tp.partitions}
    with project_instance(root) as instance:
        if partitions:
            success, failures = _run_staged(
                job, instance, inputs, partitions, accept_proposals, log_level
            )
        else:
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=_run_config(log_level, root)
            )
            success, failures = result.success, _failures(result)
    report_file = root / "report.json"
    if success and report_file.exists():
        report = MigrationReport.model_validate_json(report_file.read_text())
    else:  # the report asset did not run because a table failed; the owner still gets a report
        report = assemble_report(inputs)
        write_report(inputs, report)
    return RunOutcome(report=report, success=success, failures=failures)


def _run_config(log_level: str, root: Path | None = None) -> dict[str, Any]:
    """The console shows ``log_level`` and up (the CLI keeps it quiet: it prints one paragraph
    per failure itself); the project's log file gets everything, tracebacks included."""
    loggers: dict[str, Any] = {"console": {"config": {"log_level": log_level}}}
    if root is not None:
        loggers["project_file"] = {"config": {"path": str(log_path(root)), "log_level": "DEBUG"}}
    return {"loggers": loggers}


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        _root_cause(e.event_specific_data.error)  # type: ignore[union-attr]
        for e in result.all_events
        if e.is_step_failure and e.event_specific_data
    ]


def _run_staged(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    inputs: RunInputs,
    partitions: dict[str, list[str]],
    accept_proposals: bool,
    log_level: str,
) -> tuple[bool, list[str]]:
    """With partitioned tables: targets one by one in FK order, a partitioned table's key
    ranges in parallel processes (one Dagster run each, as a backfill would), then the report.

    This process coordinates each partitioned table's bulk mode: it parks the table's keys
    once before its ranges and rebuilds them after the last (ranges cannot safely do that for
    each other)."""
    order = inputs.plan.order
    root = inputs.project.root

    def run(keys: list[dg.AssetKey]) -> bool:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys,
            raise_on_error=False,
            run_config=_run_config(log_level, root),
        )
        failures.extend(_failures(result))
        return result.success

    failures: list[str] = []
    graph = job.asset_layer.asset_graph
    upstream = [k for k in graph.get_all_asset_keys() if k.path[0] in ("legacy", "mapping")]
    ok = run(upstream)
    for target in order:
        if not ok:
            break
        if target not in partitions:
            ok = run([target_key(target)])
            continue
        mapping = inputs.mappings[target]
        tinfo = inputs.target.table(target)
        source_dsn, target_dsn = inputs.project.dsns()
        try:
            parked = park_for_ranges(source_dsn, target_dsn, mapping, tinfo, inputs.settings)
        except MigrationError as exc:
            failures.append(str(exc))
            ok = False
            break
        context = multiprocessing.get_context("spawn")  # no inherited threads or connections
        try:
            with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
                outcomes = list(
                    pool.map(
                        _run_partition,
                        [target] * len(partitions[target]),
                        partitions[target],
                        [accept_proposals] * len(partitions[target]),
                        [log_level] * len(partitions[target]),
                    )
                )
        finally:
            if parked:
                try:
                    finish_ranges(target_dsn, tinfo, inputs.settings)
                except MigrationError as exc:
                    failures.append(str(exc))
                    ok = False
        for part_ok, part_failures in outcomes:
            ok = ok and part_ok
            failures.extend(part_failures)
        ok = ok and run([validation_key(target)])
    if ok:
        ok = run([REPORT_KEY])
    return ok, failures


def _run_partition(
    target: str, partition: str, accept_proposals: bool, log_level: str
) -> tuple[bool, list[str]]:
    """One key range of one table, in its own process and Dagster run."""
    defs = build_definitions(accept_proposals=accept_proposals)
    job = defs.resolve_job_def(MIGRATE_JOB)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[target_key(target)],
            partition_key=partition,
            raise_on_error=False,
            run_config=_run_config(log_level, Path(os.environ[PROJECT_ENV])),
        )
    return result.success, _failures(result)
