"""The migration report as an asset: plain-language markdown for the owner, JSON for machines."""

import dagster as dg

from agents.guidance import rows_chart
from agents.reporting import assemble_report, write_report
from migration_assets.keys import REPORT_KEY, target_key, validation_key
from resources.project import MigrationProject


def build_report_asset(
    targets: list[str], partitioned: list[str] | None = None
) -> dg.AssetsDefinition:
    """After every target (after the whole-table validation for partitioned ones)."""
    done = set(partitioned or [])

    @dg.asset(
        key=REPORT_KEY,
        deps=[validation_key(t) if t in done else target_key(t) for t in targets],
        group_name="report",
        kinds={"markdown"},
        description="What happened to every table, what was checked, what needs a decision.",
    )
    def _report(
        context: dg.AssetExecutionContext, project: MigrationProject
    ) -> dg.MaterializeResult:
        inputs = project.inputs()
        report = assemble_report(inputs)
        write_report(inputs, report)
        md = (inputs.project.root / "report.md").read_text()
        context.log.info("report written to %s (passed=%s)", inputs.project.root, report.passed)
        return dg.MaterializeResult(
            metadata={
                "passed": dg.MetadataValue.bool(report.passed),
                "report": dg.MetadataValue.md(md),
                "path": dg.MetadataValue.path(str(inputs.project.root / "report.md")),
                "tables": dg.MetadataValue.int(len(report.tables)),
                "rows_per_table": dg.MetadataValue.md(rows_chart(report)),
                "rows_migrated": dg.MetadataValue.int(sum(t.rows_migrated for t in report.tables)),
                "rows_rejected": dg.MetadataValue.int(sum(t.rows_rejected for t in report.tables)),
                "rows_left_out": dg.MetadataValue.int(sum(t.rows_excluded for t in report.tables)),
            }
        )

    return _report
