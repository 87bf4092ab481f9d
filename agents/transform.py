"""Applying a table mapping to one batch of legacy rows, in memory and vectorised.

Input is the batch as Arrow strings (exactly what PostgreSQL's CSV COPY produced); output is the
target columns as text plus, for every row that cannot be migrated, the first reason. Nothing here
touches a database except through the ``resolve_fk`` callback, so it is testable on its own.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from agents.identity import uuid_arrow
from agents.models import ColumnInfo, ColumnRule, TableInfo, TableMapping
from agents.value_rules import Converted, to_boolean, to_date, to_enum, to_numeric, to_timestamp

# legacy ids (as int64) -> {legacy id: uuid text}; rows absent from the result are orphans.
FkResolver = Callable[[str, np.ndarray], Mapping[int, str]]
# (code, frame, expected columns) -> frame: runs generated transform code (in the sandbox).
CodeRunner = Callable[[str, pd.DataFrame, list[str]], pd.DataFrame]


@dataclass(frozen=True)
class BatchResult:
    columns: dict[str, pa.Array]  # target column -> text values, accepted rows only
    accepted: np.ndarray  # bool per input row
    legacy_ids: np.ndarray | None  # int64 legacy keys of accepted rows
    rejected: pd.DataFrame  # source columns of rejected rows + "__reason"


def _series(batch: pa.Table, name: str) -> pd.Series:
    return batch.column(name).to_pandas(types_mapper=None).astype(object)


def _as_int(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer legacy keys; the mask marks values that are not integers."""
    num = pd.to_numeric(s, errors="coerce")
    bad = s.notna() & (num.isna() | (num != num.round()))
    return num.fillna(-1).astype(np.int64).to_numpy(), bad


def apply_mapping(
    batch: pa.Table,
    mapping: TableMapping,
    target: TableInfo,
    *,
    seed: int,
    resolve_fk: FkResolver,
    run_code: CodeRunner | None = None,
) -> BatchResult:
    n = batch.num_rows
    reason = np.full(n, None, dtype=object)
    out: dict[str, pd.Series | pa.Array] = {}

    def fail(mask: pd.Series | np.ndarray, text: pd.Series | str) -> None:
        m = np.asarray(mask, dtype=bool) & pd.isna(reason)
        if m.any():
            reason[m] = text[m].to_numpy() if isinstance(text, pd.Series) else text

    legacy_ids = None
    if mapping.key_source:
        keys, bad = _as_int(_series(batch, mapping.key_source))
        fail(bad, f"legacy key {mapping.key_source} is not an integer")
        legacy_ids = keys

    for rule in mapping.columns:
        tcol = target.column(rule.target)
        if rule.kind == "uuid_key":
            assert legacy_ids is not None, "uuid_key needs key_source"
            out[rule.target] = uuid_arrow(np.where(legacy_ids < 0, 0, legacy_ids), seed)
            continue
        if rule.kind == "constant":
            out[rule.target] = pd.Series([rule.value] * n, dtype=object)
            continue
        if rule.kind == "code":
            continue  # applied below, on the whole frame
        src = _series(batch, rule.source or "")
        if rule.kind == "fk":
            ids, bad = _as_int(src)
            fail(bad, _why(rule, src, "is not an integer key"))
            present = src.notna() & ~bad
            found = resolve_fk(rule.fk_target or "", np.unique(ids[present.to_numpy()]))
            resolved = pd.Series(ids).map(found).astype(object)
            resolved[~present.to_numpy()] = None
            orphan = present.to_numpy() & resolved.isna().to_numpy()
            fail(
                orphan,
                _why(
                    rule,
                    src,
                    f"references a {rule.fk_target} row that was not "
                    "migrated (missing or rejected)",
                ),
            )
            out[rule.target] = resolved
            continue
        conv = _convert(rule, tcol, src)
        if conv is not None:
            fail(conv.failed, _why(rule, src, conv.reason))
            out[rule.target] = conv.values
        else:
            out[rule.target] = src

    code_rules = [r for r in mapping.columns if r.kind == "code"]
    if code_rules:
        if run_code is None:
            raise RuntimeError("a code rule needs a sandbox runner")
        frame = batch.to_pandas().astype(object)
        # One sandbox call per distinct program: a name split feeds two columns in one run.
        by_code: dict[str, list[str]] = {}
        for rule in code_rules:
            by_code.setdefault(rule.code or "", []).append(rule.target)
        for code, targets in by_code.items():
            result = run_code(code, frame, targets)
            for name in targets:
                col = result[name].astype(object)
                out[name] = col.where(col.notna(), None).reset_index(drop=True)

    # Required columns that ended up empty.
    for rule in mapping.columns:
        tcol = target.column(rule.target)
        if tcol.nullable:
            continue
        vals = out[rule.target]
        empty = (
            vals.is_null().to_numpy(zero_copy_only=False)
            if isinstance(vals, pa.Array)
            else pd.isna(vals).to_numpy()
        )
        fail(empty, f"{rule.target} is required but has no value")

    ok = pd.isna(reason)
    columns = {}
    for name, vals in out.items():
        arr = (
            vals
            if isinstance(vals, pa.Array)
            else pa.array(vals, type=pa.string(), from_pandas=True)
        )
        columns[name] = arr.filter(pa.array(ok)) if not ok.all() else arr
    rejected = batch.filter(pa.array(~ok)).to_pandas().astype(object)
    rejected["__reason"] = reason[~ok]
    return BatchResult(
        columns=columns,
        accepted=np.asarray(ok, dtype=bool),
        legacy_ids=legacy_ids[ok] if legacy_ids is not None else None,
        rejected=rejected,
    )


def _why(rule: ColumnRule, src: pd.Series, text: str) -> pd.Series:
    return (
        f"{rule.target}: {rule.source}=" + src.astype(str).str.slice(0, 80).map(repr) + f" {text}"
    )


def _convert(rule: ColumnRule, tcol: ColumnInfo, src: pd.Series) -> Converted | None:
    if rule.kind == "enum":
        return to_enum(src, rule.value_map, tcol.enum_labels or [])
    if rule.kind == "boolean":
        return to_boolean(src, rule.value_map or None)
    if rule.kind == "date":
        return to_date(src, rule.formats)
    if rule.kind == "timestamp":
        return to_timestamp(src, rule.formats, rule.timezone)
    if rule.kind == "numeric":
        return to_numeric(src)
    return None
