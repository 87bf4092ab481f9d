"""Legacy codes and labels -> enum labels: several value models, one global assignment.

A first-hit-wins cascade lets the first plausible model decide and says nothing about how sure
it is. Here every model scores every (value, label) pair, the best model's score stands for the
pair, and one assignment over the whole matrix picks a label per value, so that distinct codes
prefer distinct labels (a label is used again only at a small cost, for columns with more codes
than labels). A value's confidence is its score discounted by how narrowly it beat its next
label, and a value no model explains is left for a human.

The models, each general:
- the label itself, ignoring case, spacing and punctuation (``Full-Time`` / ``full_time``);
- the label's words found in the value (``Protected MPEG-4 video file`` /
  ``protected_mpeg4_video``), stems allowed (``Designing Lead`` / ``designing``);
- initials (``FT`` / ``full_time``), a prefix (``M`` / ``male``), letters in order or a
  consonant skeleton (``dlvrd`` / ``delivered``), the name models of :mod:`.names`;
- an acronym spelled out elsewhere in the data (``MT`` with "Manufacturing Technician");
- WordNet synonyms of the value's words (``client`` / ``customer``);
- words of sibling text columns of the same rows;
- the whole value spelled like the label.

>>> [c.label for c in classify_values(["Full-Time", "PT", "Contractor"],
...                                   ["full_time", "part_time", "contractor"])]
['full_time', 'part_time', 'contractor']
"""

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz
from scipy.optimize import linear_sum_assignment

from agents.matching.assignment import TIE
from agents.matching.lexicon import synonyms
from agents.matching.names import abbreviation_score, stem_matches

_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
MATCH = 0.5  # below this no label is proposed
REUSE_COST = 0.05  # least cost of using a label again: distinct codes prefer distinct labels
CLEAR_MARGIN = 0.15  # a value that beats its next label by this much keeps its full score
JOINT_LIMIT = 60  # up to this many values, margins are measured on the whole assignment
ELIMINATION = 0.5  # a label by elimination: right if the relabelling is one to one, a coin toss


@dataclass(frozen=True)
class Classification:
    value: str
    label: str | None
    confidence: float
    rationale: str


def normalise(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", value.lower()).strip()


def _tokens(value: str) -> list[str]:
    """Lower-case words and numbers, plus each word glued to a following number (mpeg 4 ->
    mpeg4), since labels drop the punctuation between them."""
    parts = normalise(value).split()
    glued = [a + b for a, b in itertools.pairwise(parts) if b.isdigit()]
    return parts + glued


def _label_words(label: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", label.lower()) if w]


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


def _word_hit(word: str, tokens: list[str]) -> bool:
    return any(stem_matches(t, word) for t in tokens)


def _words_score(tokens: list[str], label: str) -> float:
    """The label's words found among the value's: all of them, and little else, is best."""
    lw = _label_words(label)
    if not lw or not tokens:
        return 0.0
    found = [w for w in lw if _word_hit(w, tokens)]
    if not found:
        return 0.0
    used = {t for t in tokens if any(stem_matches(t, w) for w in found)}
    plain = [t for t in tokens if not t.isdigit()]
    spare = len([t for t in plain if t not in used]) / max(1, len(plain))
    return 0.95 * (len(found) / len(lw)) * (1.0 - 0.25 * spare)


def _code_score(code: str, label: str) -> tuple[float, str]:
    """A short code read against the label: initials (a number's first digit among them:
    ``N3`` for ``net_30``), prefix, letters in order."""
    lw = _label_words(label)
    compact = "".join(lw)
    if not code.isalnum() or not code[0].isalpha() or not compact:
        return 0.0, ""
    if len(lw) > 1 and 2 <= len(code) <= 5 and "".join(w[0] for w in lw) == code:
        return 0.9, f"'{code.upper()}' are the initials of '{label}'"
    if not code.isalpha():
        return 0.0, ""
    if len(code) <= 3 and compact.startswith(code):
        return (0.8 if len(code) == 1 else 0.85), f"'{code.upper()}' is how '{label}' begins"
    score = abbreviation_score(code, compact, vowels=True)
    if score:
        return 0.8 * score / 0.95, f"'{code}' abbreviates '{label}' (letters in order)"
    return 0.0, ""


def _synonym_score(tokens: list[str], label: str) -> float:
    lw = _label_words(label)
    if not lw:
        return 0.0
    hits = sum(1 for w in lw if any(w in synonyms(t) or t in synonyms(w) for t in tokens))
    return 0.8 * hits / len(lw)


def pair_score(
    value: str, label: str, acronyms: Mapping[str, set[str]], siblings: str
) -> tuple[float, str]:
    """The best model's score for one (value, label) pair, and what it saw."""
    norm = normalise(value)
    if norm == normalise(label) or norm.replace(" ", "") == "".join(_label_words(label)):
        return 1.0, "the value is the label"
    tokens = _tokens(value)
    found: list[tuple[float, str]] = []
    w = _words_score(tokens, label)
    if w:
        found.append((w, f"the value contains the words of '{label}'"))
    code = norm.replace(" ", "")
    if len(code) <= 6:
        found.append(_code_score(code, label))
    for token in re.findall(r"\b[A-Z]{2,5}\b", value):
        found.extend(
            (0.85, f"{token} = '{phrase}' (seen in the data)")
            for phrase in sorted(acronyms.get(token, ()))
            if _words_score(phrase.split(), label) >= 0.5
        )
    s = _synonym_score(tokens, label)
    if s:
        found.append((s, f"'{value}' is a synonym of '{label}' (WordNet)"))
    if siblings:
        sib = _words_score(_tokens(siblings), label)
        if sib:
            found.append((0.75 * min(1.0, sib / 0.7), f"related text mentions '{label}'"))
    ratio = fuzz.ratio(norm, normalise(label)) / 100.0
    if ratio >= 0.8:
        found.append((0.85 * ratio, f"spelled like '{label}'"))
    return max(found, default=(0.0, ""), key=lambda x: x[0])


def _without(full: np.ndarray, i: int, j: int, n_labels: int, copies: int) -> float:
    """The best assignment's total when value ``i`` may not take label ``j``."""
    forbidden = full.copy()
    forbidden[i, [j + k * n_labels for k in range(copies)]] = -1e9
    r, c = linear_sum_assignment(forbidden, maximize=True)
    return float(forbidden[r, c].sum())


def classify_values(
    values: list[str], labels: list[str], sibling_text: Mapping[str, str] | None = None
) -> list[Classification]:
    """One label (or none) per value, chosen jointly for all values."""
    sibling_text = sibling_text or {}
    if not values:
        return []
    if not labels:
        return [Classification(v, None, 0.0, "the target has no labels") for v in values]
    acronyms = acronym_dictionary(list(values) + list(sibling_text.values()))
    cells = [
        [pair_score(v, lbl, acronyms, sibling_text.get(v, "")) for lbl in labels] for v in values
    ]
    scores = np.array([[s for s, _ in row] for row in cells])
    copies = len(values)  # a label may take every value; after its first, each costs more
    # The fewer values per label, the more a redesign's labels are one per legacy code.
    reuse = REUSE_COST + 0.25 * min(1.0, len(labels) / len(values))
    blocks = [scores - (reuse if k else 0.0) for k in range(copies)]
    none = np.full((len(values), len(values)), -1e9)
    np.fill_diagonal(none, MATCH - 1e-9)
    full = np.hstack([np.where(b >= MATCH, b, -1e9) for b in blocks] + [none])
    rows, cols = linear_sum_assignment(full, maximize=True)
    chosen = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    total = float(full[rows, cols].sum())
    # A label another value explains better is no rival: its owner's score stands for it.
    owner = np.zeros(len(labels))
    for i, c in chosen.items():
        if c < copies * len(labels):
            owner[c % len(labels)] = max(owner[c % len(labels)], scores[i][c % len(labels)])
    out: dict[int, Classification] = {}
    for i, c in chosen.items():
        value = values[i]
        if c >= copies * len(labels):
            best = int(np.argmax(scores[i]))
            near = [labels[j] for j in np.argsort(-scores[i])[:3] if scores[i][j] > 0.3]
            why = (
                f"the evidence points at several labels: {near}"
                if len(near) > 1
                else (cells[i][best][1] or "nothing in the value or its rows points at a label")
            )
            out[i] = Classification(value, None, round(float(scores[i][best]) * 0.5, 3), why)
            continue
        j = c % len(labels)
        score = float(scores[i][j])
        rivals = [float(v) for k, v in enumerate(scores[i]) if k != j and v >= owner[k] - reuse]
        runner = max(rivals, default=0.0)
        margin = score - runner
        if rivals and len(values) <= JOINT_LIMIT:
            # What the whole assignment loses if this value may not take this label: a rival
            # that would leave another value without its label is no real alternative.
            margin = max(margin, total - _without(full, i, j, len(labels), copies))
        if margin < TIE:
            near = [labels[j], *(labels[k] for k, v in enumerate(scores[i]) if v == runner)]
            why = f"the evidence points at several labels equally: {near[:3]}"
            out[i] = Classification(value, None, round(score * 0.5, 3), why)
            continue
        conf = score * (0.6 + 0.4 * min(1.0, margin / CLEAR_MARGIN))
        why = cells[i][j][1]
        if margin < CLEAR_MARGIN and rivals:
            why += f"; a rival label scored {runner:.2f}"
        out[i] = Classification(value, labels[j], round(conf, 3), why)
    _eliminate(out, labels)
    return [out[i] for i in range(len(values))]


def _eliminate(out: dict[int, Classification], labels: list[str]) -> None:
    """As many values as labels, every value but one given a label of its own, one label
    left: the last value is that label's by elimination (``regular`` -> ``standard`` once
    ``silver`` and ``gold`` are taken). Only an assumption that the redesign relabelled the
    codes one to one supports it, so it is proposed for review, never surer than an even
    chance."""
    open_ = [i for i, c in out.items() if c.label is None]
    taken = [c.label for c in out.values() if c.label is not None]
    left = [lbl for lbl in labels if lbl not in taken]
    if (
        len(out) != len(labels)
        or len(open_) != 1
        or len(left) != 1
        or len(set(taken)) != len(taken)
    ):
        return
    i = open_[0]
    out[i] = Classification(
        out[i].value,
        left[0],
        ELIMINATION,
        f"by elimination: every other value took a label of its own, and '{left[0]}' is the "
        "one left",
    )
