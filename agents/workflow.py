"""The agent roles chained into the two user-facing steps, without Dagster.

``plan_project`` runs analysis, planning and mapping and writes the reviewable files;
``load_run_inputs`` reads them back, applies the reviewer's answers and refuses to go on while a
decision is open. The Dagster layer and the CLI both call these.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.advisors import HeuristicAdvisor, LLMAdvisor, MappingAdvisor
from agents.data_mapping import MappingContext, propose_mappings
from agents.db import connect
from agents.errors import MappingError, OpenDecisionsError
from agents.execution import ExecutionSettings, check_mapping, key_bounds
from agents.key_inference import infer_foreign_keys, infer_primary_keys
from agents.llm import LLMClient, LLMConfig
from agents.models import DatabaseSchema, Decision, Filter, MigrationPlan, TableMapping
from agents.planning import make_plan
from agents.project import Project, effective_mapping, open_decisions
from agents.schema_analysis import introspect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanResult:
    plan: MigrationPlan
    mappings: list[TableMapping]
    source: DatabaseSchema
    target: DatabaseSchema

    @property
    def open_decisions(self) -> list[Decision]:
        return [d for m in self.mappings for d in m.decisions if d.answer is None]


def analyse(project: Project) -> tuple[DatabaseSchema, DatabaseSchema]:
    src_dsn, tgt_dsn = project.dsns()
    introspected = introspect(src_dsn, schema=project.settings.source_schema)
    source = infer_foreign_keys(src_dsn, infer_primary_keys(src_dsn, introspected))
    target = introspect(tgt_dsn, schema=project.settings.target_schema, profile=False)
    if not target.tables:
        raise MappingError(
            f"the target schema '{project.settings.target_schema}' has no tables; "
            "create the redesigned schema first (migrations, Supabase SQL editor, ...)"
        )
    project.save_schema("source", source)
    project.save_schema("target", target)
    return source, target


def make_advisor(project: Project, llm_model: str | None = None) -> MappingAdvisor:
    """The LLM backend when a model is configured, else the heuristic one."""
    config = LLMConfig.from_env(llm_model, cache_dir=project.root / ".cache" / "llm")
    if config is None:
        return HeuristicAdvisor()
    log.info("using LLM model %s for mapping judgement", config.model)
    return LLMAdvisor(LLMClient(config))


def plan_project(project: Project, *, advisor: MappingAdvisor | None = None) -> PlanResult:
    source, target = analyse(project)
    plan = make_plan(source, target)
    src_dsn, _ = project.dsns()
    ctx = MappingContext(src_dsn, source, target, plan, advisor=advisor or HeuristicAdvisor())
    mappings = propose_mappings(ctx)
    plan = _with_partitions(plan, mappings, src_dsn, project)
    kept = []
    for m in mappings:
        path = project.mapping_path(m.target)
        if path.exists():  # never overwrite a reviewed file; carry the reviewer's answers over
            m = _carry_over(project.load_mapping(m.target), m)
        project.save_mapping(m)
        kept.append(m)
    project.save_plan(plan)
    return PlanResult(plan=plan, mappings=kept, source=source, target=target)


def key_ranges(lo: int, hi: int, parts: int) -> list[str]:
    """Split [lo, hi] into ``parts`` contiguous ranges 'a:b' (b exclusive).

    >>> key_ranges(1, 10, 3)
    ['1:5', '5:9', '9:11']
    """
    width = -(-(hi - lo + 1) // parts)
    return [f"{a}:{min(a + width, hi + 1)}" for a in range(lo, hi + 1, width)]


def _with_partitions(
    plan: MigrationPlan, mappings: list[TableMapping], source_dsn: str, project: Project
) -> MigrationPlan:
    """Large tables keyed by integers become key-range partitions (Dagster partitions)."""
    by_target = {m.target: m for m in mappings}
    limit = project.settings.partition_rows
    tables = []
    for tp in plan.tables:
        m = by_target.get(tp.target)
        if m is None or not m.key_source or tp.rows_estimate <= limit:
            tables.append(tp)
            continue
        with connect(source_dsn, read_only=True) as conn:
            lo, hi = key_bounds(conn, m, project.settings.source_schema) or (0, 0)
            conn.rollback()
        parts = -(-tp.rows_estimate // limit)
        tables.append(tp.model_copy(update={"partitions": key_ranges(lo, hi, parts)}))
    return plan.model_copy(update={"tables": tables})


def _carry_over(old: TableMapping, new: TableMapping) -> TableMapping:
    answers = {d.id: d.answer for d in old.decisions if d.answer is not None}
    decisions = [d.model_copy(update={"answer": answers.get(d.id)}) for d in new.decisions]
    return new.model_copy(update={"decisions": decisions, "filters": old.filters or new.filters})


def apply_review(project: Project, review_file: Path) -> None:
    """Apply a reviewer's answers file (filters and decision answers) to the mapping files."""
    data: dict[str, Any] = yaml.safe_load(review_file.read_text()) or {}
    for target, review in data.items():
        mapping = project.load_mapping(target)
        answers = review.get("answers", {}) or {}
        known = {d.id for d in mapping.decisions}
        unknown = sorted(set(answers) - known)
        if unknown:
            raise MappingError(
                f"{review_file}: {target} has no decision(s) {unknown}; known: {sorted(known)}"
            )
        decisions = [
            d.model_copy(update={"answer": answers.get(d.id, d.answer)}) for d in mapping.decisions
        ]
        filters = [Filter.model_validate(f) for f in review.get("filters", [])] or mapping.filters
        project.save_mapping(
            mapping.model_copy(update={"decisions": decisions, "filters": filters})
        )


@dataclass(frozen=True)
class RunInputs:
    project: Project
    plan: MigrationPlan
    source: DatabaseSchema
    target: DatabaseSchema
    mappings: dict[str, TableMapping]  # effective (decisions folded in), by target
    reviewed: dict[str, TableMapping]  # as on disk
    settings: ExecutionSettings


def load_run_inputs(project: Project, *, accept_proposals: bool) -> RunInputs:
    plan = project.load_plan()
    source = project.load_schema("source")
    target = project.load_schema("target")
    reviewed = {m.target: m for m in project.load_mappings()}
    blocking = [
        (t, d)
        for t, m in reviewed.items()
        for d in open_decisions(m, accept_proposals=accept_proposals)
    ]
    if blocking:
        lines = "\n".join(f"  - mappings/{t}.yaml: {d.id}: {d.question}" for t, d in blocking)
        raise OpenDecisionsError(
            f"{len(blocking)} decision(s) need an answer before the run:\n{lines}\n"
            "Fill in `answer:` in those files, or pass --yes to accept the agents' proposals."
        )
    effective = {}
    for t, m in reviewed.items():
        eff = effective_mapping(m, accept_proposals=accept_proposals)
        check_mapping(eff, source.table(eff.source), target.table(eff.target))
        effective[t] = eff
    s = project.settings
    batch = {tp.target: tp.batch_size for tp in plan.tables}
    settings = ExecutionSettings(
        namespace=s.namespace,
        source_schema=s.source_schema,
        target_schema=s.target_schema,
        batch_size=min(batch.values(), default=50_000),
        max_reject_ratio=s.max_reject_ratio,
        target_role=s.target_role,
    )
    return RunInputs(
        project=project,
        plan=plan,
        source=source,
        target=target,
        mappings=effective,
        reviewed=reviewed,
        settings=settings,
    )
