"""Generated transform code for rules that are not declarative.

Offline, code comes from templates filled with the schema's names (``repr``-quoted, never
spliced raw); the LLM backend may propose code too. Either way it only ever runs in the sandbox,
on one batch, and must return a DataFrame with the target column(s), row for row.
"""

import re

NAME_SPLIT = '''\
import pandas as pd


def transform(df):
    """Split {source!r} ("Last, First" or "First Last") into first and last names."""
    raw = df[{source!r}].astype("string[pyarrow]").str.strip()
    comma = raw.str.contains(",", regex=False).fillna(False)
    last_first = raw.str.extract(r"^([^,]*?)\\s*,\\s*(.*)$")
    first_last = raw.str.extract(r"^(.*?)\\s+(\\S+)$")
    return pd.DataFrame({{
        {first!r}: last_first[1].where(comma, first_last[0]),
        {last!r}: last_first[0].where(comma, first_last[1]),
    }})
'''

_COMMA_NAME = re.compile(r"^[^\W\d][\w'\- ]*,\s*[^\W\d][\w'\- ]*$")
_SPACE_NAME = re.compile(r"^[^\W\d][\w'\-]*\s+[^\W\d][\w'\-]*$")


def looks_like_person_names(values: list[str]) -> float:
    """Share of values shaped like "Last, First" or "First Last"."""
    vals = [v.strip() for v in values if v and v.strip()]
    if not vals:
        return 0.0
    return sum(1 for v in vals if _COMMA_NAME.match(v) or _SPACE_NAME.match(v)) / len(vals)


def name_split_code(source: str, first: str, last: str) -> str:
    return NAME_SPLIT.format(source=source, first=first, last=last)
