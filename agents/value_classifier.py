"""Free-text codes to enum labels, from evidence rather than guesses.

For each distinct legacy value the classifier looks, in order of strength, for:
1. the label itself (case, whitespace, punctuation ignored);
2. a word of the value sharing the label's stem (``Designing Lead`` -> designing);
3. an acronym in the value whose expansion is found in the data itself
   (``MT-Crown`` with "Manufacturing Technician" written somewhere -> manufacturing);
4. words in sibling text columns of the same rows (a description saying "remote");
5. a fuzzy match of the whole value to a label.
When the evidence is absent or points at two labels, the value becomes a question for a human,
never a silent guess.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from agents.naming import stem_matches
from agents.value_rules import normalise_code

_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")


@dataclass(frozen=True)
class Classification:
    value: str
    label: str | None
    confidence: float
    rationale: str


def _label_words(label: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", label.lower()) if w]


def _labels_in(words: Iterable[str], labels: list[str]) -> list[str]:
    hits = []
    words = list(words)
    for label in labels:
        lw = _label_words(label)
        if lw and any(any(stem_matches(w, x) for w in words) for x in lw):
            hits.append(label)
    return hits


def acronym_dictionary(texts: Iterable[str]) -> dict[str, set[str]]:
    """Acronym -> phrases whose initials spell it, from runs of 2..4 words in ``texts``."""
    found: dict[str, set[str]] = {}
    for text in texts:
        words = _WORD.findall(text)
        for n in (2, 3, 4):
            for i in range(len(words) - n + 1):
                phrase = words[i : i + n]
                acro = "".join(w[0] for w in phrase).upper()
                found.setdefault(acro, set()).add(" ".join(w.lower() for w in phrase))
    return found


def classify_values(
    values: list[str], labels: list[str], sibling_text: Mapping[str, str] | None = None
) -> list[Classification]:
    sibling_text = sibling_text or {}
    acronyms = acronym_dictionary(list(values) + list(sibling_text.values()))
    exact = {normalise_code(lbl): lbl for lbl in labels}
    return [_classify(v, labels, exact, acronyms, sibling_text.get(v, "")) for v in values]


def _classify(
    value: str,
    labels: list[str],
    exact: dict[str, str],
    acronyms: dict[str, set[str]],
    siblings: str,
) -> Classification:
    norm = normalise_code(value)
    if norm in exact:
        return Classification(value, exact[norm], 1.0, "the value is the label")
    words = _WORD.findall(value)
    hits = _labels_in(words, labels)
    if len(hits) == 1:
        return Classification(value, hits[0], 0.95, f"the value contains the word '{hits[0]}'")
    if len(hits) > 1:
        return Classification(value, None, 0.3, f"the value names several labels: {hits}")
    acro_hits: dict[str, str] = {}
    for token in _ACRONYM.findall(value):
        for phrase in sorted(acronyms.get(token, ())):
            for label in _labels_in(phrase.split(), labels):
                acro_hits.setdefault(label, f"{token} = '{phrase}' (seen in the data)")
    if len(acro_hits) == 1:
        label, why = next(iter(acro_hits.items()))
        return Classification(value, label, 0.85, why)
    sib_hits = _labels_in(_WORD.findall(siblings), labels)
    if len(sib_hits) == 1 and not acro_hits:
        return Classification(
            value, sib_hits[0], 0.75, f"related text of these rows mentions '{sib_hits[0]}'"
        )
    scored = sorted(
        ((fuzz.partial_ratio(norm, normalise_code(lbl)), lbl) for lbl in labels), reverse=True
    )
    if scored and scored[0][0] >= 85 and (len(scored) == 1 or scored[1][0] < scored[0][0] - 10):
        return Classification(value, scored[0][1], 0.7, f"spelled like '{scored[0][1]}'")
    if acro_hits or sib_hits:
        options = sorted(set(acro_hits) | set(sib_hits))
        return Classification(value, None, 0.3, f"evidence points at several labels: {options}")
    return Classification(value, None, 0.0, "nothing in the value or its rows points at a label")
