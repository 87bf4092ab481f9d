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

# Words that legacy systems use for common lifecycle labels.
STATUS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "completed": ("done", "complete", "finished", "closed", "fulfilled", "ok"),
    "cancelled": ("canceled", "void", "voided", "aborted", "withdrawn"),
    "active": ("current", "enabled", "live", "open"),
    "inactive": ("disabled", "retired", "closed", "dormant"),
    "pending": ("new", "waiting", "queued", "open", "todo"),
    "delivered": ("received",),
    "unknown": ("unk", "na", "n/a", "none", "unspecified"),
}
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


def _short_code(value: str, norm: str, labels: list[str]) -> Classification | None:
    """One to three letters: a label's initial letter(s) or its words' initials (FT = full_time)."""
    code = norm.replace(" ", "")
    if not code.isalpha() or len(code) > 3:
        return None
    initials = [
        lbl
        for lbl in labels
        if len(_label_words(lbl)) > 1 and "".join(w[0] for w in _label_words(lbl)) == code
    ]
    if len(initials) == 1:
        return Classification(
            value, initials[0], 0.85, f"'{code.upper()}' are the initials of '{initials[0]}'"
        )
    prefixed = [lbl for lbl in labels if lbl.lower().startswith(code)]
    if len(prefixed) == 1 and len(code) <= 3:
        return Classification(
            value,
            prefixed[0],
            0.8 if len(code) == 1 else 0.85,
            f"'{code.upper()}' is how '{prefixed[0]}' begins, and no other label",
        )
    return None


def _is_abbreviation(code: str, label: str) -> bool:
    """``dlvrd`` -> ``delivered``: same first letter, letters in order, most consonants kept."""
    target = label.lower().replace("_", "")
    if len(code) < 3 or not code.isalpha() or code[0] != target[0]:
        return False
    it = iter(target)
    if not all(ch in it for ch in code):
        return False
    consonants = [c for c in target if c not in "aeiou"]
    return len(code) >= 0.6 * len(consonants)


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
    short = _short_code(value, norm, labels)
    if short:
        return short
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
    syn = [
        lbl
        for lbl in labels
        if any(s == norm or s in norm.split() for s in STATUS_SYNONYMS.get(lbl, ()))
    ]
    if len(syn) == 1:
        return Classification(value, syn[0], 0.8, f"'{value}' commonly means '{syn[0]}'")
    skeleton = [lbl for lbl in labels if _is_abbreviation(norm.replace(" ", ""), lbl)]
    if len(skeleton) == 1 and not acro_hits:
        return Classification(
            value, skeleton[0], 0.8, f"'{value}' abbreviates '{skeleton[0]}' (letters in order)"
        )
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
