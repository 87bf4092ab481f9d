"""Data-mapping role (heuristic backend): one proposed :class:`TableMapping` per target table.

Column pairing is a one-to-one assignment by descending evidence (name similarity after
normalisation, type compatibility, value profile). The rule kind follows from the two types: an
integer key feeding a UUID key becomes ``uuid_key``; a UUID foreign key is re-resolved from the
legacy FK through ``migration_mappings``; text feeding an enum, boolean, date or numeric column is
parsed with a detected format. Anything the agent cannot decide with confidence becomes a
:class:`Decision` for a human.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Literal

import psycopg
from psycopg import sql

from agents.advisors import (
    LLM_CONFIDENCE_CAP,
    CodeQuestion,
    ColumnCandidate,
    ColumnQuestion,
    HeuristicAdvisor,
    MappingAdvisor,
    ValueQuestion,
)
from agents.code_templates import looks_like_person_names, name_split_code
from agents.db import connect, qualified
from agents.execution import PART
from agents.matching import calibration
from agents.matching.assignment import assign, runners_up, ties
from agents.matching.names import (
    explained,
    kindred_similarity,
    matches_any,
    names_legacy,
    subject_words,
    word_similarity,
)
from agents.models import (
    ColumnInfo,
    ColumnRule,
    DatabaseSchema,
    Decision,
    Hop,
    MergePart,
    MigrationPlan,
    RuleKind,
    TableInfo,
    TableMapping,
    TablePlan,
)
from agents.naming import canonical_words, name_similarity, strip_table_words
from agents.planning import bare, extensions
from agents.schema_analysis import distinct_values
from agents.value_classifier import Classification
from agents.value_rules import (
    DATE_FORMATS,
    FALSE_WORDS,
    TIMESTAMP_FORMATS,
    TRUE_WORDS,
    date_parse_share,
    detect_date_formats,
    looks_boolean,
    looks_numeric_text,
    missing_markers,
)

MATCH_THRESHOLD = 0.6
SAMPLE_VALUES = 1000

# Which source type families can feed which target family without parsing.
RuleKindKey = Literal["integer", "natural"]
COMPATIBLE: dict[str, set[str]] = {
    "text": {
        "text",
        "integer",
        "numeric",
        "float",
        "date",
        "timestamp",
        "timestamptz",
        "boolean",
        "uuid",
        "enum",
        "money",
    },
    "integer": {"integer"},
    "numeric": {"numeric", "integer", "float"},
    "float": {"float", "numeric", "integer"},
    "boolean": {"boolean"},
    "date": {"date", "timestamp", "timestamptz"},
    "timestamp": {"timestamp", "timestamptz", "date"},
    "timestamptz": {"timestamptz", "timestamp", "date"},
    "uuid": {"uuid"},
    "enum": {"enum"},
    "json": {"json", "text"},
}
# Target types whose fit to a text column is judged by parsing its values (:func:`parse_fit`).
PARSE_EVIDENCE = frozenset(
    {"boolean", "date", "timestamp", "timestamptz", "numeric", "integer", "float"}
)
PARSEABLE_FROM_TEXT = {
    "enum",
    "boolean",
    "date",
    "timestamp",
    "timestamptz",
    "numeric",
    "integer",
    "float",
}


@dataclass(frozen=True)
class MappingContext:
    source_dsn: str
    source: DatabaseSchema
    target: DatabaseSchema
    plan: MigrationPlan
    advisor: MappingAdvisor = field(default_factory=HeuristicAdvisor)

    @cached_property
    def entities(self) -> frozenset[str]:
        """The words naming the tables of both schemas (:func:`entity_words`), once per run."""
        return entity_words(self.source, self.target)

    def target_table_of(self, column: ColumnInfo) -> str:
        for t in self.target.tables:
            if any(c is column for c in t.columns):
                return t.name
        return "?"


def _type_fit(src: ColumnInfo, tgt: ColumnInfo) -> float:
    if src.data_type == tgt.data_type and src.udt_name == tgt.udt_name:
        return 1.0
    if src.data_type in COMPATIBLE.get(tgt.data_type, set()):
        return 0.9
    if src.data_type == "text" and tgt.data_type in PARSEABLE_FROM_TEXT:
        return 0.7
    if src.data_type == "money" and tgt.data_type in ("numeric", "float", "integer"):
        return 0.7  # read as its text ($19.99) and parsed, like money kept in text
    if src.data_type == "integer" and tgt.data_type in ("boolean", "enum"):
        return 0.6
    return 0.0


def parse_fit(src: TableInfo, scol: ColumnInfo, tcol: ColumnInfo) -> float:
    """A text column's fit to a typed target (and an integer's to a boolean or a date), from
    its sampled values: the share of them that parse as the target's type (dates and
    timestamps in any known format, numbers, booleans).
    Text whose values all parse fits as well as the type itself; text that never parses
    cannot feed it. Without values to judge, the flat fit of parseable text."""
    fit = _type_fit(scol, tcol)
    read_as_text = scol.data_type == "text" and tcol.data_type in PARSE_EVIDENCE
    flags = scol.data_type == "integer" and tcol.data_type == "boolean"  # 0/1 flags
    # Days written as digits (20180115): an integer fits a date as far as its values read as
    # one; any other integer does not at all.
    digits = scol.data_type == "integer" and tcol.data_type in ("date", "timestamp", "timestamptz")
    if not (read_as_text or flags or digits) or (fit == 0.0 and not digits):
        return fit
    profile = src.profiles.get(scol.name)
    # Blank text and missing-value markers are "no value" here, as the rules read them, not
    # a failure to parse.
    top = [v for v, _ in profile.top_values] if profile else []
    markers = missing_markers(top)
    values = [v for v in top if v and v.strip() and v not in markers]
    if not values:
        return fit
    return _parse_share(tuple(values), tcol.data_type)


@lru_cache(maxsize=4096)
def _parse_share(values: tuple[str, ...], t: str) -> float:
    """Share of ``values`` that parse as type ``t``; cached, since every target column of one
    type asks it again of the same legacy column in the score matrix."""
    if t in ("date", "timestamp", "timestamptz"):
        formats = DATE_FORMATS if t == "date" else TIMESTAMP_FORMATS + DATE_FORMATS
        share = date_parse_share(list(values), formats)
    elif t == "boolean":
        words = TRUE_WORDS | FALSE_WORDS
        share = sum(1 for v in values if v.strip().lower() in words) / len(values)
    else:
        share = looks_numeric_text(list(values))
    return round(share, 4)


def column_name_similarity(
    tcol: str, ttable: str, scol: str, stable: str, entities: frozenset[str] = frozenset()
) -> float:
    """Name evidence, also after dropping words that merely repeat the table's name (its own
    name, not its schema's).

    English puts the owner first, so words a target adds *before* all of a source column's
    may say whose value it is: after the source lost its table's name (``DEPARTMENT_NAME`` ->
    ``NAME``), any such words name another owner (``region_name``); before an unstripped one,
    words that name another table of the schemas do (``nation_name`` is not a city's
    ``name``), while ``unit_price`` or ``email_address`` say more of the same thing."""
    ttable, stable = bare(ttable), bare(stable)
    own = canonical_words(stable, is_table=True)
    t_left, s_left = strip_table_words(tcol, ttable), strip_table_words(scol, stable)
    plain = _owner_prefix(canonical_words(tcol), canonical_words(scol))
    other_owner = any(matches_any(w, entities) and not matches_any(w, own) for w in plain)
    stripped = s_left != scol and bool(
        _owner_prefix(canonical_words(t_left), canonical_words(s_left))
    )
    return max(
        name_similarity(tcol, scol, contained=not other_owner),
        name_similarity(t_left, s_left, contained=not (stripped or other_owner)),
    )


def _owner_prefix(tw: tuple[str, ...], sw: tuple[str, ...]) -> tuple[str, ...]:
    """The words ``tw`` adds before all of ``sw`` (``region`` in region name / name), or ()."""
    if not sw or len(tw) <= len(sw):
        return ()
    if all(matches_any(a, (b,)) for a, b in zip(tw[-len(sw) :], sw, strict=True)):
        return tw[: -len(sw)]
    return ()


def entity_words(*schemas: DatabaseSchema) -> frozenset[str]:
    """The words that name the tables of ``schemas``: the things a column's value may belong
    to (see :func:`column_name_similarity`)."""
    return frozenset(
        w for schema in schemas for t in schema.tables for w in subject_words(bare(t.name))
    )


def _classify(
    ctx: "MappingContext",
    src: TableInfo,
    column: str,
    tcol: ColumnInfo,
    values: list[str],
    *,
    siblings: bool = True,
) -> list[Classification]:
    """The advisor's labels for ``values``; with ``siblings``, the other text of each value's
    rows is evidence too (a code's description names its label)."""
    context = _sibling_text(ctx, src, column) if siblings else {}
    return ctx.advisor.classify(
        ValueQuestion(
            source_table=src.name,
            source_column=column,
            target_table=ctx.target_table_of(tcol),
            target_column=tcol.name,
            labels=list(tcol.enum_labels or []),
            values=values,
            context=context,
            context_columns=[c.name for c in src.columns if c.name != column],
        )
    )


RERANK_CANDIDATES = 5  # per target column: the model reranks a short list, never the schema
LLM_BONUS = 0.3  # the model's pick joins the matrix as one more matcher's vote


def _rerank_with_advisor(
    ctx: "MappingContext",
    tgt: TableInfo,
    src: TableInfo,
    wanted: list[ColumnInfo],
    offered: list["_Candidate"],
    scores: list[list[float]],
) -> dict[int, tuple[int, str]]:
    """Rows the evidence left unsure (best below the review line, or a close runner-up): the
    advisor (an LLM) reranks each row's best few type-compatible candidates. Its pick is
    added to the score matrix, so the one global assignment still decides, one to one."""
    if isinstance(ctx.advisor, HeuristicAdvisor):
        return {}
    line = calibration.review_threshold()
    unsure: dict[int, list[int]] = {}
    for i, row in enumerate(scores):
        ranked = sorted((j for j, v in enumerate(row) if v > 0), key=lambda j: -row[j])
        if not ranked:
            continue
        best = row[ranked[0]]
        runner = row[ranked[1]] if len(ranked) > 1 else 0.0
        if best < line or best - runner < 0.1:
            unsure[i] = ranked[:RERANK_CANDIDATES]
    if not unsure:
        return {}

    def candidate(j: int, score: float) -> ColumnCandidate:
        cand = offered[j]
        profile = cand.table.profiles.get(cand.column.name)
        samples = [v for v, _ in profile.top_values] if profile else []
        return ColumnCandidate(cand.label(), cand.column.data_type, samples, round(score, 3))

    options = {wanted[i].name: [candidate(j, scores[i][j]) for j in js] for i, js in unsure.items()}
    answers = ctx.advisor.match_columns(
        ColumnQuestion(
            source_table=src.name,
            target_table=tgt.name,
            targets=[(wanted[i].name, wanted[i].udt_name) for i in unsure],
            options=options,
        )
    )
    picks: dict[int, tuple[int, str]] = {}
    for i, js in unsure.items():
        answer = answers.get(wanted[i].name)
        if answer is None:
            continue
        for j in js:
            if offered[j].label() == answer.source:
                picks[i] = (j, answer.rationale)
                scores[i][j] = min(1.0, max(scores[i][j], MATCH_THRESHOLD) + LLM_BONUS)
    return picks


def _generated_rule(
    ctx: "MappingContext", tgt: TableInfo, src: TableInfo, tcol: ColumnInfo
) -> ColumnRule | None:
    """A required column nothing maps to: the advisor (LLM) may write code, tried first on
    sample rows in the sandbox; offline this returns None and a human is asked."""
    if isinstance(ctx.advisor, HeuristicAdvisor):
        return None
    with connect(ctx.source_dsn, read_only=True) as conn:
        cur = conn.execute(
            sql.SQL("SELECT * FROM {} LIMIT 200").format(
                qualified(ctx.source.schema_name, src.name)
            )
        )
        names = [d.name for d in cur.description or []]
        rows = cur.fetchall()
        conn.rollback()
    import pandas as pd

    sample = pd.DataFrame(
        [[None if v is None else str(v) for v in row] for row in rows], columns=names, dtype=object
    )

    def trial(code: str) -> str | None:
        from sandbox import SandboxError, run_transform

        try:
            out = run_transform(code, sample, expect_columns=[tcol.name], timeout_s=60).frame
        except SandboxError as exc:
            return f"the code failed on sample rows in the sandbox ({exc.kind}): {exc}"
        empty = int(out[tcol.name].isna().sum())
        if empty:
            return f"{empty} of {len(out)} sample rows got no value for a required column"
        return None

    candidates = [
        ColumnCandidate(
            c.name,
            c.data_type,
            [v for v, _ in src.profiles[c.name].top_values] if c.name in src.profiles else [],
        )
        for c in src.columns
    ]
    answer = ctx.advisor.write_code(
        CodeQuestion(
            source_table=src.name,
            target_table=tgt.name,
            target_column=tcol.name,
            target_type=tcol.udt_name,
            candidates=candidates,
            trial=trial,
        )
    )
    if answer is None:
        return None
    code, why = answer
    return ColumnRule(
        target=tcol.name,
        kind="code",
        code=code,
        confidence=0.6,
        rationale=f"{why}; generated code, tried on {len(sample)} rows in the "
        "sandbox, runs there on every batch",
    )


def _name_split_rules(
    ctx: "MappingContext", src: TableInfo, missing: list[ColumnInfo], used: set[str]
) -> list[ColumnRule]:
    """first_name + last_name wanted, one legacy "name" column holding both: generated code."""
    role = {}
    for col in missing:
        words = canonical_words(col.name)
        if words[-2:] in (("first", "name"), ("given", "name")):
            role["first"] = col.name
        elif words[-2:] in (("last", "name"), ("family", "name")):
            role["last"] = col.name
    if set(role) != {"first", "last"}:
        return []
    separate = {"first", "last", "given", "family", "surname", "forename"}
    if any(separate & set(canonical_words(c.name)) for c in src.columns):
        return []  # the legacy table already keeps the parts apart
    for scol in src.columns:
        if (
            scol.data_type != "text"
            or scol.name in used
            or max((word_similarity(w, "name") for w in canonical_words(scol.name)), default=0)
            < 0.85
        ):
            continue
        values = [
            v
            for v, _ in distinct_values(
                ctx.source_dsn, ctx.source.schema_name, src.name, scol.name, limit=200
            )
        ]
        share = looks_like_person_names(values)
        if share < 0.9:
            continue
        used.add(scol.name)
        code = name_split_code(scol.name, role["first"], role["last"])
        why = (
            f"{share:.0%} of {scol.name} values look like person names; split by generated "
            "code (runs in the sandbox)"
        )
        return [
            ColumnRule(
                target=role[k],
                kind="code",
                source=scol.name,
                code=code,
                confidence=0.8,
                rationale=why,
            )
            for k in ("first", "last")
        ]
    return []


def _best_enum_source(
    ctx: "MappingContext", src: TableInfo, tcol: ColumnInfo, folds: "list[_Candidate] | None" = None
) -> tuple[tuple[str, float, float, str], "_Candidate | None"] | None:
    """Data-driven choice of the column an enum is derived from (it may also feed another column).

    A redesign often splits one legacy text field into a display name and a category, so the
    source column may already be used; what decides is how many rows the classifier can label.
    The lookup tables the row references are candidates too (``folds``): a code's label often
    lives in its lookup table.
    """
    best: tuple[tuple[str, float, float, str], _Candidate | None] | None = None
    offered = [(src, c, None) for c in src.columns] + [(f.table, f.column, f) for f in folds or []]
    for table, scol, fold in offered:
        if scol.data_type != "text" or scol.name in table.primary_key:
            continue
        prof = table.profiles.get(scol.name)
        if prof and prof.distinct_count > SAMPLE_VALUES:
            continue
        counted = distinct_values(
            ctx.source_dsn, ctx.source.schema_name, table.name, scol.name, limit=SAMPLE_VALUES
        )
        if not counted:
            continue
        # The column's own values, not its rows' other text: a label a sibling column
        # mentions is evidence for that column (person names "classify" into tiers through
        # the membership column beside them), and that column is a candidate of its own.
        results = _classify(ctx, table, scol.name, tcol, [v for v, _ in counted], siblings=False)
        total = sum(n for _, n in counted)
        covered = sum(
            n
            for (v, n), r in zip(counted, results, strict=True)
            if r.label is not None and r.confidence >= 0.6
        )
        share = covered / total if total else 0.0
        if fold is not None:
            share *= HOP_DISCOUNT ** len(fold.via)
        if share >= 0.5 and (best is None or share > best[0][1]):
            where = f"{table.name}.{scol.name}" if fold else scol.name
            best = (
                (
                    scol.name,
                    share,
                    1.0,
                    f"{share:.0%} of {where} values classify into {tcol.name} labels",
                ),
                fold,
            )
    return best


def _fk_source_column(
    src: TableInfo, ref_source: str, taken: set[str] | None = None
) -> tuple[list[str], float, str, int] | None:
    """The source columns that reference ``ref_source`` (declared or inferred), in the order
    of the parent's key; the most confident reference not already ``taken``. Last, how many
    legacy rows it leaves dangling."""
    best = None
    for fk in src.foreign_keys:
        if fk.ref_table != ref_source or (taken and fk.columns[0] in taken):
            continue
        cand = (list(fk.columns), fk.confidence, fk.rationale, fk.dangling)
        if best is None or cand[1] > best[1]:
            best = cand
    return best


def _orphan_decision(
    tgt: TableInfo, column: str, src: TableInfo, cols: list[str], parent: str, dangling: int
) -> Decision:
    """Links the legacy data leaves dangling, in a column the redesign lets be empty: the owner
    says whether those rows keep their other values (the link written empty, and counted) or
    are rejected. Proposed: empty, since the redesign allows it and no row is lost."""
    return Decision(
        id=f"{tgt.name}.{column}.orphans",
        about="orphans",
        column=column,
        question=(
            f"{dangling} legacy {src.name} rows point at a {parent} row that does not exist "
            f"({', '.join(cols)}). Write {tgt.name}.{column} empty for them (set_null: the rows "
            "are migrated and the emptied links counted) or reject those rows (reject)?"
        ),
        options=["set_null", "reject"],
        proposed="set_null",
        confidence=0.5,
        rationale="the legacy database never enforced this reference",
    )


PLAUSIBLE = 0.35  # a candidate this close to a column left empty is worth a question
KINDRED_MIN = 0.25  # kindred words at most three levels apart (names.kindred_similarity)
OPAQUE_ID_FIT = 0.5  # an integer reference into a text column: a type fit, not a meaning
HOP_DISCOUNT = 0.95  # per fold hop: on equal evidence, the row's own column is the simpler truth
EMPTY_DISCOUNT = 0.5  # evidence for a legacy column that holds no value at all


@dataclass(frozen=True)
class _Candidate:
    """A legacy column a target column may take its value from: the source's own, or one a
    fold reaches through ``via``."""

    key: str
    column: ColumnInfo
    table: TableInfo
    via: list[Hop]

    def name_similarity(
        self, tcol: str, ttable: str, entities: frozenset[str] = frozenset()
    ) -> float:
        if not self.via:
            return column_name_similarity(tcol, ttable, self.column.name, self.table.name, entities)
        # A label folded in is named after its table and column together (genre.name ->
        # genre_name) or after its column alone; never after words of the *target's* table
        # stripped away, which would make every parent's "name" look like any "x_name".
        return max(
            name_similarity(tcol, f"{bare(self.table.name)}_{self.column.name}"),
            name_similarity(tcol, self.column.name),
        )

    def label(self) -> str:
        return f"{self.table.name}.{self.column.name}" if self.via else self.column.name

    def says_whose(self, tcol: str) -> bool:
        """A folded value describes the row it is read from: the target column's name, or the
        legacy column's own, names that row (``facility_name``, ``COUNTRY_NAME``, a link's
        role: ``manager_name`` through ``manager_id``). Without that, a generic name
        (``notes``) reads as well as this row's own new column as the lookup's."""
        owners = {
            w for hop in self.via for n in (bare(hop.table), *hop.link) for w in subject_words(n)
        }
        named = {*canonical_words(tcol), *canonical_words(self.column.name)}
        return any(matches_any(w, owners) for w in named)

    @property
    def empty(self) -> bool:
        """Every profiled row holds NULL here."""
        return _all_null(self.table, self.column.name)


def _fold_candidates(ctx: MappingContext, src: TableInfo, depth: int = 2) -> list[_Candidate]:
    """Non-key columns of the tables reached from ``src`` by its (declared or inferred)
    references, up to ``depth`` hops, and of the tables that extend a table on the way one to
    one (:func:`agents.planning.extensions`): their columns are the row's as much as a
    lookup's are, reached the other way."""
    out: list[_Candidate] = []
    frontier: list[tuple[TableInfo, list[Hop]]] = [(src, [])]
    seen = {src.name}
    for _ in range(depth):
        nxt: list[tuple[TableInfo, list[Hop]]] = []
        for table, path in frontier:
            steps = [
                (
                    ctx.source.table(fk.ref_table),
                    Hop(
                        table=fk.ref_table, link=dict(zip(fk.columns, fk.ref_columns, strict=True))
                    ),
                )
                for fk in table.foreign_keys
                if ctx.source.has_table(fk.ref_table)
            ] + [
                (side, Hop(table=side.name, link=link))
                for side, link in extensions(ctx.source, table)
            ]
            for parent, hop in steps:
                if parent.name in seen:
                    continue
                hops = [*path, hop]
                seen.add(parent.name)
                keyish = set(parent.primary_key) | {
                    c for f in parent.foreign_keys for c in f.columns
                }
                out.extend(
                    _Candidate(f"{parent.name}.{c.name}", c, parent, hops)
                    for c in parent.columns
                    if c.name not in keyish
                )
                nxt.append((parent, hops))
        frontier = nxt
    return out


def _composite_key_homes(
    src: TableInfo, tgt: TableInfo, legacy_key: list[str], links: set[str]
) -> dict[str, str]:
    """A redesign that keeps a composite legacy key as data declares it unique again: a target
    UNIQUE constraint of as many columns (none of them a reference) as the legacy key, whose
    columns the key's parts fit one to one by type (``UNIQUE (season, code)`` for Teams'
    ``(yearID, teamID)``). Target column -> legacy key part; empty when the types do not
    decide the pairing (two parts of one type): names then decide, as for any column."""
    if len(legacy_key) < 2:
        return {}
    parts = [src.column(k) for k in legacy_key]
    for unique in tgt.unique:
        if len(unique) != len(parts) or set(unique) & (links | set(tgt.primary_key)):
            continue
        cols = [tgt.column(u) for u in unique]
        fit = [[_type_fit(p, c) for p in parts] for c in cols]
        homes: dict[str, str] = {}
        for c, row in zip(cols, fit, strict=True):
            best = [p.name for p, f in zip(parts, row, strict=True) if f == max(row) and f >= 0.9]
            if len(best) != 1 or best[0] in homes.values():
                break
            homes[c.name] = best[0]
        if len(homes) == len(parts):
            return homes
    return {}


def _links(src: TableInfo) -> set[str]:
    """The legacy columns that hold another table's identifier (single-column references): no
    data of their own. The parts of a composite reference are data (a season, a team code)."""
    return {fk.columns[0] for fk in src.foreign_keys if len(fk.columns) == 1}


def _leftovers(src: TableInfo, taken: set[str]) -> list[ColumnInfo]:
    """Legacy columns nothing took, holding data and no reference: elimination's candidates."""
    links = _links(src)
    return [
        s
        for s in src.columns
        if s.name not in taken and s.name not in links and not _all_null(src, s.name)
    ]


def _guessed(score: float, name: float) -> dict[str, float]:
    """The evidence of a proposal made below the match threshold: its score bounds it."""
    return {"score": score, "name": name, "unassigned": 1.0, "guess": 1.0}


def _eliminate(
    src: TableInfo,
    wanted: list[ColumnInfo],
    chosen: dict[str, tuple[str, float, float, str]],
    used: set[str],
    evidence: dict[str, dict[str, float]],
) -> None:
    """A required column left without a source, and exactly one legacy column of a fitting
    type left unused: that is its source by elimination, proposed at a confidence that sends
    it to review.

    Chosen because nothing else was left, it has no evidence of its own, so its confidence is
    never above its score (a guess, listed for review). Right in every tuning case, wrong in
    one of six hand-written ones: too few, and too different, for the fit to vouch for it."""
    taken = used | {c[0] for c in chosen.values()}
    open_required = [
        t for t in wanted if t.name not in chosen and not t.nullable and not t.has_default
    ]
    for tcol in open_required:
        # A legacy foreign key holds another table's identifiers, not a measure: it is no
        # candidate by elimination (its information travels as a reference or a fold); a
        # column with no value has nothing to give a column that must have one.
        left = [s for s in _leftovers(src, taken) if _type_fit(s, tcol) >= 0.9]
        if len(left) == 1:
            chosen[tcol.name] = (
                left[0].name,
                0.55,
                0.0,
                f"the only legacy column of a fitting type left for the required {tcol.name}",
            )
            evidence[tcol.name] = _guessed(0.55, 0.0)
            taken.add(left[0].name)


def _kindred_guesses(
    src: TableInfo,
    tgt: TableInfo,
    wanted: list[ColumnInfo],
    chosen: Mapping[str, tuple[str, float, float, str]],
    used: set[str],
) -> list[tuple[str, str, float, float]]:
    """Columns that no name matched (and, if required, nothing else filled), each paired with
    a legacy column left over whose name is only a near word for it (``town`` / ``city``,
    ``location`` / ``address``): a redesign's rename that WordNet knows as kindred words, not
    synonyms.

    Only between what both sides left over, one to one (:func:`assign`), of a fitting type and
    with data, and never where two candidates are alike (a question stays). The score is the
    weak name evidence blended with the type as any match's, below the match threshold, so
    the guess is listed for review: right, the rows keep a value a rename would have lost;
    wrong, the reviewer sees it (a column the redesign added, say)."""
    rows = [t for t in wanted if t.name not in chosen and not t.has_default]
    free = _leftovers(src, used | {c[0] for c in chosen.values()})
    if not rows or not free:
        return []
    ttable, stable = bare(tgt.name), bare(src.name)
    matrix = [
        [
            kin
            if _type_fit(s, t) >= 0.9
            and (
                kin := kindred_similarity(
                    strip_table_words(t.name, ttable), strip_table_words(s.name, stable)
                )
            )
            >= KINDRED_MIN
            else 0.0
            for s in free
        ]
        for t in rows
    ]
    out = []
    for i, j in assign(matrix, threshold=KINDRED_MIN).items():
        if ties(matrix, i, j) >= 0.5:
            continue
        kin = matrix[i][j]
        score = min(0.75 * kin + 0.25 * _type_fit(free[j], rows[i]), MATCH_THRESHOLD - 0.01)
        out.append((rows[i].name, free[j].name, round(score, 4), kin))
    return out


def _closest_guesses(
    wanted: list[ColumnInfo],
    offered: list["_Candidate"],
    scores: list[list[float]],
    chosen: Mapping[str, tuple[str, float, float, str]],
    used: set[str],
) -> list[tuple[str, "_Candidate", int, int]]:
    """A required column that nothing matched rejects every row under ``--yes``; its closest
    plausible candidate not taken elsewhere is proposed instead, at a confidence no higher
    than its score, so that it is listed for review (right or wrong, the rows load and the
    reviewer sees the guess)."""
    taken = used | {c[0] for c in chosen.values()}
    out: list[tuple[str, _Candidate, int, int]] = []
    for i, tcol in enumerate(wanted):
        if tcol.name in chosen or tcol.nullable or tcol.has_default:
            continue
        for j in sorted(range(len(offered)), key=lambda k: -scores[i][k]):
            if scores[i][j] < PLAUSIBLE:
                break
            cand = offered[j]
            if cand.via or cand.column.name not in taken:
                out.append((tcol.name, cand, i, j))
                if not cand.via:
                    taken.add(cand.column.name)
                break
    return out


def _all_null(src: TableInfo, column: str) -> bool:
    """The profile saw the column and it held no value in any sampled row."""
    profile = src.profiles.get(column)
    return (
        profile is not None
        and profile.rows_sampled > 0
        and profile.null_count >= profile.rows_sampled
    )


def legacy_key_of(src: TableInfo) -> list[str]:
    """The legacy key: the primary key, else the first unique column set with no NULLs in the
    profile (a key the legacy system never declared), else nothing."""
    if src.primary_key:
        return list(src.primary_key)
    for cols in src.unique:
        profiles = [src.profiles.get(c) for c in cols]
        if all(p is not None and p.null_count == 0 for p in profiles):
            return list(cols)
    return []


def key_kind_of(src: TableInfo, columns: list[str]) -> RuleKindKey:
    """integer when one integer column (or ``numeric(p, 0)``) holds the key, else natural."""
    if len(columns) == 1:
        col = src.column(columns[0])
        if col.data_type == "integer" or (col.data_type == "numeric" and col.numeric_scale == 0):
            return "integer"
    return "natural"


def propose_mappings(ctx: MappingContext) -> list[TableMapping]:
    """Every paired target's mapping. Where one legacy table feeds several targets (a split)
    and a target is left with a required column unmatched, it is proposed once more knowing
    which legacy columns its siblings carry: those are no candidates by elimination."""
    paired = {tp.target: tp for tp in ctx.plan.tables}
    order = [n for n in ctx.plan.order if paired[n].source is not None]

    def propose(name: str, claimed: frozenset[str] = frozenset()) -> TableMapping:
        tp = paired[name]
        assert tp.source is not None
        return propose_table(
            ctx,
            ctx.target.table(name),
            ctx.source.table(tp.source),
            tp.confidence,
            tp.rationale,
            claimed=claimed,
        )

    out = {
        name: propose_merge(ctx, paired[name]) if paired[name].merge else propose(name)
        for name in order
    }
    for name, mapping in out.items():
        if mapping.merge:
            continue
        open_required = any(d.about == "source" and d.answer is None for d in mapping.decisions)
        siblings = [m for n, m in out.items() if n != name and m.source == mapping.source]
        if not (open_required and siblings):
            continue
        claimed = frozenset(
            r.source
            for m in siblings
            for r in m.columns
            if isinstance(r.source, str) and not r.via and r.kind not in ("uuid_key", "fk")
        )
        out[name] = propose(name, claimed)
    return [out[name] for name in order]


MERGEABLE = ("copy", "enum", "boolean", "date", "timestamp", "numeric", "fk")
# (the kinds whose value is one column of the row, converted)


def propose_merge(ctx: MappingContext, tp: TablePlan) -> TableMapping:
    """A target that unites several legacy tables (``tp.merge``): each table is matched
    against it on its own, the same evidence and selection as a single source, and the
    answers are laid side by side as one merged relation. A merged column is named for the
    target column it feeds and reads, per table, the column that table's matching chose (for
    a fold, the columns its first step links by); the first table's rule (kind, format,
    references) applies to all, its value maps joined with the others'. A table with nothing
    for a column makes that rule a question, and so does a rule that reads more than one
    column of one table (an expression, generated code). The rows are keyed by (table,
    legacy key) and the discriminating column reads the table's name through the labels
    that named it."""
    tgt = ctx.target.table(tp.target)
    tables = [tp.source or "", *(t for t in tp.merge if t != tp.source)]
    proposals = {
        t: propose_table(ctx, tgt, ctx.source.table(t), tp.confidence, tp.rationale) for t in tables
    }
    first = proposals[tables[0]]
    keys = {t: legacy_key_of(ctx.source.table(t)) for t in tables}
    width = len(keys[tables[0]])
    if width == 0 or any(len(k) != width for k in keys.values()):
        return first  # no key to tell the united rows apart by: proposed as a single source
    key_names = [f"__key{i}" for i in range(width)]
    parts = {t: dict(zip(key_names, keys[t], strict=True)) for t in tables}
    rules: list[ColumnRule] = []
    key_target = tgt.primary_key[0] if len(tgt.primary_key) == 1 else None
    if key_target and tgt.column(key_target).data_type == "uuid":
        rules.append(
            ColumnRule(
                target=key_target,
                kind="uuid_key",
                source=key_names[0],
                rationale=f"(table, legacy key) of each of {', '.join(tables)} becomes a stable "
                "UUID",
            )
        )
    by_table = {t: {r.target: r for r in m.columns} for t, m in proposals.items()}
    asked: list[Decision] = []
    for tcol in tgt.columns:
        if tcol.name in (key_target, tp.merge_column):
            continue
        offered = [(t, by_table[t][tcol.name]) for t in tables if tcol.name in by_table[t]]
        if not offered:
            continue  # nothing matched in any table: the first table's questions stand
        lead = offered[0][1]
        if not _mergeable(lead):
            asked.append(
                Decision(
                    id=f"{tgt.name}.{tcol.name}.source",
                    about="source",
                    column=tcol.name,
                    question=f"{tgt.name}.{tcol.name} unites {', '.join(tables)}: the agents "
                    f"propose a {lead.kind} rule for {offered[0][0]} alone ({lead.rationale}). "
                    "Which merged column feeds it?",
                    rationale="a rule of this kind reads one table's own row",
                )
            )
            continue
        found = [(t, r) for t, r in offered if _mergeable(r) and _same_path(lead, r)]
        for t, rule in found:
            parts[t].update(_merged_columns(tcol.name, rule))
        missing = [t for t in tables if t not in {t for t, _ in found}]
        values: dict[str, str | None] = {}
        for _, rule in reversed(found):
            values.update(rule.value_map)
        conf = min(r.confidence for _, r in found)
        why = "; ".join(f"{t}: {r.rationale}" for t, r in found)
        if missing:
            # Rows of a table with no column for it would be NULL: a question, not an answer.
            conf = min(conf, PLAUSIBLE)
            why += f"; {', '.join(missing)} hold nothing for it (NULL for their rows)"
        hop = lead.via[:1]
        rules.append(
            lead.model_copy(
                update={
                    "source": lead.source if hop else tcol.name,
                    "via": [
                        Hop(table=hop[0].table, link=_merged_link(tcol.name, hop[0])),
                        *lead.via[1:],
                    ]
                    if hop
                    else [],
                    "value_map": values,
                    "confidence": conf,
                    "rationale": why,
                }
            )
        )
    if tp.merge_column:
        rules.append(
            ColumnRule(
                target=tp.merge_column,
                kind="enum",
                source=PART,
                value_map={t: tp.merge[t] for t in tables},
                confidence=tp.confidence,
                rationale="the legacy table each row comes from, by the label that names it",
            )
        )
    written = {r.target for r in rules}
    return TableMapping(
        target=tgt.name,
        source=tables[0],
        merge=[MergePart(table=t, columns=parts[t]) for t in tables],
        key_source=[PART, *key_names],
        key_kind="natural",
        key_target=key_target,
        columns=rules,
        decisions=[d for d in first.decisions if d.column not in written] + asked,
        confidence=tp.confidence,
        rationale=tp.rationale,
    )


def _mergeable(rule: ColumnRule) -> bool:
    """A rule that reads one column of the row (or folds one in through the row's own
    columns), so that each merged table can supply that column."""
    return (
        rule.kind in MERGEABLE
        and isinstance(rule.source, str)
        and not rule.ref_sources
        and not rule.ref_expressions
        and (not rule.via or rule.kind == "copy")
    )


def _same_path(lead: ColumnRule, rule: ColumnRule) -> bool:
    """Two tables' rules for one merged column agree on where the value lives: the same
    column of the row, or the same fold to the same column."""
    if bool(lead.via) != bool(rule.via):
        return False
    if not lead.via:
        return True
    return (
        rule.source == lead.source
        and [h.table for h in rule.via] == [h.table for h in lead.via]
        and [list(h.link.values()) for h in rule.via] == [list(h.link.values()) for h in lead.via]
    )


def _merged_link(column: str, hop: Hop) -> dict[str, str]:
    """A fold's first step, from the merged relation: its link columns get merged names."""
    return {f"{column}__via{i}": b for i, b in enumerate(hop.link.values())}


def _merged_columns(column: str, rule: ColumnRule) -> dict[str, str]:
    """What one table supplies for a merged column: the column itself, or a fold's links."""
    if rule.via:
        return {f"{column}__via{i}": a for i, a in enumerate(rule.via[0].link)}
    return {column: rule.source or ""}


def propose_table(
    ctx: MappingContext,
    tgt: TableInfo,
    src: TableInfo,
    confidence: float,
    rationale: str,
    *,
    claimed: frozenset[str] = frozenset(),
) -> TableMapping:
    """One target's mapping from its legacy table. ``claimed``: legacy columns that other
    targets fed by the same table carry (a split), left out of elimination."""
    rules: list[ColumnRule] = []
    decisions: list[Decision] = []
    used: set[str] = set()
    key_source: str | list[str] | None = None
    key_target: str | list[str] | None = None
    pairs = {tp.target: tp.source for tp in ctx.plan.tables}
    pair_confidence = {tp.target: tp.confidence for tp in ctx.plan.tables}
    merges = {tp.target: list(tp.merge) for tp in ctx.plan.tables if tp.merge}
    set_after = {p for tp in ctx.plan.tables if tp.target == tgt.name for p in tp.set_after}

    # 1. Primary key: any legacy key (integer, code, UUID, composite, or a unique column set
    # found in the data) becomes the target's UUID key, derived from the key's values.
    legacy_key = legacy_key_of(src)
    key_kind: RuleKindKey = key_kind_of(src, legacy_key) if legacy_key else "integer"
    if len(tgt.primary_key) == 1 and legacy_key:
        tcol = tgt.column(tgt.primary_key[0])
        scol = src.column(legacy_key[0])
        key_source, key_target = (
            (legacy_key[0] if len(legacy_key) == 1 else list(legacy_key)),
            tcol.name,
        )
        if key_kind == "integer":
            used.add(scol.name)  # a natural key may also be kept, in a column for the code
        if tcol.data_type == "uuid":
            what = (
                "integer legacy key"
                if key_kind == "integer"
                else f"legacy key ({', '.join(legacy_key)})"
            )
            declared = (
                ", unique and never empty in the data (not declared)"
                if src.key_inferred or not src.primary_key
                else ""
            )
            rules.append(
                ColumnRule(
                    target=tcol.name,
                    kind="uuid_key",
                    source=scol.name,
                    confidence=0.8 if src.key_inferred or not src.primary_key else 1.0,
                    rationale=f"{what}{declared} becomes a stable UUID",
                )
            )
        elif len(legacy_key) == 1 and _type_fit(scol, tcol) >= 0.9:
            rules.append(
                ColumnRule(
                    target=tcol.name, kind="copy", source=scol.name, rationale="primary key copied"
                )
            )
    elif len(tgt.primary_key) == 1 and not legacy_key:
        # No declared key and no column set unique in the data: a person must say what
        # identifies a row (never guessed: duplicates would collapse into one target row).
        decisions.append(
            Decision(
                id=f"{tgt.name}.key",
                about="key",
                column=tgt.primary_key[0],
                question=(
                    f"Legacy {src.name} declares no key and no set of its columns is unique in "
                    f"its data. Which columns identify one row (comma-separated)?"
                ),
                options=[c.name for c in src.columns],
                rationale="no primary key, no unique constraint, no unique column set in the data",
            )
        )
    elif len(tgt.primary_key) > 1 and legacy_key:
        # A join table keyed by its references: re-runs upsert on the target's own key, and
        # rows are told apart (rejects, resume) by the legacy key.
        key_source = legacy_key[0] if len(legacy_key) == 1 else list(legacy_key)
        key_target = list(tgt.primary_key)

    # 2. Foreign keys of the target, re-resolved through the parents' legacy keys.
    fk_cols: set[str] = set()
    referencing: set[str] = set()
    for fk in tgt.foreign_keys:
        if len(fk.columns) != 1:
            continue
        tcol_name = fk.columns[0]
        fk_cols.add(tcol_name)
        parent_source = pairs.get(fk.ref_table)
        found = _fk_source_column(src, parent_source, referencing) if parent_source else None
        # A parent that merges several legacy tables: the reference points into one of them
        # (the row's own, for a part split off one; else the one its legacy key references),
        # and names it, since the merged key is (table, legacy key).
        part = None
        for p in merges.get(fk.ref_table, []):
            if p == src.name and len(legacy_key) == 1 and fk.ref_table != tgt.name:
                part, found = p, (list(legacy_key), 0.8, f"its own row in {p}, merged there", 0)
                break
            hit = _fk_source_column(src, p, referencing)
            if hit is not None and len(hit[0]) == 1:
                part, found = p, hit
                break
        if part is not None:
            parent_source = part
        one_to_one = [tcol_name] == list(tgt.primary_key) or [tcol_name] in tgt.unique
        only_link = sum(1 for f in tgt.foreign_keys if f.ref_table == fk.ref_table) == 1
        if (
            part is None
            and parent_source == src.name
            and legacy_key
            and fk.ref_table != tgt.name
            and (found is None or one_to_one or only_link)
        ):
            # A part split off the same legacy row: its one reference to that part's parent is
            # the row's own key. A self-reference of the legacy table links a row to another
            # row (a member to who recommended them), which is the parent's own reference.
            # Surer when the target makes the link one-to-one.
            found = (
                list(legacy_key),
                0.9 if one_to_one else 0.8,
                "split from the same legacy row (its own key)",
                0,
            )
        if found and parent_source:
            cols, conf, why, dangling = found
            # A reference is only as sure as the pairing of the table it points into.
            pairing = pair_confidence.get(fk.ref_table, 1.0)
            if pairing < conf:
                conf = pairing
                why += f"; {fk.ref_table}'s pairing with {parent_source} is {pairing:.0%} sure"
            referencing.add(cols[0])
            parent = ctx.source.table(parent_source)
            ref_kind = key_kind_of(parent, legacy_key_of(parent) or cols)
            if ref_kind == "integer":
                used.update(cols)
            ref_col = ctx.target.table(fk.ref_table).column(fk.ref_columns[0])
            nullable = tgt.column(tcol_name).nullable
            # Insert, then set (agents.engine.references): a parent that loads later (a cycle),
            # the table's own rows, or links the legacy data leaves dangling, decided per row.
            defer = nullable and (
                fk.ref_table == tgt.name or fk.ref_table in set_after or dangling > 0
            )
            if dangling:
                why += (
                    f"; {dangling} legacy rows point at a {parent_source} row that does not exist"
                )
                if nullable:
                    decisions.append(
                        _orphan_decision(tgt, tcol_name, src, cols, parent_source, dangling)
                    )
                else:
                    why += f" ({tgt.name}.{tcol_name} is required: those rows are rejected)"
            if ref_col.data_type != "uuid" and len(cols) == 1:
                # The parent keeps its legacy key as it was: the reference is its value, copied.
                # Deferred, the copy is set once the parent row is in, and only if it is.
                rules.append(
                    ColumnRule(
                        target=tcol_name,
                        kind="copy",
                        source=cols[0],
                        fk_target=fk.ref_table,
                        defer=defer,
                        confidence=conf,
                        rationale=f"{src.name}.{cols[0]} -> {parent_source}: {why}; "
                        f"{fk.ref_table} keeps the legacy key, so the value is copied",
                    )
                )
                continue
            rules.append(
                ColumnRule(
                    target=tcol_name,
                    kind="fk",
                    source=cols[0],
                    ref_sources=cols if len(cols) > 1 else [],
                    ref_kind="natural" if part else ref_kind,
                    ref_part=part,
                    fk_target=fk.ref_table,
                    defer=defer and (fk.ref_table == tgt.name or fk.ref_table in set_after),
                    confidence=conf,
                    rationale=f"{src.name}.{', '.join(cols)} -> {parent_source}: {why}",
                )
            )
        elif tgt.column(tcol_name).nullable:
            rules.append(
                ColumnRule(
                    target=tcol_name,
                    kind="constant",
                    value=None,
                    confidence=0.5,
                    rationale=f"no legacy column references {parent_source}; left empty",
                )
            )
        else:
            decisions.append(
                Decision(
                    id=f"{tgt.name}.{tcol_name}.source",
                    about="source",
                    column=tcol_name,
                    key=fk.ref_table,
                    question=(
                        f"Which legacy column of {src.name} points at the {fk.ref_table} row "
                        f"for {tgt.name}.{tcol_name}?"
                    ),
                    options=[c.name for c in src.columns if c.data_type == "integer"],
                    rationale=f"no declared or inferred key from {src.name} to {parent_source}",
                )
            )

    # 3. Data columns: one-to-one assignment by descending evidence. A unique target column
    # is where a redesign keeps a key: it takes the legacy key first (see _key_home).
    target_key = [key_target] if isinstance(key_target, str) else list(key_target or [])
    wanted = [c for c in tgt.columns if c.name not in target_key and c.name not in fk_cols]
    # A redesign that splits one legacy name field in two: generated code, before name matching
    # pairs "technician name" with "first name" by accident.
    split = _name_split_rules(ctx, src, wanted, used)
    rules.extend(split)
    wanted = [c for c in wanted if c.name not in {r.target for r in split}]
    # Candidates: the source's own columns, and the columns of the tables its references reach
    # (one or two hops: a lookup's label folded into the row). One score matrix, one global
    # one-to-one assignment with a "no match" option (agents.matching.assignment).
    # The legacy key stays on offer (its UUID does not use it up): a unique target column is
    # where a redesign keeps it.
    kept_key = legacy_key[0] if len(legacy_key) == 1 else None
    key_homes = _composite_key_homes(src, tgt, legacy_key, fk_cols)
    offered = [
        _Candidate(c.name, c, src, [])
        for c in src.columns
        if c.name not in used or c.name == kept_key or c.name in key_homes.values()
    ] + _fold_candidates(ctx, src)
    unique_targets = {u[0] for u in tgt.unique if len(u) == 1} - set(tgt.primary_key)
    scores: list[list[float]] = []
    names: list[list[float]] = []
    references = _links(src)
    for tcol in wanted:
        row, name_row = [], []
        for cand in offered:
            fit = parse_fit(cand.table, cand.column, tcol)
            if (
                not cand.via
                and cand.column.name in references
                and cand.column.data_type == "integer"
                and tcol.data_type == "text"
            ):
                # A lookup's integer id says nothing as text: the label it stands for, one
                # hop away, is what a text column of the redesign holds.
                fit = min(fit, OPAQUE_ID_FIT)
            name = cand.name_similarity(tcol.name, tgt.name, ctx.entities) if fit else 0.0
            score = (0.75 * name + 0.25 * fit) * HOP_DISCOUNT ** len(cand.via) if fit else 0.0
            if cand.empty:
                score *= EMPTY_DISCOUNT  # a legacy column with no value feeds nothing
            if cand.column.name == kept_key and not cand.via and names_legacy(tcol.name):
                # A column named for the old system's id (legacy_id, old_key) names the legacy
                # key by convention, whatever the key column is called: a full name match.
                name = 1.0
                score = max(score, 0.75 + 0.25 * fit)
            elif not cand.via and (
                (cand.column.name == kept_key and tcol.name in unique_targets)
                or key_homes.get(tcol.name) == cand.column.name
            ):
                # Structural evidence, key to key: enough to clear the threshold on its own, not
                # enough to beat a column whose name says more (it lands in review).
                score = max(score, MATCH_THRESHOLD + 0.1 * name)
            row.append(score)
            name_row.append(name)
        scores.append(row)
        names.append(name_row)
    chosen: dict[str, tuple[str, float, float, str]] = {}
    folds: dict[str, _Candidate] = {}
    evidence: dict[str, dict[str, float]] = {}
    picked = _rerank_with_advisor(ctx, tgt, src, wanted, offered, scores)
    for i, j in assign(scores, threshold=MATCH_THRESHOLD).items():
        tname, cand = wanted[i].name, offered[j]
        what = cand.label()
        evidence[tname] = _evidence(scores, names, i, j, cand, tcol=wanted[i], offered=offered)
        why = f"name similarity {names[i][j]:.2f} ({what} -> {tname})"
        if picked.get(i, (None, ""))[0] == j:
            evidence[tname]["llm"] = 1.0
            why += f"; {picked[i][1]}"
        chosen[tname] = (cand.column.name, scores[i][j], names[i][j], why)
        if cand.via:
            folds[tname] = cand
        else:
            used.add(cand.column.name)
    for tcol in wanted:
        if tcol.name not in chosen and tcol.data_type == "enum" and tcol.enum_labels:
            derived = _best_enum_source(ctx, src, tcol, [c for c in offered if c.via])
            if derived:
                chosen[tcol.name] = derived[0]
                if derived[1] is not None:
                    folds[tcol.name] = derived[1]
    for tname, cand, i, j in _closest_guesses(wanted, offered, scores, chosen, used):
        chosen[tname] = (
            cand.column.name,
            scores[i][j],
            names[i][j],
            f"the closest candidate for the required {tname} ({cand.label()}, score "
            f"{scores[i][j]:.2f}) is below the match threshold: a guess, for review",
        )
        evidence[tname] = {
            "score": round(scores[i][j], 4),
            "name": round(names[i][j], 4),
            "hops": float(len(cand.via)),
            "unassigned": 1.0,
            "guess": 1.0,
        }
        if cand.via:
            folds[tname] = cand
        else:
            used.add(cand.column.name)
    _eliminate(src, wanted, chosen, used | claimed, evidence)
    for tname, sname, score, kin in _kindred_guesses(src, tgt, wanted, chosen, used | claimed):
        chosen[tname] = (
            sname,
            score,
            kin,
            f"no name matched {tname}; {sname}, left over too, is a near word for it "
            f"(WordNet: kinds of the same thing, name evidence {kin:.2f}): a guess, for review",
        )
        evidence[tname] = _guessed(score, kin)
        used.add(sname)
    _eliminate(src, wanted, chosen, used | claimed, evidence)  # a kindred guess may leave one
    for tname, (_, score, name, _) in chosen.items():
        # Not from the assignment: the enum's values or the advisor chose it.
        evidence.setdefault(tname, {"score": score, "name": name, "unassigned": 1.0})
    for tcol in wanted:
        if tcol.name in folds:
            fold = folds[tcol.name]
            sname, score, name, why = chosen[tcol.name]
            rule, more = _rule_for(
                ctx, tgt, fold.table, tcol, fold.column, score, name, why, evidence.get(tcol.name)
            )
            rules.append(rule.model_copy(update={"via": fold.via}))
            decisions.extend(more)
        elif tcol.name in chosen:
            sname, score, name, why = chosen[tcol.name]
            rule, more = _rule_for(
                ctx, tgt, src, tcol, src.column(sname), score, name, why, evidence.get(tcol.name)
            )
            if rule.kind == "copy":
                rule, lossy = _narrowing(ctx, tgt, src, tcol, src.column(sname), rule)
                more = [*more, *lossy]
            rules.append(rule)
            decisions.extend(more)
        elif not tcol.nullable and not tcol.has_default:
            generated = _generated_rule(ctx, tgt, src, tcol)
            if generated is not None:
                rules.append(generated)
                continue
            decisions.append(
                Decision(
                    id=f"{tgt.name}.{tcol.name}.source",
                    about="source",
                    column=tcol.name,
                    question=(
                        f"{tgt.name}.{tcol.name} must have a value but no legacy column of "
                        f"{src.name} clearly matches it. Which column (or which fixed value)?"
                    ),
                    options=[c.name for c in src.columns if c.name not in used],
                    rationale="no column name or type matched well enough",
                )
            )
        elif tcol.nullable:
            near = _near_misses(
                scores[wanted.index(tcol)], offered, src, tcol, taken=chosen, used=used
            )
            if near:
                # Left empty is a proposal too: when a legacy column came close, say so rather
                # than leave a renamed column NULL without a word.
                decisions.append(
                    Decision(
                        id=f"{tgt.name}.{tcol.name}.source",
                        about="source",
                        column=tcol.name,
                        question=(
                            f"No legacy column of {src.name} clearly feeds {tgt.name}."
                            f"{tcol.name}, so it stays empty. The closest: "
                            f"{', '.join(near)}. Name one, or leave it empty."
                        ),
                        options=near,
                        rationale="a candidate came close to the matching threshold",
                    )
                )
    return TableMapping(
        target=tgt.name,
        source=src.name,
        key_source=key_source,
        key_kind=key_kind,
        key_target=key_target,
        columns=rules,
        decisions=decisions,
        confidence=confidence,
        rationale=rationale,
    )


def _near_misses(
    row: list[float],
    offered: list["_Candidate"],
    src: TableInfo,
    tcol: ColumnInfo,
    *,
    taken: dict[str, tuple[str, float, float, str]],
    used: set[str],
) -> list[str]:
    """The best few candidates of an unmatched column that came close to the threshold; when
    none did, the legacy columns of a fitting type that hold data and are carried nowhere (a
    rename nothing recognised, or a column dropped: a reviewer says which)."""
    chosen = {c[0] for c in taken.values()}
    ranked = sorted(
        (j for j, v in enumerate(row) if v >= PLAUSIBLE and offered[j].column.name not in chosen),
        key=lambda j: -row[j],
    )
    if ranked:
        return [offered[j].label() for j in ranked[:3]]
    return [
        c.name
        for c in src.columns
        if c.name not in used
        and c.name not in chosen
        and c.name not in src.primary_key
        and _type_fit(c, tcol) >= 0.9
        and (p := src.profiles.get(c.name)) is not None
        and p.null_count < p.rows_sampled
    ][:3]


def _rule_for(
    ctx: MappingContext,
    tgt: TableInfo,
    src: TableInfo,
    tcol: ColumnInfo,
    scol: ColumnInfo,
    score: float,
    name_sim: float,
    why: str,
    evidence: Mapping[str, float] | None = None,
) -> tuple[ColumnRule, list[Decision]]:
    raw = min(1.0, 0.5 + score / 2) if name_sim >= 0.95 else score
    ev = dict(evidence) if evidence else {"score": round(score, 4), "name": round(name_sim, 4)}
    ev["fit"] = round(_type_fit(scol, tcol), 4)
    ev["parse"] = float(scol.data_type != tcol.data_type and tcol.data_type in PARSEABLE_FROM_TEXT)
    conf = calibration.confidence("column", ev, raw)
    if ev.get("tied", 0.0) >= 0.5:
        why += "; another pairing scores about as high, so the choice is close to a guess"
    if ev.get("llm"):  # a model's claim is listed for review, not trusted blindly
        conf = min(conf, LLM_CONFIDENCE_CAP)
    rule, decisions = _rule_kind(ctx, tgt, src, tcol, scol, conf, why)
    return rule.model_copy(update={"evidence": ev}), decisions


def _evidence(
    scores: list[list[float]],
    names: list[list[float]],
    i: int,
    j: int,
    cand: "_Candidate",
    *,
    tcol: ColumnInfo,
    offered: list["_Candidate"],
) -> dict[str, float]:
    """What the calibration reads about one assigned pair: its scores, and how clearly it won
    (the margin over this target's next candidate, and over this candidate's next target).

    ``outexplained``: another candidate means more of the target's words than this one. A
    short name read as contained in a long one (``name`` in ``location_street_name``) can
    outscore a column that says more of it (``address_street_name``); two readings, each
    winning on its own terms, are no sure pick."""
    row = scores[i]
    score = row[j]
    other_c, other_t = runners_up(scores, i, j)
    mine = explained(tcol.name, cand.column.name)
    more = any(
        row[k] > 0 and explained(tcol.name, o.column.name) > mine
        for k, o in enumerate(offered)
        if k != j
    )
    return {
        "score": round(score, 4),
        "name": round(names[i][j], 4),
        "margin": round(score - other_c, 4),
        "rival": round(score - other_t, 4),
        "hops": float(len(cand.via)),
        "tied": ties(scores, i, j),
        "nullable": float(tcol.nullable),
        **({"bare": 1.0} if cand.via and not cand.says_whose(tcol.name) else {}),
        **({"outexplained": 1.0} if more else {}),
    }


def _rule_kind(
    ctx: MappingContext,
    tgt: TableInfo,
    src: TableInfo,
    tcol: ColumnInfo,
    scol: ColumnInfo,
    conf: float,
    why: str,
) -> tuple[ColumnRule, list[Decision]]:
    """The rule's kind and its parsing, from the two columns' types and the legacy values."""
    t, s = tcol.data_type, scol.data_type
    if t == "enum" and tcol.enum_labels:
        return _enum_rule(ctx, tgt, src, tcol, scol, conf, why)
    if s == t or (
        s in COMPATIBLE.get(t, set())
        and t not in ("boolean", "date", "timestamp", "timestamptz", "numeric")
    ):
        return ColumnRule(
            target=tcol.name, kind="copy", source=scol.name, confidence=conf, rationale=why
        ), []
    if s in COMPATIBLE.get(t, set()):
        return ColumnRule(
            target=tcol.name,
            kind="copy",
            source=scol.name,
            confidence=conf,
            rationale=why + f"; {s} converts to {t} losslessly",
        ), []
    sampled = [
        v
        for v, _ in distinct_values(
            ctx.source_dsn, ctx.source.schema_name, src.name, scol.name, limit=SAMPLE_VALUES
        )
    ]
    # A typed target cannot hold "NA" or "NULL" as a value: those markers become NULL, in the
    # rule's value map for the reviewer to see, and the parse evidence is the other values'.
    markers = missing_markers(sampled)
    values = [v for v in sampled if v not in markers]
    nulls: dict[str, str | None] = dict.fromkeys(markers)
    if markers:
        why += f"; {', '.join(repr(m) for m in markers)} read as no value"
    if t == "boolean":
        b = looks_boolean(values)
        return ColumnRule(
            target=tcol.name,
            kind="boolean",
            source=scol.name,
            value_map=nulls,
            confidence=round(min(conf, 0.5 + b / 2), 3),
            rationale=why + f"; values {sorted(set(values))[:6]} read as true/false",
        ), []
    if t in ("date", "timestamp", "timestamptz"):
        fmts, fconf, note = detect_date_formats(
            values, DATE_FORMATS if t == "date" else TIMESTAMP_FORMATS + DATE_FORMATS
        )
        kind: RuleKind = "date" if t == "date" else "timestamp"
        rule = ColumnRule(
            target=tcol.name,
            kind=kind,
            source=scol.name,
            value_map=nulls,
            formats=fmts,
            timezone="UTC" if kind == "timestamp" else None,
            confidence=round(min(conf, fconf), 3),
            rationale=f"{why}; {note}",
        )
        decisions = []
        if fconf < 0.6 and fmts:
            decisions.append(
                Decision(
                    id=f"{tgt.name}.{tcol.name}.format",
                    about="format",
                    column=tcol.name,
                    question=f"In which format are the dates of {src.name}.{scol.name} written?",
                    options=fmts[:4],
                    proposed=fmts[0],
                    confidence=fconf,
                    rationale=note,
                )
            )
        return rule, decisions
    if t in ("numeric", "integer", "float"):
        ok = looks_numeric_text(values)
        return ColumnRule(
            target=tcol.name,
            kind="numeric",
            source=scol.name,
            value_map=nulls,
            confidence=round(min(conf, ok), 3),
            rationale=f"{why}; {ok:.0%} of values read as numbers",
        ), []
    return ColumnRule(
        target=tcol.name,
        kind="copy",
        source=scol.name,
        confidence=min(conf, 0.6),
        rationale=why + f"; {s} into {t} relies on PostgreSQL's cast",
    ), []


def _narrowing(
    ctx: MappingContext,
    tgt: TableInfo,
    src: TableInfo,
    tcol: ColumnInfo,
    scol: ColumnInfo,
    rule: ColumnRule,
) -> tuple[ColumnRule, list[Decision]]:
    """A copy into another SQL type: PostgreSQL's own cast decides, so ask it, over every
    legacy value, which ones do not survive the round trip (time of day dropped, a numeric
    rounded, text cut to ``varchar(n)``, a zone assumed). None: the copy is exact. Some: the
    cast moves into the source query (so the checks compare what the mapping promised) and
    the owner decides, with the count and examples; a value the cast refuses is reported too.
    """
    s_type, t_type = scol.sql_type, tcol.sql_type
    if not s_type or not t_type or s_type == t_type:
        return rule, []
    c = sql.Identifier(scol.name)
    lost = sql.SQL("{c} IS NOT NULL AND {c}::{t}::{s} IS DISTINCT FROM {c}").format(
        c=c, t=sql.SQL(t_type), s=sql.SQL(s_type)
    )
    try:
        with connect(ctx.source_dsn, read_only=True) as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*) FILTER (WHERE {lost}), "
                    "(array_agg(DISTINCT {c}::text) FILTER (WHERE {lost}))[1:3] FROM {t}"
                ).format(lost=lost, c=c, t=qualified(ctx.source.schema_name, src.name))
            ).fetchone()
    except psycopg.Error as exc:
        why = str(exc).strip().splitlines()[0]
        return rule.model_copy(
            update={"confidence": min(rule.confidence, 0.5), "rationale": rule.rationale}
        ), [
            Decision(
                id=f"{tgt.name}.{tcol.name}.cast",
                about="cast",
                column=tcol.name,
                question=(
                    f"Some legacy {src.name}.{scol.name} values ({s_type}) cannot become "
                    f"{t_type}: PostgreSQL says: {why}. Those rows will be rejected with that "
                    "reason; accept, or change the mapping?"
                ),
                options=["accept"],
                proposed="accept",
                confidence=0.5,
                rationale=f"{s_type} into {t_type} fails for some values",
            )
        ]
    count, examples = (int(row[0]), list(row[1] or [])) if row else (0, [])
    if count == 0:  # exact; the cast still runs in the source, so both sides read alike
        return rule.model_copy(
            update={
                "cast": t_type,
                "source_type": s_type,
                "rationale": rule.rationale + f"; every value survives {s_type} -> {t_type}",
            }
        ), []
    shown = ", ".join(repr(e) for e in examples)
    return rule.model_copy(
        update={
            "cast": t_type,
            "source_type": s_type,
            "confidence": min(rule.confidence, 0.5),
            "rationale": rule.rationale + f"; {count} values lose information as {t_type}",
        }
    ), [
        Decision(
            id=f"{tgt.name}.{tcol.name}.cast",
            about="cast",
            column=tcol.name,
            question=(
                f"{count} legacy {src.name}.{scol.name} values lose information when cast from "
                f"{s_type} to {t_type} (for example {shown}). Accept the cast, or reject those "
                "rows?"
            ),
            options=["accept", "reject"],
            proposed="accept",
            confidence=0.5,
            rationale=f"{s_type} does not fit {t_type} exactly",
        )
    ]


def _sibling_text(ctx: MappingContext, src: TableInfo, column: str) -> dict[str, str]:
    """Other text columns of the rows holding each value: descriptions carry evidence."""
    others = [c.name for c in src.columns if c.data_type == "text" and c.name != column]
    if not others:
        return {}
    parts = sql.SQL(" || ' ' || ").join(
        sql.SQL("coalesce(string_agg(DISTINCT {}, ' '), '')").format(sql.Identifier(o))
        for o in others
    )
    with connect(ctx.source_dsn, read_only=True) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT {c}::text, left({parts}, 2000) FROM {t} WHERE {c} IS NOT NULL GROUP BY 1 "
                "LIMIT {n}"
            ).format(
                c=sql.Identifier(column),
                parts=parts,
                t=qualified(ctx.source.schema_name, src.name),
                n=sql.Literal(SAMPLE_VALUES),
            )
        ).fetchall()
    return {str(v): str(t) for v, t in rows}


def _enum_rule(
    ctx: MappingContext,
    tgt: TableInfo,
    src: TableInfo,
    tcol: ColumnInfo,
    scol: ColumnInfo,
    conf: float,
    why: str,
) -> tuple[ColumnRule, list[Decision]]:
    labels = list(tcol.enum_labels or [])
    values = [
        v
        for v, _ in distinct_values(
            ctx.source_dsn, ctx.source.schema_name, src.name, scol.name, limit=SAMPLE_VALUES
        )
    ]
    results = _classify(ctx, src, scol.name, tcol, values)
    value_map: dict[str, str | None] = {}
    decisions = []
    low = []
    for r in results:
        value_map[r.value] = r.label
        if r.label is None or r.confidence < 0.6:
            decisions.append(
                Decision(
                    id=f"{tgt.name}.{tcol.name}.value:{r.value}",
                    about="value",
                    column=tcol.name,
                    key=r.value,
                    options=labels,
                    proposed=r.label,
                    confidence=r.confidence,
                    question=(
                        f"Legacy {scol.name} '{r.value}' in {src.name}: which {tcol.name} "
                        f"should it become?"
                    ),
                    rationale=r.rationale,
                )
            )
        elif r.confidence < calibration.review_threshold():
            low.append(f"'{r.value}' -> {r.label} ({r.rationale})")
    mapped = sum(1 for r in results if r.label is not None)
    rationale = f"{why}; {mapped}/{len(results)} distinct values mapped by evidence"
    if low:
        rationale += (
            "; less certain: "
            + "; ".join(low[:4])
            + (f"; and {len(low) - 4} more" if len(low) > 4 else "")
        )
    min_conf = min((r.confidence for r in results if r.label is not None), default=0.0)
    return ColumnRule(
        target=tcol.name,
        kind="enum",
        source=scol.name,
        value_map=value_map,
        value_confidence={r.value: round(r.confidence, 3) for r in results if r.label},
        confidence=round(min(conf, min_conf), 3),
        rationale=rationale,
    ), decisions
