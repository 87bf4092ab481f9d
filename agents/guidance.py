"""User-guidance role: the report a non-technical owner reads, and its machine twin.

Plain words first (what happened to each table, with numbers), then what needs the owner's
decision and why, then the technical detail. No DSN, password or key ever reaches it: the only
connection facts shown are the redacted ones from ``project.yaml``.
"""

from datetime import UTC, datetime

from agents.matching import calibration
from agents.models import CheckOutcome, Decision, MigrationReport, TableMapping, TableReport


def build_report(tables: list[TableReport], decisions: list[Decision]) -> MigrationReport:
    passed = all(c.passed for t in tables for c in t.checks) and bool(tables)
    return MigrationReport(
        passed=passed,
        tables=tables,
        decisions=decisions,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _bar(t: TableReport, width: int = 24) -> str:
    """Migrated █, rejected ▒, excluded by filters ░, out of every legacy row."""
    whole = t.rows_source + t.rows_excluded
    if not whole:
        return " " * width
    cells = [round(width * n / whole) for n in (t.rows_migrated, t.rows_rejected)]
    cells.append(max(0, width - sum(cells)) if t.rows_excluded else 0)
    return ("█" * cells[0] + "▒" * cells[1] + "░" * cells[2]).ljust(width)


def rows_chart(report: MigrationReport) -> str:
    """Rows per table as a text chart (markdown), for report.md and the report asset."""
    lines = ["Rows per table: █ migrated, ▒ rejected, ░ left out by filters.", "", "```"]
    width = max((len(t.target) for t in report.tables), default=0)
    lines += [
        f"{t.target.ljust(width)}  {_bar(t)}  {_n(t.rows_migrated)} migrated, "
        f"{_n(t.rows_rejected)} rejected, {_n(t.rows_excluded)} left out"
        for t in report.tables
    ]
    return "\n".join([*lines, "```"])


def _n(value: int) -> str:
    return f"{value:,}"


def plain_check(t: TableReport, c: CheckOutcome) -> str:
    """A passed check in words an owner reads; a failed one keeps its technical detail (it
    is what someone will act on)."""
    if not c.passed:
        return c.detail
    rows = _n(t.rows_migrated)
    return {
        "schema": "every row fits the new table's rules (types, required columns, allowed values)",
        "reconciliation": f"all {_n(t.rows_source)} legacy rows are accounted for: {rows} "
        f"migrated, {_n(t.rows_rejected)} rejected with their reason",
        "foreign_keys": "every reference points at a row that exists",
        "sample_values": "rows re-derived from the legacy data, spread over the whole table, "
        "match what was stored, value for value",
        "checksums": f"every one of the {rows} rows arrived unchanged (each column compared "
        "over every row)",
    }.get(c.name, c.detail)


def _duration(t: TableReport) -> str:
    if t.seconds is None:
        return ""
    rate = f", {t.rows_migrated / t.seconds:,.0f} rows/s" if t.seconds > 0 else ""
    return f"{t.seconds:,.1f} s{rate}"


def render_markdown(
    report: MigrationReport, mappings: list[TableMapping], *, title: str = "Migration report"
) -> str:
    lines = [f"# {title}", ""]
    verdict = (
        "**Everything checked out.** Every legacy row is either in the new database or "
        "listed as rejected with its reason, and every check passed."
        if report.passed
        else "**Attention needed.** At least one check failed; the tables below say which and why."
    )
    lines += [verdict, "", f"Generated {report.generated_at}.", ""]
    lines += [
        "## What happened to each table",
        "",
        "| New table | From legacy | Legacy rows | Migrated | Rejected | Left out by filters "
        "| Checks | Time |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for t in report.tables:
        ok = sum(c.passed for c in t.checks)
        lines.append(
            f"| {t.target} | {', '.join(t.sources)} | {_n(t.rows_source + t.rows_excluded)} | "
            f"{_n(t.rows_migrated)} | {_n(t.rows_rejected)} | {_n(t.rows_excluded)} | "
            f"{ok}/{len(t.checks)} passed | {_duration(t)} |"
        )
    lines += ["", rows_chart(report), ""]
    if report.not_migrated:
        lines += ["## Legacy tables not migrated", ""]
        lines += [
            f"- {left.table} ({_n(left.rows)} rows): no table of the new database is fed from it"
            for left in report.not_migrated
        ]
        lines.append("")
    for t in report.tables:
        lines += [f"### {t.target}", ""]
        lines.append(
            f"{_n(t.rows_migrated)} of {_n(t.rows_source)} legacy rows from "
            f"{', '.join(t.sources)} are now in **{t.target}**"
            + (
                f"; {_n(t.rows_rejected)} could not be moved and wait in the rejects list."
                if t.rows_rejected
                else "."
            )
        )
        if t.rows_excluded:
            lines.append(
                f"{_n(t.rows_excluded)} legacy rows were left out on purpose: the mapping "
                f"migrates only rows where {t.excluded_by}."
            )
        if t.notes:
            lines.append(f"On purpose: {t.notes}.")
        if t.blocked_by:
            lines.append(f"This table did not run: {t.blocked_by} did not complete first.")
        if t.run_id:
            lines.append(
                f"Run {t.run_id}, finished {t.finished_at}"
                + (f", in {_duration(t)}." if t.seconds is not None else ".")
            )
        lines.append("")
        for c in t.checks:
            lines.append(f"- {'✅' if c.passed else '❌'} **{c.name}**: {plain_check(t, c)}")
        if t.reject_samples:
            lines += ["", "Examples of rejected rows and why:", ""]
            for r in t.reject_samples:
                lines.append(f"- legacy id {r.get('legacy_id')}: {r.get('reason')}")
        lines.append("")
    answered = [d for d in report.decisions if d.answer is not None]
    open_ = [d for d in report.decisions if d.answer is None]
    lines += ["## Decisions", ""]
    if not report.decisions:
        lines += ["The agents needed no decision from you.", ""]
    for d in open_:
        lines.append(
            f"- ❓ {d.question} The agents suggest **{d.proposed or 'nothing'}** "
            f"({d.rationale}). Options: {', '.join(d.options) or 'free text'}."
        )
    for d in answered:
        lines.append(f"- ✔️ {d.question} You answered **{d.answer}**.")
    lines.append("")
    line = calibration.review_threshold()
    low = [(m.target, r) for m in mappings for r in m.columns if r.confidence < line]
    if low:
        lines += [
            "## Rules worth a second look",
            "",
            f"The agents applied these with less than {line:.0%} confidence:",
            "",
        ]
        for target, rule in low:
            origin = rule.source or (
                rule.value if rule.value is not None else "a fixed empty value"
            )
            lines.append(
                f"- {target}.{rule.target} ← {origin} ({rule.kind}, "
                f"{rule.confidence:.0%}): {rule.rationale}"
            )
        lines.append("")
    return "\n".join(lines)
