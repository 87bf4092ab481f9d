"""Assembling the run's report from what the target database itself records.

The report reads the bookkeeping tables (latest control row, latest validation outcome per check,
rejects) rather than in-memory state, so it is the same whether it is written by the Dagster
report asset, by the CLI after a failed run, or again a week later.
"""

from agents import bookkeeping
from agents.db import connect
from agents.execution import count_source_rows
from agents.guidance import build_report, render_markdown
from agents.models import (
    CheckOutcome,
    Filter,
    LegacyTableLeft,
    MigrationReport,
    TableMapping,
    TableReport,
)
from agents.project import report_json
from agents.validation import CHECK_NAMES, counts
from agents.workflow import RunInputs


def assemble_report(inputs: RunInputs) -> MigrationReport:
    src_dsn, tgt_dsn = inputs.project.dsns()
    schema = inputs.settings.bookkeeping_schema
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
            timing = bookkeeping.latest_timing(conn, schema, target)
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
        excluded, in_words = _excluded(src_dsn, inputs, mapping, c.rows_source)
        tables.append(
            TableReport(
                target=target,
                sources=mapping.feeds(),
                rows_source=c.rows_source,
                rows_migrated=c.rows_migrated,
                rows_rejected=c.rows_rejected,
                checks=checks,
                reject_samples=samples,
                seconds=timing[1] if timing else None,
                run_id=timing[0] if timing else "",
                finished_at=timing[2] if timing else "",
                rows_excluded=excluded,
                excluded_by=in_words,
                blocked_by=blocker or "",
                notes=timing[3] if timing else "",
            )
        )
    decisions = [d for m in inputs.reviewed.values() for d in m.decisions]
    report = build_report(tables, decisions)
    return report.model_copy(update={"not_migrated": _left_out(src_dsn, inputs)})


def filters_in_words(filters: list[Filter]) -> str:
    """``group_id = 11 and kind is not empty``: what a person reads for a row filter.

    >>> filters_in_words([Filter(column="group_id", op="eq", value=11)])
    'group_id = 11'
    """
    words = {"eq": "=", "ne": "≠", "in": "is one of", "not_in": "is none of"}
    parts = []
    for f in filters:
        if f.op in ("is_null", "not_null"):
            parts.append(f"{f.column} is {'empty' if f.op == 'is_null' else 'not empty'}")
        else:
            value = ", ".join(map(str, f.value)) if isinstance(f.value, list) else f.value
            parts.append(f"{f.column} {words[f.op]} {value}")
    return " and ".join(parts)


def _excluded(
    src_dsn: str, inputs: RunInputs, mapping: TableMapping, selected: int
) -> tuple[int, str]:
    """Legacy rows the mapping's filters leave out, and the filters in words."""
    filters = list(mapping.filters) + [f for p in mapping.merge for f in p.filters]
    if not filters:
        return 0, ""
    unfiltered = mapping.model_copy(
        update={
            "filters": [],
            "merge": [p.model_copy(update={"filters": []}) for p in mapping.merge],
        }
    )
    with connect(src_dsn, read_only=True) as conn:
        total = count_source_rows(conn, unfiltered, inputs.settings.source_schema)
        conn.rollback()
    return max(0, total - selected), filters_in_words(filters)


def _left_out(src_dsn: str, inputs: RunInputs) -> list[LegacyTableLeft]:
    """Legacy tables no mapping reads, with their row counts (as analysed)."""
    read = {t for m in inputs.mappings.values() for t in m.feeds()}
    return [
        LegacyTableLeft(table=t.name, rows=t.row_count)
        for t in inputs.source.tables
        if t.name not in read
    ]


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
