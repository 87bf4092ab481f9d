"""The source-change sensor: keeps the target in step while the legacy system is still in use.

Each tick reads statistics counters (no scan), compares them with the cursor (persisted by
Dagster, so it survives restarts), and requests one run for the changed legacy tables, their
mappings and targets, and the report. The run carries the watermark of the previous tick, so
the targets read only rows written since (see :mod:`agents.change_detection`).
"""

import json

import dagster as dg

from agents.change_detection import changed_tables, scan
from migration_assets.keys import REPORT_KEY, legacy_key, mapping_key, target_key
from resources.databases import LegacyDatabase

SINCE_TAG = "dbmigrate/changed_since_xmin"


def build_source_change_sensor(
    schema: str,
    targets_by_source: dict[str, list[str]],
    *,
    partitions: dict[str, list[str]] | None = None,
    interval_s: int = 30,
) -> dg.SensorDefinition:
    """Partitioned targets get one run per key range (each reads only its changed rows); their
    whole-table validation runs with the next full pass."""
    partitions = partitions or {}
    tables = sorted(targets_by_source)
    all_keys = (
        [legacy_key(t) for t in tables]
        + [
            k
            for ts in targets_by_source.values()
            for t in ts
            for k in (mapping_key(t), target_key(t))
        ]
        + [REPORT_KEY]
    )

    @dg.sensor(
        name="legacy_change_sensor",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=all_keys,
        description="Re-migrates what changed in the legacy tables (statistics counters, then "
        "xmin watermarks: no full scans).",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, legacy_db: LegacyDatabase
    ) -> dg.SensorResult | dg.SkipReason:
        cursor = json.loads(context.cursor) if context.cursor else {}
        current = scan(legacy_db.dsn, schema, tables)
        new_cursor = json.dumps({"counters": current.counters, "watermark": current.watermark})
        if not cursor:
            return dg.SensorResult(
                skip_reason="baseline recorded; watching for changes", cursor=new_cursor
            )
        changed = changed_tables(cursor.get("counters", {}), current)
        if not changed:
            return dg.SensorResult(skip_reason="no legacy table changed", cursor=new_cursor)
        keys = [legacy_key(t) for t in changed]
        partitioned: list[str] = []
        for t in changed:
            for target in targets_by_source.get(t, []):
                keys.append(mapping_key(target))
                if target in partitions:
                    partitioned.append(target)
                else:
                    keys.append(target_key(target))
        keys.append(REPORT_KEY)
        since = int(cursor.get("watermark", 0))
        description = ", ".join(f"{t} ({what})" for t, what in sorted(changed.items()))
        tags = {SINCE_TAG: str(since), "dbmigrate/changed": description[:200]}
        context.log.info("legacy changes: %s", description)
        requests = [dg.RunRequest(run_key=new_cursor, asset_selection=keys, tags=tags)]
        requests += [
            dg.RunRequest(
                run_key=f"{new_cursor}|{target}|{p}",
                asset_selection=[target_key(target)],
                partition_key=p,
                tags=tags,
            )
            for target in partitioned
            for p in partitions[target]
        ]
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)

    return _sensor
