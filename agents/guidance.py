"""User-guidance role: the report a non-technical owner reads, and its machine twin.

Plain words first (what happened to each table, with numbers), then what needs the owner's
decision and why, then the technical detail. No DSN, password or key ever reaches it: the only
connection facts shown are the redacted ones from ``project.yaml``.
"""

from datetime import UTC, datetime

from agents.models import Decision, MigrationReport, TableMapping, TableReport

LOW_CONFIDENCE = 0.9


def build_report(tables: list[TableReport], decisions: list[Decision]) -> MigrationReport:
    passed = all(c.passed for t in tables for c in t.checks) and bool(tables)
    return MigrationReport(
        passed=passed,
        tables=tables,
        decisions=decisions,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _bar(part: int, whole: int, width: int = 20) -> str:
    filled = round(width * part / whole) if whole else 0
    return "█" * filled + "░" * (width - filled)


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
        "| New table | From legacy | Legacy rows | Migrated | Rejected | Checks |",
        "|---|---|---:|---:|---:|---|",
    ]
    for t in report.tables:
        ok = sum(c.passed for c in t.checks)
        lines.append(
            f"| {t.target} | {', '.join(t.sources)} | {t.rows_source} | "
            f"{t.rows_migrated} | {t.rows_rejected} | {ok}/{len(t.checks)} passed |"
        )
    lines += ["", "```"]
    width = max((len(t.target) for t in report.tables), default=0)
    for t in report.tables:
        lines.append(
            f"{t.target.ljust(width)}  {_bar(t.rows_migrated, t.rows_source)}  "
            f"{t.rows_migrated}/{t.rows_source} migrated"
        )
    lines += ["```", ""]
    for t in report.tables:
        lines += [f"### {t.target}", ""]
        lines.append(
            f"{t.rows_migrated} of {t.rows_source} legacy rows from "
            f"{', '.join(t.sources)} are now in **{t.target}**"
            + (
                f"; {t.rows_rejected} could not be moved and wait in the rejects list."
                if t.rows_rejected
                else "."
            )
        )
        lines.append("")
        for c in t.checks:
            lines.append(f"- {'✅' if c.passed else '❌'} **{c.name}**: {c.detail}")
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
    low = [(m.target, r) for m in mappings for r in m.columns if r.confidence < LOW_CONFIDENCE]
    if low:
        lines += [
            "## Rules worth a second look",
            "",
            "The agents applied these with less than 90% confidence:",
            "",
        ]
        for target, rule in low:
            lines.append(
                f"- {target}.{rule.target} ← {rule.source or rule.value} ({rule.kind}, "
                f"{rule.confidence:.0%}): {rule.rationale}"
            )
        lines.append("")
    return "\n".join(lines)
