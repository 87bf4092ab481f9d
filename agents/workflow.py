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
from agents.data_mapping import MappingContext, propose_mappings, propose_table
from agents.db import connect
from agents.errors import MappingError, MigrationError, OpenDecisionsError, SchemaAnalysisError
from agents.execution import ExecutionSettings, check_mapping, key_bounds, source_table
from agents.key_inference import count_dangling, infer_foreign_keys, infer_primary_keys
from agents.llm import LLMClient, LLMConfig
from agents.models import (
    ColumnRule,
    DatabaseSchema,
    Decision,
    Filter,
    MigrationPlan,
    TableMapping,
)
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


def _side(which: str, display: str, exc: MigrationError) -> SchemaAnalysisError:
    """The same failure, naming the database it came from (source or target)."""
    return SchemaAnalysisError(f"the {which} database ({display}): {exc}")


def analyse(project: Project) -> tuple[DatabaseSchema, DatabaseSchema]:
    src_dsn, tgt_dsn = project.dsns()
    s = project.settings
    try:
        introspected = introspect(src_dsn, schema=s.source_schema)
        keyed = infer_foreign_keys(src_dsn, infer_primary_keys(src_dsn, introspected))
        source = count_dangling(src_dsn, keyed)
    except MigrationError as exc:
        raise _side("source (legacy)", s.source_display, exc) from None
    try:
        target = introspect(tgt_dsn, schema=s.target_schema, profile=False, closed_labels=True)
    except MigrationError as exc:
        raise _side("target", s.target_display, exc) from None
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


def _repair_pairing(project: Project, target: str, source_name: str) -> int:
    """The reviewer names the legacy table feeding ``target``: propose its mapping from that
    table (and record the pairing in the plan). Returns 1 when this corrected the agents."""
    plan = project.load_plan()
    current = {tp.target: tp for tp in plan.tables}.get(target)
    if current is None:
        raise MappingError(f"the plan has no target table {target}")
    if current.source == source_name and project.mapping_path(target).exists():
        return 0
    source, tgt_schema = project.load_schema("source"), project.load_schema("target")
    if not source.has_table(source_name):
        raise MappingError(f"review: legacy table {source_name} (for {target}) does not exist")
    plan = plan.model_copy(
        update={
            "tables": [
                tp.model_copy(
                    update={
                        "source": source_name,
                        "confidence": 1.0,
                        "rationale": "named by the reviewer",
                        "rows_estimate": source.table(source_name).row_count,
                    }
                )
                if tp.target == target
                else tp
                for tp in plan.tables
            ],
            "unmapped_sources": [s for s in plan.unmapped_sources if s != source_name],
        }
    )
    src_dsn, _ = project.dsns()
    ctx = MappingContext(src_dsn, source, tgt_schema, plan, advisor=HeuristicAdvisor())
    mapping = propose_table(
        ctx, tgt_schema.table(target), source.table(source_name), 1.0, "named by the reviewer"
    )
    project.save_mapping(mapping)
    project.save_plan(plan)
    return 1


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


def apply_review(project: Project, review_file: Path) -> int:
    """Apply a reviewer's file to the mapping files; returns how many rules it corrected.

    Per target table: ``source`` (the legacy table that feeds it, when the agents paired
    another or none: its mapping is proposed afresh from that table, a split when another
    target reads it too), ``answers`` (decision id -> answer), ``filters`` (replace the row
    filters), ``columns`` (rules written by the reviewer, each replacing the agents' rule for
    its target column or adding one), ``remove`` (target columns to leave unwritten),
    ``merge`` / ``key_source`` / ``key_kind`` / ``key_target`` (the table's shape). The
    corrections are what the agents got wrong: the benchmark counts them.
    """
    data: dict[str, Any] = yaml.safe_load(review_file.read_text()) or {}
    corrected = 0
    for target, review in data.items():
        named = review.get("source") or (
            review["merge"][0]["table"] if review.get("merge") else None
        )
        if named:
            corrected += _repair_pairing(project, target, str(named))
        mapping = project.load_mapping(target)
        shape = {
            k: review[k] for k in ("merge", "key_source", "key_kind", "key_target") if k in review
        }
        if shape:  # the table's structure as the reviewer states it (a merge, another key)
            mapping = TableMapping.model_validate({**mapping.model_dump(), **shape})
            corrected += 1
            if mapping.merge:  # rules proposed from one part's columns do not read the merge
                merged = {n for p in mapping.merge for n in p.columns} | {"__dbm_part"}
                mapping = mapping.model_copy(
                    update={
                        "columns": [
                            r
                            for r in mapping.columns
                            if r.kind in ("constant", "code", "expression")
                            or (r.source in merged and not r.via)
                        ]
                    }
                )
                source_table(mapping, project.load_schema("source"))  # names checked now
        written = [ColumnRule.model_validate(c) for c in review.get("columns", []) or []]
        removed = set(review.get("remove", []) or [])
        if written or removed:
            known_cols = {c.name for c in project.load_schema("target").table(target).columns}
            unknown_cols = sorted(removed - known_cols)
            if unknown_cols:
                raise MappingError(f"{review_file}: {target} has no column(s) {unknown_cols}")
            by_target = {r.target: r for r in written}
            rules = [by_target.pop(r.target, r) for r in mapping.columns if r.target not in removed]
            rules += list(by_target.values())
            corrected += len(written) + len(removed)
            settled = {r.target for r in written} | removed
            mapping = mapping.model_copy(
                update={
                    "columns": rules,
                    # A question about a column the reviewer wrote or removed is answered.
                    "decisions": [d for d in mapping.decisions if d.column not in settled],
                }
            )
        answers = review.get("answers", {}) or {}
        known = {d.id for d in mapping.decisions}
        try:
            mapping, n_settled = _settled_answers(
                mapping, {k: str(v) for k, v in answers.items() if k not in known}
            )
        except MappingError as exc:
            raise MappingError(f"{review_file}: {exc}") from None
        corrected += n_settled
        decisions = [
            d.model_copy(update={"answer": answers.get(d.id, d.answer)}) for d in mapping.decisions
        ]
        filters = [Filter.model_validate(f) for f in review.get("filters", [])] or mapping.filters
        project.save_mapping(
            mapping.model_copy(update={"decisions": decisions, "filters": filters})
        )
    return corrected


def _settled_answers(mapping: TableMapping, answers: dict[str, str]) -> tuple[TableMapping, int]:
    """Answers to questions the agents no longer ask (a re-plan settled them): an answer for a
    legacy value still holds, as that rule's value map entry (a reviewer's word outranks the
    agents'). Anything else names a question that does not exist, and is refused."""
    rules = {r.target: r for r in mapping.columns}
    applied = 0
    for qid, answer in answers.items():
        head, _, key = qid.partition(".value:")
        column = head.removeprefix(f"{mapping.target}.")
        rule = rules.get(column)
        if not key or rule is None or not head.startswith(f"{mapping.target}."):
            raise MappingError(
                f"{mapping.target} has no decision {qid}; known: "
                f"{sorted(d.id for d in mapping.decisions)}"
            )
        if rule.value_map.get(key) != answer:
            rules[column] = rule.model_copy(update={"value_map": {**rule.value_map, key: answer}})
            applied += 1
    columns = [rules[r.target] for r in mapping.columns]
    return mapping.model_copy(update={"columns": columns}), applied


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
        table = target.table(eff.target)
        check_mapping(eff, source_table(eff, source), table, source)
        for rule in eff.columns:
            if rule.defer and not table.column(rule.target).nullable:
                raise MappingError(
                    f"{rule.target}: defer writes the reference after the rows load, so the "
                    f"column must allow NULL meanwhile, and {t}.{rule.target} is NOT NULL: "
                    "remove defer (its parent must then load first)",
                    path=f"mappings/{t}.yaml",
                )
        effective[t] = eff
    for t, eff in effective.items():
        for rule in eff.columns:
            parent = effective.get(rule.fk_target or "") if rule.kind == "fk" else None
            if parent is None or not parent.key_columns:
                continue
            parent_kind = "integer" if parent.integer_key is not None else "natural"
            if rule.ref_kind != parent_kind:
                raise MappingError(
                    f"{rule.target}: ref_kind is {rule.ref_kind} but {parent.target}'s legacy key "
                    f"({', '.join(parent.key_columns)}) is {parent_kind}: set ref_kind: "
                    f"{parent_kind}",
                    path=f"mappings/{t}.yaml",
                )
    s = project.settings
    batch = {tp.target: tp.batch_size for tp in plan.tables}
    settings = ExecutionSettings(
        namespace=s.namespace,
        source_schema=s.source_schema,
        target_schema=s.target_schema,
        bookkeeping_schema=s.bookkeeping_schema,
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
