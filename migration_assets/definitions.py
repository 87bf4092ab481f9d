"""Composition root: the only place where assets, resources and jobs meet."""

import os

import dagster as dg

from agents.project import SOURCE_ENV, TARGET_ENV
from migration_assets.legacy import build_legacy_asset
from migration_assets.mappings import build_mapping_asset
from migration_assets.project_context import load_project, project_dir
from migration_assets.report import build_report_asset
from migration_assets.run_log import project_file_logger
from migration_assets.sensors import build_source_change_sensor
from migration_assets.targets import build_target_asset, build_validation_asset
from resources.databases import LegacyDatabase, TargetDatabase
from resources.project import MigrationProject

MIGRATE_JOB = "migrate"


def build_definitions(*, accept_proposals: bool = False) -> dg.Definitions:
    loaded = load_project()
    if loaded is None:
        # No project yet: an empty but loadable location (the UI says what to do next).
        return dg.Definitions()
    project, plan, _source, mappings = loaded
    feeds = {t: m.feeds() for t, m in mappings.items()}  # every legacy table a target reads
    legacy_tables = sorted({s for tables in feeds.values() for s in tables})
    assets: list[dg.AssetsDefinition] = [
        build_legacy_asset(t, project.settings.source_schema) for t in legacy_tables
    ]
    targets = [t for t in plan.order if t in mappings]
    parents = {tp.target: [d for d in tp.depends_on if d in mappings] for tp in plan.tables}
    partitions = {tp.target: tp.partitions for tp in plan.tables if tp.partitions}
    set_after = {
        tp.target: [p for p in tp.set_after if p in mappings]
        for tp in plan.tables
        if any(p in mappings for p in tp.set_after)
    }
    for t in targets:
        assets.append(build_mapping_asset(t, feeds[t]))
        assets.append(
            build_target_asset(
                t,
                mappings[t].source,
                parents.get(t, []),
                partitions.get(t),
                validated_later=t in set_after,
                also_reads=[s for s in feeds[t] if s != mappings[t].source],
                set_after=set_after.get(t),
            )
        )
        if t in partitions or t in set_after:
            assets.append(build_validation_asset(t, set_after.get(t), partitioned=t in partitions))
    assets.append(build_report_asset(targets, partitioned=sorted(set(partitions) | set(set_after))))
    by_source: dict[str, list[str]] = {}
    for t in targets:
        by_source.setdefault(mappings[t].source, []).append(t)
    sensor = build_source_change_sensor(
        project.settings.source_schema, by_source, partitions=partitions
    )
    job = dg.define_asset_job(
        MIGRATE_JOB,
        selection=dg.AssetSelection.all(),
        description="Migrate every table in foreign-key order, then report.",
    )
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        sensors=[sensor],
        loggers={
            "console": dg.colored_console_logger,
            "project_file": project_file_logger,
        },
        resources={
            "legacy_db": LegacyDatabase(dsn=dg.EnvVar(SOURCE_ENV)),
            "target_db": TargetDatabase(
                dsn=dg.EnvVar(TARGET_ENV), role=project.settings.target_role
            ),
            "project": MigrationProject(
                directory=str(project_dir()), accept_proposals=accept_proposals
            ),
        },
    )


ACCEPT_ENV = "DBMIGRATE_ACCEPT_PROPOSALS"


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(accept_proposals=os.environ.get(ACCEPT_ENV) == "1")
