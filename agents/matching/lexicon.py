"""Word knowledge from real lexical resources: WordNet, wordsegment, inflect.

Schema names are English words abbreviated, run together, inflected and swapped for synonyms.
A hand list of synonyms grows with every schema it meets and is tuned, silently, to the ones
its authors saw; WordNet (Princeton, 155k words) is the same knowledge gathered once, for every
domain. ``vocabulary/README.md`` says where each resource comes from.

WordNet is read with nltk from Debian's ``wordnet-base`` (``/usr/share/wordnet``, or
``DBMIGRATE_WORDNET``). Where it is not installed, synonymy and base forms fall back to
inflect's plural rules and the loss is logged once: matching still works, on spelling alone.
"""

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import wordsegment

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import Synset

VOCABULARY = Path(__file__).with_name("vocabulary")
WORDNET_DIRS = ("/usr/share/wordnet",)
SENSES = 1  # senses per word for synonymy: WordNet lists the most frequent first, and later
# senses mislead (note's second sense, "short letter", lists "line")
RELATED_SENSES = 2  # senses per word for the "kind of" relation
ANCESTRY = 3  # hypernym levels kept: address -> geographic point -> point -> location
MIN_DEPTH = 4  # hypernyms nearer the root than this (entity, object, whole) say nothing
KINDRED_DEPTH = 3  # ... to name a match; from here down (location) they are weak evidence
log = logging.getLogger(__name__)


LEXICON_VERSION = 8  # bump when what _build extracts changes: old caches are rebuilt


@dataclass(frozen=True)
class Lexicon:
    """What matching needs from WordNet, extracted once: lemma parts of speech, the
    irregular forms (``people`` -> ``person``) and each lemma's synonyms."""

    pos: dict[str, str]  # lemma -> parts of speech, e.g. "nv"
    exceptions: dict[str, dict[str, str]]  # pos -> inflected form -> base form
    synonyms: dict[str, list[str]]
    rules: dict[str, list[tuple[str, str]]]  # pos -> WordNet's detachment rules (ending, base)
    plurals: dict[str, str]  # plural lemma -> singular lemma (people -> person), from inflect
    senses: dict[str, list[int]]  # noun lemma -> its frequent senses (synset offsets)
    ancestors: dict[str, list[int]]  # ... and hypernyms up to ANCESTRY levels, none too generic
    near: dict[str, list[tuple[int, int]]]  # (synset, levels up) to ANCESTRY, from KINDRED_DEPTH


def _wordnet_dir() -> Path | None:
    for d in (os.environ.get("DBMIGRATE_WORDNET"), *WORDNET_DIRS):
        if d and (Path(d) / "index.noun").exists():
            return Path(d)
    return None


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dbmigrate"


def _reader_dir(source: Path) -> Path:
    """A copy of the database with ``lexnames`` added, for nltk's reader (28 MB, made once).

    Debian ships the database without the ``lexnames`` table the reader opens first; the copy
    gets ``vocabulary/wordnet-lexnames``, generated from the package's lexnames(5WN) page. A
    copy, not links: nltk refuses files whose real path leaves the reader's root."""
    cache = _cache_dir()
    root = cache / "wordnet-3.0"
    if (root / "lexnames").exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".wordnet-"))
    for f in source.iterdir():
        if f.is_file():
            shutil.copyfile(f, staging / f.name)
    (staging / "lexnames").write_text((VOCABULARY / "wordnet-lexnames").read_text())
    try:
        staging.rename(root)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _build(source: Path) -> Lexicon:
    """Read WordNet with nltk (seconds) and keep the part matching uses."""
    import warnings

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):  # type: ignore[misc]
        def map_wn(self, version: str = "wordnet") -> None:
            """No mapping to the Open Multilingual WordNet: this is WordNet 3.0 itself, and
            nltk would look for a downloaded copy to map from."""
            return None

    root = _reader_dir(source)
    for allowed in (str(root), str(source.resolve())):
        if allowed not in nltk.data.path:
            nltk.data.path.append(allowed)
    with warnings.catch_warnings():  # "multilingual functions not available": not used here
        warnings.simplefilter("ignore")
        wn = _Reader(str(root), None)
    pos = {
        lemma: "".join(sorted({"a" if p == "s" else p for p in by_pos}))
        for lemma, by_pos in wn._lemma_pos_offset_map.items()
        if "_" not in lemma
    }
    exceptions = {
        p: {form: bases[0] for form, bases in wn._exception_map[p].items() if bases}
        for p in ("n", "v", "a")
    }
    synonyms: dict[str, list[str]] = {}
    for lemma, parts in pos.items():
        found: set[str] = set()
        for p in ("n", "a"):  # names are nouns and adjectives; verbs' senses are too loose
            if p in parts:
                for synset in wn.synsets(lemma, p)[:SENSES]:
                    found.update(
                        n.lower().replace("_", "").replace("-", "") for n in synset.lemma_names()
                    )
        found.discard(lemma)
        if found:
            synonyms[lemma] = sorted(found)
    rules = {p: list(wn.MORPHOLOGICAL_SUBSTITUTIONS[p]) for p in ("n", "v", "a")}
    senses: dict[str, list[int]] = {}
    ancestors: dict[str, list[int]] = {}
    near: dict[str, list[tuple[int, int]]] = {}
    for lemma, parts in pos.items():
        if "n" not in parts:
            continue
        own = wn.synsets(lemma, "n")[:RELATED_SENSES]
        senses[lemma] = [x.offset() for x in own]
        up = {h for x in own for h in x.hypernyms() if h.min_depth() >= MIN_DEPTH}
        near[lemma] = _near(own)
        seen, frontier = set(up), set(up)
        for _ in range(ANCESTRY - 1):
            frontier = {h for x in frontier for h in x.hypernyms() if h.min_depth() >= MIN_DEPTH}
            seen |= frontier
        ancestors[lemma] = sorted(h.offset() for h in seen)
    return Lexicon(
        pos=pos,
        exceptions=exceptions,
        synonyms=synonyms,
        rules=rules,
        plurals=_plurals(pos),
        senses=senses,
        ancestors=ancestors,
        near=near,
    )


def _near(own: list["Synset"]) -> list[tuple[int, int]]:
    """A noun's senses (0 levels up) and their hypernyms up to ANCESTRY levels, none nearer
    the root than KINDRED_DEPTH: two words sharing one are kinds of the same thing."""
    levels = {x.offset(): 0 for x in own if x.min_depth() >= KINDRED_DEPTH}
    frontier = set(own)
    for up in range(1, ANCESTRY + 1):
        frontier = {h for x in frontier for h in x.hypernyms() if h.min_depth() >= KINDRED_DEPTH}
        for h in frontier:
            levels.setdefault(h.offset(), up)
    return sorted(levels.items())


def _plurals(pos: dict[str, str]) -> dict[str, str]:
    """Plurals WordNet lists as lemmas of their own (``people``, ``data``, ``sales``): inflect's
    singular, kept where it is a noun lemma too. Imported here only: inflect takes seconds to
    import (typeguard instruments it), a price paid once, when the extract is built."""
    import inflect

    engine = inflect.engine()
    out = {}
    for lemma, parts in pos.items():
        if "n" in parts and lemma.isalpha() and len(lemma) > 3:
            single = engine.singular_noun(lemma)  # type: ignore[arg-type]
            if isinstance(single, str) and single != lemma and "n" in pos.get(single, ""):
                out[lemma] = single
    return out


@lru_cache(maxsize=1)
def lexicon() -> Lexicon | None:
    """The WordNet extract, from the user's cache (built on first use), or None (logged)
    where WordNet is not installed."""
    source = _wordnet_dir()
    if source is None:
        log.warning(
            "WordNet not found (install Debian's wordnet-base or set DBMIGRATE_WORDNET): "
            "name matching runs without synonyms"
        )
        return None
    stamp = int((source / "index.noun").stat().st_mtime)
    path = _cache_dir() / f"lexicon-v{LEXICON_VERSION}-{stamp}.json"
    if path.exists():
        try:
            data = json.loads(path.read_text())
            data["rules"] = {p: [tuple(r) for r in rs] for p, rs in data["rules"].items()}
            return Lexicon(**data)
        except (ValueError, TypeError):
            log.warning("rebuilding the WordNet extract %s: it was unreadable", path)
    built = _build(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(built)))
    tmp.replace(path)
    return built


def _morphy(word: str, p: str, lex: Lexicon) -> str | None:
    """WordNet's own morphology: its exception lists, then its detachment rules (as nltk
    defines them), keeping a candidate only if it is a lemma of that part of speech."""
    if p in lex.pos.get(word, ""):
        return word
    if word in lex.exceptions.get(p, {}):
        return lex.exceptions[p][word]
    for old, new in lex.rules.get(p, ()):
        if word.endswith(old):
            candidate = word[: -len(old)] + new
            if p in lex.pos.get(candidate, ""):
                return candidate
    return None


@lru_cache(maxsize=65536)
def base_form(word: str) -> str:
    """The dictionary form of a word: ``addresses`` -> ``address``, ``hired`` -> ``hire``.

    WordNet's morphology knows exceptions (``bus``, ``status``); inflect's singulars cover
    plurals WordNet keeps as lemmas (``people`` -> ``person``). A word WordNet lacks (an
    abbreviation, a coined name) loses a plural ending only: ``-ies`` for ``-y``, or ``s``.
    Short words are left alone: ``ms`` is not a plural.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    lex = lexicon()
    if lex is not None:
        if word in lex.plurals:
            return lex.plurals[word]
        for p in ("n", "v"):
            found = _morphy(word, p, lex)
            if found:
                return found
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"  # English's -ies plural: ctries (countries) -> ctry
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def synonyms(word: str) -> frozenset[str]:
    """Single-word lemmas sharing one of the word's frequent senses (``client`` ->
    ``customer``). Multi-word lemmas are run together (``last_name`` -> ``lastname``) so
    that a run-together name can meet them."""
    lex = lexicon()
    if lex is None or len(word) < 3:
        return frozenset()
    return frozenset(lex.synonyms.get(word, ()))


@lru_cache(maxsize=65536)
def relatedness(a: str, b: str) -> float:
    """How close two nouns are in WordNet's hierarchy, below synonymy: one a kind of the other
    within a few levels (``region`` / ``area``, ``price`` / ``cost``) scores 0.6, else 0."""
    lex = lexicon()
    if lex is None or a == b:
        return 0.0
    sa, sb = set(lex.senses.get(a, ())), set(lex.senses.get(b, ()))
    if not sa or not sb:
        return 0.0
    if sa & set(lex.ancestors.get(b, ())) or sb & set(lex.ancestors.get(a, ())):
        return 0.6
    return 0.0  # siblings (town, city) are kept out: so are country and city


@lru_cache(maxsize=65536)
def kindred(a: str, b: str) -> int | None:
    """How many levels apart two nouns are through the nearest thing both are kinds of
    (``town`` / ``city``: 2, both municipalities; ``address`` / ``location``: 3), or None
    beyond a few levels. Too weak to name a match (``country`` / ``city`` are 2 apart too),
    but evidence between columns no name matched, where a redesign swapped one word for a
    near one, and the nearer the better."""
    lex = lexicon()
    if lex is None or a == b:
        return None
    near_b = dict(lex.near.get(b, ()))
    apart = [up + near_b[s] for s, up in lex.near.get(a, ()) if s in near_b]
    return min(apart) if apart else None


@lru_cache(maxsize=1)
def _segmenter() -> None:
    wordsegment.load()


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    _segmenter()
    return frozenset(wordsegment.UNIGRAMS)


@lru_cache(maxsize=65536)
def is_word(token: str) -> bool:
    """A real English word (a WordNet lemma or an inflection of one), not an abbreviation."""
    lex = lexicon()
    if lex is not None:
        return any(_morphy(token, p, lex) for p in ("n", "v", "a"))
    return token in _known() and len(token) > 3


@lru_cache(maxsize=65536)
def segment(token: str) -> tuple[str, ...]:
    """Split a run-together token into words (``unitprice`` -> ``unit price``) when every part
    is a real word and the whole is not one; abbreviations and words stay as they are."""
    if len(token) < 6 or not token.isalpha() or is_word(token):
        return (token,)
    _segmenter()
    parts = wordsegment.segment(token)
    if len(parts) > 1 and all(len(p) >= 2 and is_word(p) for p in parts):
        return tuple(parts)
    return (token,)


def _table(name: str) -> list[list[str]]:
    lines = (VOCABULARY / name).read_text().splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def conventional_abbreviations() -> dict[str, tuple[str, ...]]:
    """``vocabulary/abbreviations.tsv``: abbreviations the letter models cannot derive."""
    return {row[0]: tuple(row[1].split()) for row in _table("abbreviations.tsv")}


@lru_cache(maxsize=1)
def naming_conventions() -> dict[str, frozenset[str]]:
    """``vocabulary/naming-conventions.tsv``: word -> the kinds of value it announces."""
    out: dict[str, set[str]] = {}
    for row in _table("naming-conventions.tsv"):
        out.setdefault(row[0], set()).add(row[1])
    return {word: frozenset(kinds) for word, kinds in out.items()}
