"""``dbmigrate``: the command line (demo, plan, run, ui, status).

Exit codes: 0 when every validation passed, 1 when the run finished but a check failed or a table
was refused, 2 for a usage or configuration problem (with the message saying what to do).
"""

import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from agents.db import redact
from agents.errors import MigrationError
from agents.models import MigrationReport
from agents.project import Project
from agents.workflow import PlanResult, apply_review, make_advisor, plan_project

# Wide enough for table names when piped into a file or CI log (a terminal sets its own width).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
DEFAULT_DEMO_DIR = Path(".dbmigrate/demo")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    sys.exit(2)


def _quiet_logs() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    os.environ.setdefault("DAGSTER_LOG_LEVEL", "WARNING")


def _ensure_embedded(project: Project) -> None:
    """An embedded project needs its server running; start (or attach to) it."""
    if project.settings.embedded:
        from resources.embedded_postgres import start

        start(project.root / ".pg")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def print_plan(result: PlanResult) -> None:
    table = Table(title="Plan: legacy → target (load order)")
    for col in ("#", "target", "from legacy", "rows", "confidence", "why"):
        table.add_column(col)
    for i, tp in enumerate(result.plan.tables, 1):
        table.add_row(
            str(i),
            tp.target,
            tp.source or "[red]none[/]",
            str(tp.rows_estimate),
            f"{tp.confidence:.0%}",
            tp.rationale,
        )
    console.print(table)
    for w in result.plan.warnings:
        console.print(f"[yellow]![/] {w}")
    line = result.plan.review_threshold
    shaky = [tp for tp in result.plan.tables if tp.source and tp.confidence < line]
    if shaky:
        console.print(f"\n[bold]Pairings below {line:.0%} confidence[/] (check plan.yaml):")
        for tp in shaky:
            console.print(f"  {tp.target} ← {tp.source} ({tp.confidence:.0%}): {tp.rationale}")
    low = [(m.target, r) for m in result.mappings for r in m.columns if r.confidence < line]
    if low:
        console.print(
            f"\n[bold]Rules below {line:.0%} confidence[/] (review them in mappings/*.yaml):"
        )
        for t, r in low:
            origin = r.source or ("a fixed value" if r.value is not None else "nothing (empty)")
            console.print(f"  {t}.{r.target} ← {origin} ({r.kind}, {r.confidence:.0%})")
    open_ = result.open_decisions
    if open_:
        console.print(f"\n[bold]{len(open_)} decision(s) need a human[/]:")
        for d in open_:
            proposal = f"the agents propose {d.proposed}" if d.proposed else "no proposal"
            console.print(f"  ❓ {d.question} [dim]({d.id}; {proposal})[/]")
    else:
        console.print("\nNo decision needs a human.")


def print_report(report: MigrationReport, root: Path) -> None:
    table = Table(title="Migration summary")
    counted = ("legacy rows", "migrated", "rejected", "left out", "seconds")
    for col in ("table", "from", *counted[:4], "checks", counted[4]):
        table.add_column(col, justify="right" if col in counted else "left")
    for t in report.tables:
        ok = sum(c.passed for c in t.checks)
        style = "green" if ok == len(t.checks) else "red"
        table.add_row(
            t.target,
            ", ".join(t.sources),
            f"{t.rows_source + t.rows_excluded:,}",
            f"{t.rows_migrated:,}",
            f"{t.rows_rejected:,}",
            f"{t.rows_excluded:,}",
            f"[{style}]{ok}/{len(t.checks)}[/]",
            "" if t.seconds is None else f"{t.seconds:,.1f}",
        )
    console.print(table)
    for t in report.tables:
        for c in t.checks:
            if not c.passed:
                console.print(f"[red]✗ {t.target}.{c.name}[/]: {c.detail}")
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    console.print(f"{verdict}  report: {root / 'report.md'} and {root / 'report.json'}")


def _run(root: Path, accept: bool, verbose: bool = False) -> int:
    from migration_assets.progress import control_progress
    from migration_assets.run_log import log_path
    from migration_assets.runner import run_project

    project = Project.load(root)
    _, target_dsn = project.dsns()
    with control_progress(target_dsn, project.settings.bookkeeping_schema, console):
        # Dagster's own console output (step failures with their tracebacks) only with
        # --verbose; the log file has it all, always.
        outcome = run_project(
            root, accept_proposals=accept, log_level="INFO" if verbose else "CRITICAL"
        )
    for f in outcome.failures:
        console.print(f"[red]table failed:[/] {redact(f)}")
    print_report(outcome.report, root)
    if outcome.failures:
        console.print(f"The full log, tracebacks included: {log_path(root)}")
    return 0 if outcome.report.passed and outcome.success else 1


@click.group()
def main() -> None:
    """Guided, verifiable migrations from a legacy PostgreSQL schema into a redesigned one."""


@main.command()
@click.option("--source", "source_dsn", envvar="DBMIGRATE_SOURCE_DSN", help="Legacy DSN.")
@click.option("--target", "target_dsn", envvar="DBMIGRATE_TARGET_DSN", help="Target DSN.")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DEMO_DIR,
    show_default=True,
)
def demo(source_dsn: str | None, target_dsn: str | None, project_dir: Path) -> None:
    """Run the bundled migration end to end (embedded PostgreSQL unless DSNs are given)."""
    _quiet_logs()
    from demo.legacy_db import REVIEW_FILE, install_legacy, install_target

    root = project_dir.resolve()
    try:
        embedded = not (source_dsn and target_dsn)
        if embedded:
            from resources.embedded_postgres import start

            console.print(f"Starting embedded PostgreSQL in {root / '.pg'} …")
            server = start(root / ".pg")
            source_dsn = server.create_database("legacy")
            target_dsn = server.create_database("target")
        assert source_dsn and target_dsn
        install_legacy(source_dsn, only_if_missing=True)
        install_target(target_dsn)
        project = Project.create(
            root, source_dsn=source_dsn, target_dsn=target_dsn, embedded=embedded
        )
        result = plan_project(project)
        print_plan(result)
        console.print(f"\nApplying the reviewer's answers from {REVIEW_FILE.name} …")
        apply_review(project, REVIEW_FILE)
        code = _run(root, accept=False)
    except MigrationError as exc:
        _fail(exc)
    sys.exit(code)


@main.command()
@click.option("--source", "source_dsn", envvar="DBMIGRATE_SOURCE_DSN", required=True)
@click.option("--target", "target_dsn", envvar="DBMIGRATE_TARGET_DSN", required=True)
@click.option("--project", "project_dir", type=click.Path(path_type=Path), required=True)
@click.option("--source-schema", default="public", show_default=True)
@click.option("--target-schema", default="public", show_default=True)
@click.option(
    "--llm-model",
    envvar="DBMIGRATE_LLM_MODEL",
    help="Model name on the OpenAI-compatible endpoint (OPENAI_BASE_URL, OPENAI_API_KEY).",
)
def plan(
    source_dsn: str,
    target_dsn: str,
    project_dir: Path,
    source_schema: str,
    target_schema: str,
    llm_model: str | None,
) -> None:
    """Analyse both databases and write plan.yaml and mappings/*.yaml for review."""
    _quiet_logs()
    root = project_dir.resolve()
    fresh = not (root / "project.yaml").exists()
    existed = set(root.iterdir()) if root.is_dir() else None
    try:
        project = Project.create(
            root,
            source_dsn=source_dsn,
            target_dsn=target_dsn,
            source_schema=source_schema,
            target_schema=target_schema,
        )
        result = plan_project(project, advisor=make_advisor(project, llm_model))
    except MigrationError as exc:
        if fresh:  # a failed first plan leaves nothing behind (no .env with the DSNs, no yaml)
            made = (
                [p for p in root.iterdir() if p not in existed] if existed is not None else [root]
            )
            for path in made:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        _fail(exc)
    print_plan(result)
    console.print(
        f"\nWrote {project.root / 'plan.yaml'} and {len(result.mappings)} mapping "
        f"file(s) in {project.mappings_dir}. Review them, then: "
        f"dbmigrate run --project {project_dir}"
    )


@main.command()
@click.option("--project", "project_dir", type=click.Path(path_type=Path), required=True)
@click.argument("review_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def review(project_dir: Path, review_file: Path) -> None:
    """Apply a reviewer's file (answers, filters, corrected rules) to the mapping files."""
    _quiet_logs()
    try:
        corrected = apply_review(Project.load(project_dir.resolve()), review_file)
    except MigrationError as exc:
        _fail(exc)
    console.print(
        f"Applied {review_file}: {corrected} rule(s) corrected. "
        f"Next: dbmigrate run --project {project_dir}"
    )


@main.command()
@click.option("--project", "project_dir", type=click.Path(path_type=Path), required=True)
@click.option("--yes", is_flag=True, help="Accept the agents' proposals for open decisions.")
@click.option("--verbose", is_flag=True, help="Show Dagster's events and tracebacks as they come.")
def run(project_dir: Path, yes: bool, verbose: bool) -> None:
    """Execute the reviewed mappings, validate, and write report.md / report.json."""
    _quiet_logs()
    root = project_dir.resolve()
    try:
        _ensure_embedded(Project.load(root))
        code = _run(root, accept=yes, verbose=verbose)
    except MigrationError as exc:
        _fail(exc)
    sys.exit(code)


@main.command()
@click.option("--project", "project_dir", type=click.Path(path_type=Path), required=True)
def status(project_dir: Path) -> None:
    """Progress of each table from migration_control."""
    from agents import bookkeeping
    from agents.db import connect, scalar

    try:
        project = Project.load(project_dir.resolve())
        _ensure_embedded(project)
        _, tgt = project.dsns()
        with connect(tgt, read_only=True) as conn:
            exists = scalar(
                conn.execute(
                    "SELECT to_regclass(%s)",
                    (f'"{project.settings.bookkeeping_schema}".migration_control',),
                )
            )
            rows = (
                bookkeeping.status_rows(conn, project.settings.bookkeeping_schema) if exists else []
            )
    except MigrationError as exc:
        _fail(exc)
    table = Table(title="Migration status")
    for col in (
        "table",
        "partition",
        "status",
        "processed",
        "rejected",
        "total",
        "started",
        "completed",
        "error",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(*[_cell(v) for v in r])
    console.print(table if rows else "Nothing has run yet.")


@main.command()
@click.option("--project", "project_dir", type=click.Path(path_type=Path), required=True)
@click.option("--port", default=3000, show_default=True)
@click.option("--yes", is_flag=True, help="Let UI runs accept the agents' proposals.")
def ui(project_dir: Path, port: int, yes: bool) -> None:
    """The Dagster UI (webserver and daemon) on this project's assets; Ctrl-C stops it all."""
    from migration_assets.runner import project_instance
    from migration_assets.ui_server import serve

    root = project_dir.resolve()
    server = None
    try:
        project = Project.load(root)
        if project.settings.embedded:
            from resources.embedded_postgres import start

            server = start(root / ".pg")
    except MigrationError as exc:
        _fail(exc)
    with project_instance(root):  # writes the instance config (telemetry, first-visit dialog)
        pass
    env = {
        **os.environ,
        "DBMIGRATE_PROJECT": str(root),
        "DAGSTER_HOME": str(root / ".dagster"),
        "DBMIGRATE_ACCEPT_PROPOSALS": "1" if yes else "0",
    }
    code_root = Path(__file__).resolve().parent.parent
    dg = Path(sys.executable).with_name("dg")
    cmd = [str(dg), "dev", "-p", str(port), "-h", "127.0.0.1", "--use-active-venv"]
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    console.print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and everything it ran)")
    code = serve(cmd, env=env, cwd=code_root, on_stop=server.stop if server else lambda: None)
    sys.exit(code)


if __name__ == "__main__":
    main()
