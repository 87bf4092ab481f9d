"""Asset-check factory for target tables.

The checks run inside the target's own step, right after the load (as a bulk loader's
validation phase does), so the report downstream always sees this run's verdicts. Each check's
logic lives in :mod:`agents.validation`; this module only names them and shapes the results.
"""

import dagster as dg

from agents.models import CheckOutcome
from agents.validation import CHECK_NAMES
from migration_assets.keys import target_key

DESCRIPTIONS = {
    "schema": "Every stored row matches a Pandera schema derived from the table and its mapping.",
    "reconciliation": "Legacy rows selected by the mapping = migrated + rejected, exactly.",
    "foreign_keys": "Every UUID foreign key finds its parent row.",
    "sample_values": "Sampled legacy rows, mapped again, equal the stored rows.",
    "checksums": "Every legacy row, mapped again, matches the target by count and checksum.",
}


def check_specs(target: str, asset: dg.AssetKey | None = None) -> list[dg.AssetCheckSpec]:
    """Checks of a target table, on the target asset (or, when partitioned, its validation)."""
    key = asset or target_key(target)
    return [dg.AssetCheckSpec(name=n, asset=key, description=DESCRIPTIONS[n]) for n in CHECK_NAMES]


def check_results(
    target: str, outcomes: list[CheckOutcome], asset: dg.AssetKey | None = None
) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            asset_key=asset or target_key(target),
            check_name=o.name,
            passed=o.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=o.detail,
            metadata={"detail": dg.MetadataValue.text(o.detail)},
        )
        for o in outcomes
    ]
