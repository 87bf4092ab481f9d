"""Judgement calls of the data-mapping agent, behind one Protocol with two backends.

The heuristic backend is deterministic and always available; the LLM backend asks an
OpenAI-compatible model about what the heuristic could not settle and validates every reply
against the schema (a label, value or column the schema lacks is rejected and asked again). An
LLM answer never raises confidence above ``LLM_CONFIDENCE_CAP``, so a model's claim is listed
for review rather than trusted blindly.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from agents import code_checks, prompts
from agents.llm import LLMClient
from agents.models import ColumnMatches, GeneratedCode, ValueLabels
from agents.value_classifier import Classification, classify_values

log = logging.getLogger(__name__)
LLM_CONFIDENCE_CAP = 0.85
SETTLED = 0.9  # heuristic answers at or above this are not sent to the LLM


@dataclass(frozen=True)
class ValueQuestion:
    source_table: str
    source_column: str
    target_table: str
    target_column: str
    labels: list[str]
    values: list[str]
    context: Mapping[str, str]
    context_columns: list[str]


@dataclass(frozen=True)
class ColumnCandidate:
    name: str
    data_type: str
    samples: list[str]
    score: float = 0.0  # the matchers' combined evidence, shown to the model


@dataclass(frozen=True)
class ColumnQuestion:
    """Target columns the evidence left unsure, each with its own short list of candidates
    (the best of the score matrix, never the whole schema): the model reranks, it does not
    search."""

    source_table: str
    target_table: str
    targets: list[tuple[str, str]]  # (name, type)
    options: dict[str, list[ColumnCandidate]]  # target -> its bounded candidates, best first


@dataclass(frozen=True)
class ColumnAnswer:
    source: str
    confidence: float
    rationale: str


@dataclass(frozen=True)
class CodeQuestion:
    source_table: str
    target_table: str
    target_column: str
    target_type: str
    candidates: list[ColumnCandidate]
    # Tries code on sample rows in the sandbox; returns None if it worked, else the error.
    trial: Callable[[str], str | None]


class MappingAdvisor(Protocol):
    name: str

    def classify(self, q: ValueQuestion) -> list[Classification]: ...

    def match_columns(self, q: ColumnQuestion) -> dict[str, ColumnAnswer]: ...

    def write_code(self, q: CodeQuestion) -> tuple[str, str] | None: ...


class HeuristicAdvisor:
    """Evidence-based rules only (see :mod:`agents.value_classifier`)."""

    name = "heuristic"

    def classify(self, q: ValueQuestion) -> list[Classification]:
        return classify_values(q.values, q.labels, q.context)

    def match_columns(self, q: ColumnQuestion) -> dict[str, ColumnAnswer]:
        return {}  # the heuristic matcher already had its say in data_mapping

    def write_code(self, q: CodeQuestion) -> tuple[str, str] | None:
        return None  # offline, code comes from templates (agents.code_templates) only


class LLMAdvisor:
    """Heuristic first; the LLM settles what is left, within the schema's vocabulary."""

    name = "llm"

    def __init__(self, client: LLMClient) -> None:
        self.client = client
        self.fallback = HeuristicAdvisor()

    def classify(self, q: ValueQuestion) -> list[Classification]:
        base = self.fallback.classify(q)
        # The least certain first: a bounded prompt asks about the values that need it most.
        shaky = sorted(
            (c for c in base if c.label is None or c.confidence < SETTLED),
            key=lambda c: (c.label is not None, c.confidence),
        )
        unsettled = [c.value for c in shaky]
        if not unsettled:
            return base
        n = self.client.config.max_sample_values
        asked = unsettled[:n]
        lines = "\n".join(
            f"- {v!r}" + (f" | {q.context[v][:200]}" if q.context.get(v) else "") for v in asked
        )
        user = prompts.CLASSIFY_VALUES_USER.format(
            target_table=q.target_table,
            target_column=q.target_column,
            labels=q.labels,
            source_table=q.source_table,
            source_column=q.source_column,
            context_columns=", ".join(q.context_columns) or "none",
            values=lines,
        )

        def validate(reply: ValueLabels) -> str | None:
            got = [i.value for i in reply.items]
            unknown = sorted(set(got) - set(asked))
            if unknown:
                return f"values {unknown[:5]} were not in the list"
            bad = sorted({i.label for i in reply.items if i.label is not None} - set(q.labels))
            if bad:
                return f"labels {bad} do not exist; allowed: {q.labels}"
            missing = sorted(set(asked) - set(got))
            if missing:
                return f"values {missing[:5]} are missing from the reply"
            return None

        reply = self.client.ask(
            system=prompts.CLASSIFY_VALUES_SYSTEM, user=user, model=ValueLabels, validate=validate
        )
        if reply is None:
            return base
        answers = {i.value: i for i in reply.items}
        out = []
        for c in base:
            a = answers.get(c.value)
            if (
                a is not None
                and a.label is not None
                and (c.label is None or a.confidence > c.confidence)
            ):
                out.append(
                    Classification(
                        c.value,
                        a.label,
                        round(min(a.confidence, LLM_CONFIDENCE_CAP), 3),
                        f"LLM: {a.rationale}"[:200],
                    )
                )
            else:
                out.append(c)
        return out

    def match_columns(self, q: ColumnQuestion) -> dict[str, ColumnAnswer]:
        if not q.targets or not any(q.options.values()):
            return {}
        n = self.client.config.max_sample_values
        blocks = []
        for t, typ in q.targets:
            lines = [
                f"  - {c.name} ({c.data_type}, evidence {c.score:.2f}): {c.samples[:n]}"
                for c in q.options.get(t, [])
            ]
            blocks.append(f"- {t} ({typ}); candidates:\n" + ("\n".join(lines) or "  (none)"))
        user = prompts.MATCH_COLUMNS_USER.format(
            target_table=q.target_table,
            source_table=q.source_table,
            target_columns="\n".join(blocks),
        )
        targets = {t for t, _ in q.targets}

        def validate(reply: ColumnMatches) -> str | None:
            bad_t = sorted({i.target for i in reply.items} - targets)
            if bad_t:
                return f"target columns {bad_t} do not exist in {q.target_table}"
            for i in reply.items:
                allowed = [c.name for c in q.options.get(i.target, [])]
                if i.source and i.source not in allowed:
                    return f"{i.source} is not a candidate for {i.target}; choose from {allowed}"
            return None

        reply = self.client.ask(
            system=prompts.MATCH_COLUMNS_SYSTEM, user=user, model=ColumnMatches, validate=validate
        )
        if reply is None:
            return {}
        return {
            i.target: ColumnAnswer(
                i.source,
                round(min(i.confidence, LLM_CONFIDENCE_CAP), 3),
                f"LLM: {i.rationale}"[:200],
            )
            for i in reply.items
            if i.source and i.confidence >= 0.5
        }

    def write_code(self, q: CodeQuestion) -> tuple[str, str] | None:
        """Ask for a transform; accept it only if it passes static checks and a sandbox trial."""
        n = self.client.config.max_sample_values
        user = prompts.WRITE_CODE_USER.format(
            target_table=q.target_table,
            target_column=q.target_column,
            target_type=q.target_type,
            source_table=q.source_table,
            source_columns="\n".join(
                f"- {c.name} ({c.data_type}): {c.samples[:n]}" for c in q.candidates
            ),
        )

        def validate(reply: GeneratedCode) -> str | None:
            return code_checks.problems(reply.code) or q.trial(reply.code)

        reply = self.client.ask(
            system=prompts.WRITE_CODE_SYSTEM, user=user, model=GeneratedCode, validate=validate
        )
        if reply is None:
            return None
        return reply.code, f"LLM: {reply.rationale}"[:200]
