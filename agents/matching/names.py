"""Name evidence: how likely two identifiers name the same thing.

An identifier is split into words (case styles, separators, run-together words), each word
reduced to its dictionary form. Two names are then compared word by word under general
models, none of which lists a pair seen in one schema:

- the same word (after base forms: ``hired`` / ``hire``);
- an abbreviation: a prefix (``cust`` / ``customer``), or the word's letters in order keeping
  its first letter (``qty`` / ``quantity``, ``nm`` / ``name``), scored by how much of the
  word's consonant skeleton it keeps; plus the few conventional ones no letter model derives
  (``vocabulary/abbreviations.tsv``);
- synonyms sharing a frequent WordNet sense (``client`` / ``customer``);
- words that only say what kind of value a column holds (``_at`` / ``_on`` / ``_ts``), which
  meet each other (``vocabulary/naming-conventions.tsv``); flag words (``is_``, ``_flg``)
  carry no identity and are dropped when other words remain;
- near spellings (``colour`` / ``color``).

Apart from these, :func:`kindred_similarity` reads words WordNet has as kinds of the same thing
(``town`` / ``city``): evidence too weak for a match (``country`` / ``city`` are kindred too),
offered only between the columns a match left over.

The word pairs are aligned one to one (the best total), and the name score is the aligned
share of the longer name, or, when one name's words are all found in the other, a slightly
discounted share of the shorter (``email_addr`` / ``email``).

>>> name_similarity("cust_nm", "customer_name") >= 0.85
True
>>> name_similarity("email_addr", "unit_price") < 0.5
True
"""

import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz
from scipy.optimize import linear_sum_assignment

from agents.matching.lexicon import (
    base_form,
    conventional_abbreviations,
    is_word,
    kindred,
    naming_conventions,
    relatedness,
    segment,
    synonyms,
)

VOWELS = frozenset("aeiou")
CONTAINED = 0.9  # a name whose words all appear in the other: same thing, more or less said
SAME_KIND = 0.9  # created_at / created_on: both say "a point in time"
SYNONYM = 0.85
STRONG = 0.8  # a word pair this close means the same word: it counts as matched
INITIAL = 0.65  # a word's first letter for the word: the weakest abbreviation evidence


def split_words(name: str) -> list[str]:
    """Split any case style into lower-case words: ``CustNm`` / ``cust_nm`` / ``cust-nm``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    spaced = re.sub(r"([A-Za-z])([0-9])", r"\1 \2", spaced)  # addr1 -> addr 1
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def kinds(word: str) -> frozenset[str]:
    """What a naming convention says the word announces: time, flag, number, table, legacy."""
    return naming_conventions().get(word, frozenset())


@lru_cache(maxsize=65536)
def words(name: str, *, is_table: bool = False) -> tuple[str, ...]:
    """An identifier as dictionary-form words: ``tbl_CustomerAddresses`` -> customer address."""
    raw = split_words(name)
    if is_table and len(raw) > 1 and "table" in kinds(raw[0]):
        raw = raw[1:]  # tbl_customer: the prefix says "a table", not which
    out: list[str] = []
    abbreviations = conventional_abbreviations()
    for token in raw:
        for part in segment(token):
            out.extend(abbreviations.get(part, (base_form(part),)))
    meaningful = [w for w in out if "flag" not in kinds(w)]
    return tuple(meaningful or out)


def _split_readings(ws: tuple[str, ...]) -> list[tuple[tuple[str, ...], tuple[str, str]]]:
    """Every way to cut one unexplained token in two (``custid`` -> cust id, cu stid, ...),
    with the two pieces."""
    out = []
    for k, token in enumerate(ws):
        if 4 <= len(token) <= 14 and token.isalpha() and not is_word(token):
            for i in range(1, len(token)):
                head, tail = token[:i], base_form(token[i:])
                if len(tail) >= 2:
                    out.append(((*ws[:k], head, tail, *ws[k + 1 :]), (head, tail)))
    return out


def _explained(piece: str, other: tuple[str, ...]) -> bool:
    """A piece of a cut token is a reading only if it means something: a word, or at least an
    initial of a word of the other name (``ln`` + ``ame`` is no reading of ``lname``). A
    two-letter piece is no word by itself: WordNet lists most letter pairs (``or``, operating
    room), so ``stor`` (store) would read as ``st`` + ``or`` and then as ``state``."""
    if len(piece) >= 3 and is_word(piece):
        return True
    return max((word_similarity(piece, o) for o in other), default=0.0) >= INITIAL


def _merge_initials(wa: tuple[str, ...], wb: tuple[str, ...]) -> tuple[str, ...]:
    """``ytd`` in one name, ``year to date`` in the other: the phrase becomes its initials.
    A word spelling them (``era``, earned run average) is read so from three words up: two
    initials spell some word too often to mean anything."""
    for short in wa:
        if 2 <= len(short) <= 4 and (len(short) >= 3 or not is_word(short)):
            n = len(short)
            for k in range(len(wb) - n + 1):
                if "".join(w[0] for w in wb[k : k + n]) == short:
                    return (*wb[:k], short, *wb[k + n :])
    return wb


def _skeleton(word: str) -> str:
    """First letter, then the consonants, doubled letters once: quantity -> qnty."""
    out = word[0]
    for ch in word[1:]:
        if ch not in VOWELS and ch != out[-1]:
            out += ch
    return out


def _in_order(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _abbreviates(short: str, long: str) -> bool:
    """``short`` is a prefix of ``long`` followed by consonants of the rest, in order: how
    abbreviations are made (``acct``: ``ac`` + c, t of "count"; ``qty``; ``ssn``). Keeping a
    vowel while skipping the consonants around it is not (``so`` for "season": the ``o``
    is the only letter after the ``s`` that fits, and any word with an ``o`` fits it)."""
    for k in range(len(short), 0, -1):
        if long.startswith(short[:k]):
            rest = short[k:]
            if all(ch not in VOWELS for ch in rest) and _in_order(rest, long[k:]):
                return True
    return False


def abbreviation_score(short: str, long: str, *, vowels: bool = False) -> float:
    """How well ``short`` reads as an abbreviation of ``long`` (0 when it cannot be one).

    ``vowels`` admits any letters in order (a status code ``SE`` for "sent" keeps a vowel:
    codes are coined, identifiers abbreviated); identifiers need :func:`_abbreviates`."""
    if len(short) == 1 and len(long) >= 3 and short == long[0] and short.isalpha():
        return INITIAL  # an initial: f(irst) name
    if len(short) < 2 or len(long) <= len(short) or short[0] != long[0]:
        return 0.0
    if not (short.isalpha() and long.isalpha()):
        return 0.0
    if len(short) >= 3 and long.startswith(short):
        return 0.9
    if not (_in_order(short, long) if vowels else _abbreviates(short, long)):
        return 0.0
    kept = sum(1 for ch in dict.fromkeys(_skeleton(short)) if ch in _skeleton(long))
    return INITIAL + 0.3 * min(1.0, kept / len(_skeleton(long)))


@lru_cache(maxsize=262144)
def word_similarity(a: str, b: str) -> float:
    """0..1: how likely two words of identifiers mean the same."""
    if a == b:
        return 1.0
    if (kinds(a) & kinds(b)) - {"table"}:
        return SAME_KIND
    if b in synonyms(a) or a in synonyms(b):
        return SYNONYM
    related = relatedness(a, b)
    if related:
        return related
    short, long = sorted((a, b), key=len)
    score = abbreviation_score(short, long)
    if len(short) >= 4:
        ratio = fuzz.ratio(a, b) / 100.0
        if ratio >= 0.8:
            score = max(score, 0.9 * ratio)
    return score


def _aligned(wa: tuple[str, ...], wb: tuple[str, ...]) -> tuple[float, int]:
    """Best one-to-one word alignment: its total score and how many pairs matched strongly
    (only strong pairs make one name contained in the other)."""
    matrix = np.array([[word_similarity(x, y) for y in wb] for x in wa])
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    picked = matrix[rows, cols]
    return float(picked.sum()), int((picked >= STRONG).sum())


@lru_cache(maxsize=262144)
def name_similarity(a: str, b: str, *, is_table: bool = False, contained: bool = True) -> float:
    """0..1 similarity of two identifiers (see the module's models); without ``contained``,
    one name's words all found in the other's is no match by itself."""
    wa, wb = words(a, is_table=is_table), words(b, is_table=is_table)
    best = _similarity(wa, wb, contained=contained)
    if best < 0.8:
        # A token no dictionary explains may be two glued (custid, pubdate): try each split of
        # one such token whose pieces both mean something, and keep the reading the other
        # name supports best.
        for side, other, flip in ((wa, wb, False), (wb, wa, True)):
            for variant, pieces in _split_readings(side):
                if not all(_explained(piece, other) for piece in pieces):
                    continue
                pair = (other, variant) if flip else (variant, other)
                best = max(best, _similarity(*pair, contained=contained))
    return round(best, 4)


def _contained(n: int, m: int) -> float:
    """The share a name contained in another keeps: each word the longer name adds beyond the
    first makes that reading less likely."""
    return CONTAINED - 0.1 * max(0, abs(n - m) - 1)


def _similarity(wa: tuple[str, ...], wb: tuple[str, ...], *, contained: bool = True) -> float:
    if not wa or not wb:
        return 0.0
    if wa == wb or "".join(wa) == "".join(wb):
        return 1.0
    # last_name / surname: WordNet's lemma is the phrase run together. A floor, not the
    # answer: gnp is WordNet's synonym of gross national product and its initials too.
    floor = (
        SYNONYM
        if "".join(wb) in synonyms("".join(wa)) or "".join(wa) in synonyms("".join(wb))
        else 0.0
    )
    wb = _merge_initials(wa, wb)
    wa = _merge_initials(wb, wa)
    total, matched = _aligned(wa, wb)
    score = total / max(len(wa), len(wb))
    if contained and matched == min(len(wa), len(wb)):
        # One name's words all in the other: the same thing, less said; each word the longer
        # name adds beyond the first makes that reading less likely.
        score = max(score, _contained(len(wa), len(wb)) * total / min(len(wa), len(wb)))
    compact = fuzz.ratio("".join(wa), "".join(wb)) / 100.0
    if compact >= 0.85:  # lastname / last_nme: one spelling of the whole
        score = max(score, 0.9 * compact)
    return round(min(max(score, floor), 0.99), 4)


@lru_cache(maxsize=262144)
def explained(a: str, b: str) -> int:
    """How many words of ``a`` some word of ``b`` means: the strong pairs of their best
    alignment, initials merged and glued tokens cut as in :func:`name_similarity`."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0

    def strong(xa: tuple[str, ...], xb: tuple[str, ...]) -> int:
        xb = _merge_initials(xa, xb)
        return _aligned(_merge_initials(xb, xa), xb)[1]

    best = strong(wa, wb)
    for side, other, flip in ((wa, wb, False), (wb, wa, True)):
        for variant, pieces in _split_readings(side):
            if all(_explained(piece, other) for piece in pieces):
                best = max(best, strong(other, variant) if flip else strong(variant, other))
    return best


def _kin_word(a: str, b: str) -> tuple[float, bool]:
    """A word pair's score, and whether only kinship gave it: ``1 / (1 + levels apart)``
    through the nearest thing both are kinds of (a shared later sense is 1)."""
    plain = word_similarity(a, b)
    apart = kindred(a, b) if plain < STRONG else None
    kin = 1.0 / (1 + apart) if apart is not None else 0.0
    return (kin, True) if kin > plain else (plain, False)


@lru_cache(maxsize=65536)
def kindred_similarity(a: str, b: str) -> float:
    """Weak name evidence for columns no name matched: their words aligned as in
    :func:`name_similarity`, kindred words (``town`` / ``city``) counting ``1 / (1 + levels
    apart)``; 0 unless a kindred pair carries part of it (``billing_city`` has nothing of
    ``billing_location`` but the shared word, which the match already weighed). As there,
    a name whose every word meets one of the other's is contained in it, at a discount for
    the other's extra words (``season`` in ``yearID``)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    pairs = [[_kin_word(x, y) for y in wb] for x in wa]
    matrix = np.array([[v for v, _ in row] for row in pairs])
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    if not any(pairs[r][c][1] and matrix[r, c] > 0 for r, c in zip(rows, cols, strict=True)):
        return 0.0
    picked = matrix[rows, cols]
    total, short, long = float(picked.sum()), min(len(wa), len(wb)), max(len(wa), len(wb))
    score = total / long
    if int((picked > 0).sum()) == short:
        score = max(score, _contained(short, long) * total / short)
    return round(score, 4)


def matches_any(word: str, others: Iterable[str]) -> bool:
    """``word`` means the same as one of ``others`` (a strong word pair)."""
    return any(word_similarity(word, o) >= STRONG for o in others)


def subject_words(name: str) -> tuple[str, ...]:
    """The words of a table or link name that say *what* it is about, not the naming
    conventions around them (``customer`` of ``tbl_customer_id``)."""
    return tuple(w for w in words(name, is_table=True) if not kinds(w))


def names_legacy(column: str) -> bool:
    """A column named for the old system's identifier (legacy_id, old_code, orig_no): a naming
    convention (vocabulary/naming-conventions.tsv) says it keeps the legacy key."""
    return any("legacy" in kinds(w) for w in split_words(column))


def strip_table_words(column: str, table: str) -> str:
    """``bracket_nm`` in table ``brackets`` is just ``nm``, and ``au_fname`` in ``authors`` is
    ``fname``: columns often repeat their table, in full or abbreviated."""
    table_words = words(table, is_table=True)
    raw = split_words(column)
    kept = [
        w
        for w in raw
        if not any(
            x == t
            or (len(x) >= 2 and t.startswith(x))
            or (len(x) >= 3 and not kinds(x) and abbreviation_score(x, t) > 0)
            for x in words(w)
            for t in table_words
        )
    ]
    return "_".join(kept) if kept and len(kept) < len(raw) else column


def stem_matches(word: str, label: str) -> bool:
    """True when ``word`` and ``label`` share a stem: designing/design, remotely/remote."""
    word, label = word.lower(), label.lower()
    if word == label:
        return True
    n = min(len(word), len(label))
    if n < 4:
        return False
    common = 0
    for x, y in zip(word, label, strict=False):
        if x != y:
            break
        common += 1
    return common >= max(4, min(len(word), len(label)) - 3)
