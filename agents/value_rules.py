"""Vectorised value conversions: legacy text into the redesign's types.

Each converter takes a column of source text (``None`` for SQL NULL) and returns the target text
plus a mask of rows that could not be converted. A NULL stays NULL; a value that does not parse is
never guessed: its row goes to the rejects table with the reason built here.

Detection helpers (``detect_*``) run at mapping time on sampled values and say how confident
they are.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from pandas.io.parsers.readers import STR_NA_VALUES  # type: ignore[attr-defined]  # not in the stubs

# The markers a legacy export writes for "no value": pandas' own read_csv defaults, a list
# kept by its maintainers (not ours to guess). A typed column (boolean, date, number) cannot
# hold them as values, so there they mean NULL; text and enum columns keep them (NA is also
# Namibia, and North America).
MISSING_MARKERS = frozenset(STR_NA_VALUES) - {""}


def missing_markers(values: Iterable[str | None]) -> list[str]:
    """The values among ``values`` that are a missing-value marker (``NA``, ``N/A``, ``NULL``)."""
    return sorted({v for v in values if v is not None and v.strip() in MISSING_MARKERS})


TRUE_WORDS = frozenset({"y", "yes", "t", "true", "1", "on", "x", "active", "enabled", "si", "ja"})
FALSE_WORDS = frozenset({"n", "no", "f", "false", "0", "off", "inactive", "disabled", "nein"})

DATE_FORMATS = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%d-%b-%Y",
    "%b %d, %Y",
    "%Y/%m/%d",
    "%d %b %Y",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%B %d, %Y",
]
TIMESTAMP_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%m/%d/%Y %I:%M %p",
    "%Y%m%d%H%M%S",
]

_MONEY_STRIP = re.compile(r"[\s$€£¥]|USD|EUR|GBP|CHF")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Converted:
    values: pd.Series  # target text, None for NULL
    failed: pd.Series  # bool: the source had a value that did not convert
    reason: str  # what "failed" means, for the rejects table


def _nulls(s: pd.Series) -> pd.Series:
    return s.isna()


def to_boolean(s: pd.Series, value_map: dict[str, str | None] | None = None) -> Converted:
    """Y/N, 1/0, T/F, yes/no, ... (case and whitespace insensitive) into true/false."""
    norm = s.str.strip().str.lower()
    out = pd.Series(None, index=s.index, dtype=object)
    out[norm.isin(list(TRUE_WORDS))] = "true"
    out[norm.isin(list(FALSE_WORDS))] = "false"
    if value_map:
        explicit = {k.strip().lower(): v for k, v in value_map.items()}
        hit = norm.isin(list(explicit))
        out[hit] = norm[hit].map(explicit)
    out[_nulls(s)] = None
    failed = ~_nulls(s) & out.isna()
    return Converted(out, failed, "not a recognised true/false value")


def to_date(s: pd.Series, formats: list[str]) -> Converted:
    """Dates stored as text, trying each declared format in order."""
    text = s.str.strip()
    result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for fmt in formats or DATE_FORMATS:
        todo = result.isna() & text.notna()
        if not todo.any():
            break
        result[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    out = result.dt.strftime("%Y-%m-%d").astype(object)
    out[result.isna()] = None
    failed = text.notna() & (text != "") & result.isna()
    return Converted(out, failed, f"not a date in {', '.join(formats or DATE_FORMATS[:3])}")


def to_timestamp(s: pd.Series, formats: list[str], timezone: str | None) -> Converted:
    """Timestamps stored as text; naive values are read in ``timezone`` and written as UTC."""
    text = s.str.strip()
    result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    tz = timezone or "UTC"
    for fmt in formats or TIMESTAMP_FORMATS:
        todo = result.isna() & text.notna()
        if not todo.any():
            break
        if "%z" in fmt:  # explicit offsets, possibly mixed: convert each to UTC
            parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=True)
        else:
            parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        result[todo] = parsed.dt.tz_convert("UTC")
    out = result.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00").astype(object)
    out[result.isna()] = None
    failed = text.notna() & (text != "") & result.isna()
    return Converted(out, failed, "not a timestamp in a known format")


def to_numeric(s: pd.Series) -> Converted:
    """Money and numbers as text: ``$1,234.50``, ``(12.00)``, ``1.234,50``, `` 7 ``."""
    text = s.str.strip()
    neg = text.str.startswith("(") & text.str.endswith(")")
    core = text.str.strip("()").str.replace(_MONEY_STRIP, "", regex=True)
    european = core.str.contains(r"^-?\d{1,3}(?:\.\d{3})*,\d+$", regex=True, na=False)
    core = core.where(
        ~european, core.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    core = core.str.replace(",", "", regex=False)
    ok = core.str.match(_PLAIN_NUMBER, na=False)
    out = core.where(ok, None).astype(object)
    out[neg & ok] = "-" + core[neg & ok].str.lstrip("-")
    out[text.isna() | (text == "")] = None
    failed = text.notna() & (text != "") & ~ok
    return Converted(out, failed, "not a number or amount")


def normalise_code(value: str) -> str:
    """How enum candidates are compared: case, whitespace and punctuation do not matter."""
    return re.sub(r"[^a-z0-9]+", " ", value.lower()).strip()


def to_enum(s: pd.Series, value_map: dict[str, str | None], labels: Iterable[str]) -> Converted:
    """Look each value up in the reviewed map (exact first, then normalised)."""
    labels = set(labels)
    exact = {k: v for k, v in value_map.items() if v is not None}
    loose = {normalise_code(k): v for k, v in exact.items()}
    loose.update({normalise_code(lbl): lbl for lbl in labels if normalise_code(lbl) not in loose})
    out = s.map(exact)
    todo = out.isna() & s.notna()
    if todo.any():
        out[todo] = s[todo].map(lambda v: loose.get(normalise_code(v)))
    out = out.astype(object)
    out[s.isna()] = None
    failed = s.notna() & out.isna()
    return Converted(out, failed, "has no enum label yet: answer its decision in the mapping file")


# --------------------------------------------------------------------------- detection
def looks_boolean(values: list[str]) -> float:
    words = TRUE_WORDS | FALSE_WORDS
    distinct = {str(v).strip().lower() for v in values if v is not None}
    if not distinct or len(distinct) > 3:
        return 0.0
    return 1.0 if distinct <= words else 0.0


def date_parse_share(values: list[str], candidates: list[str]) -> float:
    """The largest share of ``values`` that one of the ``candidates`` formats parses."""
    sample = pd.Series([v.strip() for v in values if v and v.strip()], dtype=object)
    if sample.empty:
        return 0.0
    return max(
        (
            float(pd.to_datetime(sample, format=f, errors="coerce").notna().mean())
            for f in candidates
        ),
        default=0.0,
    )


def detect_date_formats(values: list[str], candidates: list[str]) -> tuple[list[str], float, str]:
    """Formats that parse the sample, most successful first, with a confidence and a note.

    Day/month order is decided by evidence (a first field above 12 means day first); when no value
    disambiguates, the confidence drops so that a human is asked.
    """
    sample = pd.Series([v.strip() for v in values if v and v.strip()], dtype=object)
    if sample.empty:
        return [], 0.0, "no values to inspect"
    scores = []
    for fmt in candidates:
        ok = pd.to_datetime(sample, format=fmt, errors="coerce").notna().mean()
        if ok > 0:
            scores.append((float(ok), fmt))
    if not scores:
        return [], 0.0, "no known format parses these values"
    scores.sort(key=lambda x: -x[0])
    best = scores[0][0]
    chosen = [f for sc, f in scores if sc >= best - 1e-9]
    note = f"{best:.0%} of sampled values parse as {chosen[0]}"
    confidence = best
    if any("%m/%d" in f for f in chosen) and any("%d/%m" in f for f in chosen):
        confidence = min(confidence, 0.55)
        note += "; day/month order is ambiguous (no day above 12 in the sample)"
        chosen = [f for f in chosen if "%d/%m" not in f] + [f for f in chosen if "%d/%m" in f][:0]
    # Keep other formats that parse the rest, in order of success, as fallbacks.
    rest = [f for sc, f in scores if f not in chosen and sc > 0.0 and not _conflicts(f, chosen)]
    return chosen + rest, confidence, note


def _conflicts(fmt: str, chosen: list[str]) -> bool:
    pair = {"%m/%d": "%d/%m", "%d/%m": "%m/%d", "%m-%d": "%d-%m", "%d-%m": "%m-%d"}
    return any(a in fmt and any(b in c for c in chosen) for a, b in pair.items())


def looks_numeric_text(values: list[str]) -> float:
    sample = pd.Series([v for v in values if v is not None], dtype=object)
    if sample.empty:
        return 0.0
    conv = to_numeric(sample)
    return float(1.0 - conv.failed.mean())
