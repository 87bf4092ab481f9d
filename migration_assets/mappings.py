"""Mapping configs as assets: the reviewed rules for one target table, validated against the
live schemas. Materializing fails, with the file and the question, while a decision is open."""

import dagster as dg

from agents.errors import MigrationError
from agents.models import TableMapping
from migration_assets.keys import legacy_key, mapping_key
from resources.project import MigrationProject


def rules_markdown(mapping: TableMapping) -> str:
    lines = ["| target column | rule | from | confidence | why |", "|---|---|---|---:|---|"]
    for r in mapping.columns:
        why = r.rationale.replace("|", "/")[:160]
        lines.append(
            f"| {r.target} | {r.kind} | {r.source or r.value or ''} | {r.confidence:.0%} | {why} |"
        )
    return "\n".join(lines)


def build_mapping_asset(target: str, source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=mapping_key(target),
        deps=[legacy_key(source)],
        group_name="mapping",
        kinds={"yaml"},
        description=f"Reviewed mapping rules from legacy {source} to {target}.",
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
        low = [r for r in mapping.columns if r.confidence < 0.9]
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
