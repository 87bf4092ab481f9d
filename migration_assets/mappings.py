"""Mapping configs as assets: the reviewed rules for one target table, validated against the
live schemas. Materializing fails, with the file and the question, while a decision is open."""

import dagster as dg

from agents.errors import MigrationError
from agents.matching import calibration
from agents.models import ColumnRule, TableMapping
from migration_assets.keys import legacy_key, mapping_key
from resources.project import MigrationProject


def _cell(text: object) -> str:
    """Markdown table cell text: pipes and line breaks would break the table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _origin(r: ColumnRule) -> str:
    if r.kind == "expression":
        return f"`{r.expression}`"
    if r.via:
        return f"{r.via[-1].table}.{r.source} (looked up)"
    if r.source:
        return r.source
    return "a fixed empty value" if r.value is None else f"the value {r.value}"


def rules_markdown(mapping: TableMapping) -> str:
    """Every rule with its whole rationale, then each value map, as markdown tables (the UI
    renders them; nothing is clipped)."""
    lines = ["| target column | rule | from | confidence | why |", "|---|---|---|---:|---|"]
    lines += [
        f"| {_cell(r.target)} | {r.kind} | {_cell(_origin(r))} | {r.confidence:.0%} | "
        f"{_cell(r.rationale)} |"
        for r in mapping.columns
    ]
    for r in mapping.columns:
        if r.value_map:
            lines += ["", f"**{_cell(r.target)}**: legacy value → new value", ""]
            lines += ["| legacy value | becomes |", "|---|---|"]
            lines += [
                f"| {_cell(k)} | {_cell(v) if v is not None else 'no value'} |"
                for k, v in r.value_map.items()
            ]
    return "\n".join(lines)


def build_mapping_asset(target: str, sources: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=mapping_key(target),
        deps=[legacy_key(s) for s in sources],
        group_name="mapping",
        kinds={"yaml"},
        description=f"Reviewed mapping rules from legacy {', '.join(sources)} to {target}.",
    )
    def _mapping(
        context: dg.AssetExecutionContext, project: MigrationProject
    ) -> dg.MaterializeResult:
        try:
            inputs = project.inputs()
        except MigrationError as exc:
            raise dg.Failure(description=str(exc)) from exc
        mapping = inputs.mappings[target]
        reviewed = inputs.reviewed[target]
        line = calibration.review_threshold()
        low = [r for r in mapping.columns if r.confidence < line]
        return dg.MaterializeResult(
            metadata={
                "rules": dg.MetadataValue.md(rules_markdown(mapping)),
                "rule_count": dg.MetadataValue.int(len(mapping.columns)),
                "low_confidence_rules": dg.MetadataValue.int(len(low)),
                "decisions_answered": dg.MetadataValue.int(
                    sum(1 for d in reviewed.decisions if d.answer is not None)
                ),
                "file": dg.MetadataValue.path(str(inputs.project.mapping_path(target))),
            }
        )

    return _mapping
