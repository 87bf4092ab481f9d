"""Assembling the run's report from what the target database itself records.

The report reads the bookkeeping tables (latest control row, latest validation outcome per check,
rejects) rather than in-memory state, so it is the same whether it is written by the Dagster
report asset, by the CLI after a failed run, or again a week later.
"""

from agents import bookkeeping
from agents.db import connect
from agents.guidance import build_report, render_markdown
from agents.models import CheckOutcome, MigrationReport, TableReport
from agents.project import report_json
from agents.validation import CHECK_NAMES, counts
from agents.workflow import RunInputs


def assemble_report(inputs: RunInputs) -> MigrationReport:
    src_dsn, tgt_dsn = inputs.project.dsns()
    schema = inputs.settings.target_schema
    tables = []
    failed: dict[str, str] = {}  # target -> why it did not complete
    needs = {tp.target: [*tp.depends_on, *tp.set_after] for tp in inputs.plan.tables}
    for target in inputs.plan.order:
        mapping = inputs.mappings.get(target)
        if mapping is None:
            continue
        blocker = next((d for d in needs.get(target, []) if d in failed), None)
        c = counts(src_dsn, tgt_dsn, inputs.settings, mapping)
        with connect(tgt_dsn, read_only=True) as conn:
            latest = {n: (p, d) for n, p, d in bookkeeping.latest_checks(conn, schema, target)}
            control = bookkeeping.latest_control(conn, schema, target)
            samples = bookkeeping.reject_samples(conn, schema, target)
        checks = []
        not_run = "not run"
        if control and control[0] != "completed":
            failed[target] = f"{control[0]}: {control[1] or 'no detail'}"
            checks.append(CheckOutcome(name="execution", passed=False, detail=failed[target]))
        elif control is None and blocker is not None:
            not_run = f"not run: blocked by {blocker}, which did not complete"
            failed[target] = not_run
            checks.append(CheckOutcome(name="execution", passed=False, detail=not_run))
        elif control is None:
            failed[target] = not_run
        for name in CHECK_NAMES:
            passed, detail = latest.get(name, (False, not_run))
            checks.append(CheckOutcome(name=name, passed=passed, detail=detail))
        tables.append(
            TableReport(
                target=target,
                sources=[mapping.source],
                rows_source=c.rows_source,
                rows_migrated=c.rows_migrated,
                rows_rejected=c.rows_rejected,
                checks=checks,
                reject_samples=samples,
            )
        )
    decisions = [d for m in inputs.reviewed.values() for d in m.decisions]
    return build_report(tables, decisions)


def write_report(inputs: RunInputs, report: MigrationReport) -> None:
    root = inputs.project.root
    report_json(root / "report.json", report.model_dump(mode="json"))
    (root / "report.md").write_text(
        render_markdown(
            report,
            list(inputs.mappings.values()),
            title=f"Migration report: {inputs.project.settings.source_display} → "
            f"{inputs.project.settings.target_display}",
        )
    )
