"""Asset keys say where data lives: legacy/<table>, mapping/<table>, target/<table>."""

import dagster as dg

REPORT_KEY = dg.AssetKey(["migration_report"])


def legacy_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["legacy", table])


def mapping_key(target: str) -> dg.AssetKey:
    return dg.AssetKey(["mapping", target])


def target_key(target: str) -> dg.AssetKey:
    return dg.AssetKey(["target", target])


def validation_key(target: str) -> dg.AssetKey:
    """Whole-table validation of a partitioned target (its partitions load separately)."""
    return dg.AssetKey(["validation", target])
