"""Target tables as assets: load through the execution agent, then validate in the same step.

Dependencies are the table's mapping, its legacy source, and the target tables it references by
foreign key, so the asset graph *is* the load order.
"""

import dataclasses
import uuid

import dagster as dg

from agents import bookkeeping
from agents.db import connect
from agents.engine.references import complete_references
from agents.errors import MigrationError
from agents.execution import (
    ExecutionSettings,
    apply_deletes,
    finish_ranges,
    migrate_table,
    source_table,
)
from agents.models import CheckOutcome
from agents.validation import Counts, validate_table
from agents.workflow import RunInputs
from migration_assets.checks import check_results, check_specs
from migration_assets.keys import legacy_key, mapping_key, target_key, validation_key
from migration_assets.sensors import SINCE_TAG
from resources.databases import LegacyDatabase, TargetDatabase
from resources.project import MigrationProject


def _validate_and_record(
    inputs: RunInputs, target: str, settings: ExecutionSettings, legacy_dsn: str, target_dsn: str
) -> tuple[Counts, list[CheckOutcome], list[dict[str, str]]]:
    mapping = inputs.mappings[target]
    src_t = source_table(mapping, inputs.source)
    tgt_t = inputs.target.table(target)
    all_targets = {t.name: t for t in inputs.target.tables}
    try:
        c, outcomes = validate_table(
            legacy_dsn, target_dsn, settings, mapping, src_t, tgt_t, all_targets
        )
    except MigrationError as exc:
        raise dg.Failure(description=str(exc)) from exc
    with connect(target_dsn, autocommit=True) as conn:
        bookkeeping.record_checks(
            conn,
            settings.bookkeeping_schema,
            target,
            settings.run_id,
            [(o.name, o.passed, o.detail) for o in outcomes],
        )
        samples = bookkeeping.reject_samples(conn, settings.bookkeeping_schema, target)
    return c, outcomes, samples


def _settings(
    context: dg.AssetExecutionContext, inputs: RunInputs, target: str, role: str | None
) -> ExecutionSettings:
    plan = {tp.target: tp for tp in inputs.plan.tables}[target]
    run_id = context.run.run_id[:8] if context.run else uuid.uuid4().hex[:8]
    return dataclasses.replace(
        inputs.settings, batch_size=plan.batch_size, run_id=run_id, target_role=role
    )


def _validated_metadata(c: Counts, samples: list[dict[str, str]]) -> dict[str, dg.MetadataValue]:
    """What a validated table shows in the UI: its reconciliation counts and sample rejects."""
    return {
        "rows_source": dg.MetadataValue.int(c.rows_source),
        "rows_migrated": dg.MetadataValue.int(c.rows_migrated),
        "rows_rejected": dg.MetadataValue.int(c.rows_rejected),
        "reject_samples": _samples_md(samples),
    }


def _samples_md(samples: list[dict[str, str]]) -> dg.MetadataValue:
    return dg.MetadataValue.md(
        "\n".join(f"- legacy id {r['legacy_id']}: {r['reason']}" for r in samples) or "none"
    )


def build_target_asset(
    target: str,
    source: str,
    parents: list[str],
    partitions: list[str] | None = None,
    *,
    validated_later: bool = False,
    also_reads: list[str] | None = None,
    set_after: list[str] | None = None,
) -> dg.AssetsDefinition:
    """One target table; with ``partitions``, one key range per partition (a backfill runs
    them in parallel, one run each) and validation moves to ``validation/<target>``, as it
    does when ``validated_later`` (references of a foreign-key cycle set after another table)."""
    partitioned = bool(partitions)
    later = partitioned or validated_later

    @dg.asset(
        key=target_key(target),
        deps=[
            mapping_key(target),
            legacy_key(source),
            *map(legacy_key, also_reads or []),
            *map(target_key, parents),
        ],
        group_name="target",
        kinds={"postgres"},
        check_specs=None if later else check_specs(target),
        partitions_def=dg.StaticPartitionsDefinition(partitions) if partitions else None,
        backfill_policy=dg.BackfillPolicy.multi_run(1) if partitioned else None,
        description=f"Target table {target}, migrated from legacy {source}"
        + (" by key-range partition." if partitioned else " and validated."),
    )
    def _target(
        context: dg.AssetExecutionContext,
        legacy_db: LegacyDatabase,
        target_db: TargetDatabase,
        project: MigrationProject,
    ) -> dg.MaterializeResult:
        try:
            inputs = project.inputs()
        except MigrationError as exc:
            raise dg.Failure(description=str(exc)) from exc
        mapping = inputs.mappings[target]
        settings = _settings(context, inputs, target, target_db.role)
        src_t = source_table(mapping, inputs.source)
        tgt_t = inputs.target.table(target)
        key_range = None
        partition = context.partition_key if partitioned else None
        if partition:
            lo, hi = partition.split(":")
            key_range = (int(lo), int(hi))

        def progress(done: int, total: int) -> None:
            context.log.debug("%s: %d/%d rows", target, done, total)

        tags = context.run.tags if context.run else {}
        since = tags.get(SINCE_TAG)
        try:
            run = migrate_table(
                legacy_db.dsn,
                target_db.dsn,
                mapping,
                src_t,
                tgt_t,
                settings,
                key_range=key_range,
                partition=partition,
                on_progress=progress,
                changed_since_xmin=int(since) if since else None,
                set_after=frozenset(set_after or []),
            )
            deleted = 0
            if (
                not partitioned
                and inputs.project.settings.delete_policy == "delete"
                and (since is None or "deletes" in tags.get("dbmigrate/changed", ""))
            ):
                deleted = apply_deletes(legacy_db.dsn, target_db.dsn, mapping, tgt_t, settings)
        except MigrationError as exc:
            raise dg.Failure(description=str(exc)) from exc
        context.log.info(
            "%s%s: %d read, %d migrated, %d rejected in %.2fs",
            target,
            f"[{partition}]" if partition else "",
            run.rows_read,
            run.rows_migrated,
            run.rows_rejected,
            run.seconds,
        )
        load = {
            "rows_this_run": dg.MetadataValue.int(run.rows_read),
            "rows_rejected_this_run": dg.MetadataValue.int(run.rows_rejected),
            "rows_deleted_this_run": dg.MetadataValue.int(deleted),
            "incremental_since_xmin": dg.MetadataValue.text(since or "full pass"),
            "batches": dg.MetadataValue.int(run.batches),
            "seconds": dg.MetadataValue.float(run.seconds),
            "rows_per_second": dg.MetadataValue.float(
                round(run.rows_read / run.seconds, 1) if run.seconds else 0.0
            ),
        }
        if later:
            return dg.MaterializeResult(metadata=load)
        c, outcomes, samples = _validate_and_record(
            inputs, target, settings, legacy_db.dsn, target_db.dsn
        )
        return dg.MaterializeResult(
            metadata={
                **_validated_metadata(c, samples),
                "dagster/row_count": dg.MetadataValue.int(c.rows_migrated),
                **load,
            },
            check_results=check_results(target, outcomes),
        )

    return _target


def build_validation_asset(
    target: str, set_after: list[str] | None = None, *, partitioned: bool = False
) -> dg.AssetsDefinition:
    """Whole-table checks of a target once all its partitions are loaded, and once the tables
    of its foreign-key cycle are in (``set_after``): their references are set first."""

    @dg.asset(
        key=validation_key(target),
        deps=[target_key(target), *(target_key(t) for t in set_after or [])],
        group_name="validation",
        kinds={"postgres"},
        check_specs=check_specs(target, validation_key(target)),
        description=f"Every check of target table {target}, over all its partitions.",
    )
    def _validation(
        context: dg.AssetExecutionContext,
        legacy_db: LegacyDatabase,
        target_db: TargetDatabase,
        project: MigrationProject,
    ) -> dg.MaterializeResult:
        inputs = project.inputs()
        settings = _settings(context, inputs, target, target_db.role)
        try:  # keys a coordinator parked for the ranges are rebuilt before anything is checked
            finish_ranges(target_db.dsn, inputs.target.table(target), settings)
            if set_after or partitioned:
                # A cycle's other side is in now; key ranges leave every deferred reference
                # to this step, since a range cannot see its parents in the others.
                done = complete_references(
                    legacy_db.dsn,
                    target_db.dsn,
                    inputs.mappings[target],
                    inputs.target.table(target),
                    (settings.source_schema, settings.target_schema),
                    bk=settings.bookkeeping_schema,
                    role=target_db.role,
                    run_tag=f"{settings.run_id}:{target}:references",
                    parents=None if partitioned else set(set_after or []),
                    note=True,
                )
                context.log.info(
                    "%s: %d deferred references set, %d orphans rejected; %s",
                    target,
                    done.updated,
                    done.rejected,
                    bookkeeping.emptied_note(done.emptied) or "no link written empty",
                )
        except MigrationError as exc:
            raise dg.Failure(description=str(exc)) from exc
        c, outcomes, samples = _validate_and_record(
            inputs, target, settings, legacy_db.dsn, target_db.dsn
        )
        return dg.MaterializeResult(
            metadata=_validated_metadata(c, samples),
            check_results=check_results(target, outcomes, validation_key(target)),
        )

    return _validation
