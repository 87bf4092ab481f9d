"""Applying a table mapping to one batch of legacy rows, in memory and vectorised.

Input is the batch as Arrow strings (exactly what PostgreSQL's CSV COPY produced); output is the
target columns as text plus, for every row that cannot be migrated, the first reason. Nothing here
touches a database except through the ``resolve_fk`` callback, so it is testable on its own.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from agents.engine import keys
from agents.identity import MAX_LEGACY_ID, uuid_bytes, uuid_text_arrow
from agents.models import ColumnInfo, ColumnRule, TableInfo, TableMapping
from agents.value_rules import Converted, to_boolean, to_date, to_enum, to_numeric, to_timestamp

log = logging.getLogger(__name__)
# legacy ids (as int64) -> {legacy id: uuid text}; rows absent from the result are orphans.
FkResolver = Callable[[str, np.ndarray], Mapping[int, str]]
# (parent table, its key column, values as text) -> the values that parent holds: references to
# a key the redesign keeps, checked before the target's constraint would refuse them.
KeptResolver = Callable[[str, str, list[str]], set[str]]
# (code, frame, expected columns) -> frame: runs generated transform code (in the sandbox).
CodeRunner = Callable[[str, pd.DataFrame, list[str]], pd.DataFrame]


@dataclass(frozen=True)
class BatchResult:
    columns: dict[str, pa.Array]  # target column -> text values, accepted rows only
    accepted: np.ndarray  # bool per input row
    legacy_ids: np.ndarray | None  # int64 legacy keys of accepted rows
    rejected: pd.DataFrame  # source columns of rejected rows + "__reason"
    # Wire bytes of derived UUID columns (accepted rows, (n, 16)), so a binary COPY need not
    # parse back the text it was printed as.
    uuid_raw: dict[str, np.ndarray] | None = None
    # A natural key's readable form (accepted rows), recorded in migration_mappings.
    legacy_keys: pa.Array | None = None
    # References to missing parents written NULL (on_orphan: set_null), per target column.
    nulled: dict[str, int] | None = None


def _ints(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int64 values with -1 for missing, valid mask, mask of values that are not integers)."""
    valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    try:
        ints = pc.cast(col, pa.int64())
        values = np.asarray(pc.fill_null(ints, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        return values, valid, np.zeros(len(valid), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        s = col.to_pandas().astype(object)
        num = pd.to_numeric(s, errors="coerce")
        bad = (s.notna() & (num.isna() | (num != num.round()))).to_numpy()
        return num.fillna(-1).astype(np.int64).to_numpy(), valid & ~bad, bad


def _lookup(col: pa.Array, mapping: Mapping[Any, str | None]) -> pa.Array:
    """Vectorised dictionary lookup (Arrow hash join); misses become null."""
    keys = [k for k, v in mapping.items() if v is not None]
    if not keys:
        return pa.nulls(len(col), pa.string())
    idx = pc.index_in(col, value_set=pa.array(keys, type=col.type))
    return pc.take(pa.array([mapping[k] for k in keys], type=pa.string()), idx)


def _text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return arr if arr.type == pa.string() else pc.cast(arr, pa.string())


def apply_mapping(
    batch: pa.Table,
    mapping: TableMapping,
    target: TableInfo,
    *,
    seed: int,
    resolve_fk: FkResolver,
    run_code: CodeRunner | None = None,
    deferred: frozenset[str] = frozenset(),
    resolve_kept: KeptResolver | None = None,
) -> BatchResult:
    """Arrow in, Arrow out; pandas only for the parsers that need it, on their column alone.

    Reference rules (``fk``, or a ``copy`` of a kept key) named in ``deferred`` are written
    NULL here and set once their parents are loaded (see :mod:`agents.engine.references`).
    """
    n = batch.num_rows
    failed = np.zeros(n, dtype=bool)
    reason = np.full(n, None, dtype=object)
    out: dict[str, pa.Array] = {}
    raw: dict[str, np.ndarray] = {}
    nulled: dict[str, int] = {}  # optional links to missing parents written NULL, per column

    def fail(
        mask: np.ndarray, text: str, rule: ColumnRule | None = None, src: pa.Array | None = None
    ) -> None:
        m = np.asarray(mask, dtype=bool) & ~failed
        if not m.any():
            return
        failed[m] = True
        if rule is None or src is None:
            reason[m] = text
            return
        # Reasons are built for failing rows only: the happy path pays nothing for them.
        values = src.filter(pa.array(m)).to_pylist()
        reason[m] = [f"{rule.target}: {rule.source}={str(v)[:80]!r} {text}" for v in values]

    legacy_ids = None
    legacy_keys = None
    if mapping.integer_key is not None:
        ids, _, bad = _ints(batch.column(mapping.integer_key))
        fail(bad, f"legacy key {mapping.integer_key} is not an integer")
        fail(
            (ids < 0) | (ids > MAX_LEGACY_ID),
            f"legacy key {mapping.integer_key} is outside 0..2^48: set key_kind: natural in "
            "the mapping to hash it instead",
        )
        legacy_ids = ids
    elif mapping.key_columns:
        ids, _, bad = _ints(batch.column(keys.KEY_ID))
        fail(bad, f"legacy key ({', '.join(mapping.key_columns)}) has a NULL part")
        legacy_ids = ids
        legacy_keys = _text(batch.column(keys.KEY_TEXT))

    for rule in mapping.columns:
        tcol = target.column(rule.target)
        if rule.kind == "uuid_key":
            assert legacy_ids is not None, "uuid_key needs key_source"
            raw[rule.target] = uuid_bytes(np.clip(legacy_ids, 0, MAX_LEGACY_ID), seed)
            out[rule.target] = uuid_text_arrow(raw[rule.target])
            continue
        if rule.kind == "constant":
            out[rule.target] = pa.array([rule.value] * n, type=pa.string())
            continue
        if rule.kind == "code":
            continue  # applied below, on the whole frame
        if rule.target in deferred and rule.kind in ("fk", "copy"):
            out[rule.target] = pa.nulls(n, pa.string())
            continue
        if rule.kind == "expression":
            src = _text(batch.column(keys.expr_column(rule.target)))
        elif rule.via:
            src = _text(batch.column(keys.fold_column(rule.target)))
        else:
            src = _text(batch.column(rule.source or ""))
        sentinels = [k for k, v in rule.value_map.items() if v is None]
        hit = None
        if sentinels and rule.kind != "enum":
            # A legacy value the reviewer mapped to null means "no value" (0, '', 'NA'): it is
            # NULL before any parsing or resolving (for an enum, null means "not decided yet").
            hit = pc.fill_null(pc.is_in(src, value_set=pa.array(sentinels, pa.string())), False)
            src = pc.if_else(hit, pa.nulls(n, pa.string()), src)
        if rule.kind == "expression":
            out[rule.target] = src
        elif rule.kind == "copy" and rule.cast and not rule.via:
            if rule.reject_lossy:
                flag = _text(batch.column(keys.lossy_column(rule.target)))
                fail(
                    np.asarray(pc.equal(flag, "t").fill_null(False).to_numpy(zero_copy_only=False)),
                    f"would lose information as {rule.cast} (the reviewer chose to reject those)",
                    rule,
                    src,
                )
            cast = _text(batch.column(keys.cast_column(rule.target)))
            out[rule.target] = (
                cast if hit is None else pc.if_else(hit, pa.nulls(n, pa.string()), cast)
            )
        elif rule.kind == "copy":
            out[rule.target] = src
        elif rule.kind == "fk":
            ref = src
            if rule.ref_kind == "natural":
                ref = _text(batch.column(keys.ref_column(rule.target)))
                if rule.ref_sources:  # show every part of a composite reference
                    src = pc.binary_join_element_wise(
                        *[_text(batch.column(c)) for c in rule.ref_sources], "/"
                    )
            ids, present, bad = _ints(ref)
            fail(bad, "is not an integer key", rule, src)
            found = resolve_fk(rule.fk_target or "", np.unique(ids[present]))
            resolved = _lookup(pa.array(ids, pa.int64()), found)
            resolved = pc.if_else(pa.array(present), resolved, pa.nulls(n, pa.string()))
            orphan = present & np.asarray(resolved.is_null().to_numpy(zero_copy_only=False))
            if rule.on_orphan == "reject":
                fail(
                    orphan,
                    f"references a {rule.fk_target} row that was not migrated (missing or "
                    "rejected)",
                    rule,
                    src,
                )
            elif orphan.any():  # the reviewer made this link optional: NULL, and said so
                nulled[rule.target] = nulled.get(rule.target, 0) + int(orphan.sum())
                log.info(
                    "%s.%s: %d references to missing %s rows written NULL (on_orphan: null)",
                    mapping.target,
                    rule.target,
                    int(orphan.sum()),
                    rule.fk_target,
                )
            out[rule.target] = resolved
        elif rule.kind == "enum":
            labels = _lookup(src, rule.value_map)
            miss = np.asarray(labels.is_null().to_numpy(zero_copy_only=False)) & ~np.asarray(
                src.is_null().to_numpy(zero_copy_only=False)
            )
            if miss.any():  # loose matching (case, spacing) only where the exact map missed
                idx = np.flatnonzero(miss)
                conv = to_enum(
                    src.take(pa.array(idx)).to_pandas().astype(object),
                    rule.value_map,
                    tcol.enum_labels or [],
                )
                patched = labels.to_pandas().astype(object)
                patched.iloc[idx] = conv.values.to_numpy()
                labels = pa.array(patched, type=pa.string(), from_pandas=True)
                still = np.zeros(n, dtype=bool)
                still[idx] = conv.failed.to_numpy()
                fail(still, conv.reason, rule, src)
            out[rule.target] = labels
        else:
            parsed = _convert(rule, tcol, src.to_pandas().astype(object))
            assert parsed is not None
            fail(parsed.failed.to_numpy(), parsed.reason, rule, src)
            out[rule.target] = pa.array(parsed.values, type=pa.string(), from_pandas=True)

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
                out[name] = pa.array(
                    col.where(col.notna(), None).reset_index(drop=True),
                    type=pa.string(),
                    from_pandas=True,
                )

    if resolve_kept is not None:
        for rule in mapping.columns:
            if rule.kind == "copy" and rule.fk_target and rule.target not in deferred:
                _check_kept(rule, target, out, resolve_kept, fail, nulled)

    # "When there is no value, write this" (a NULL flag that means false, say).
    for rule in mapping.columns:
        if rule.if_null is not None and rule.target in out:
            out[rule.target] = pc.fill_null(_text(out[rule.target]), rule.if_null)
    # Required columns that ended up empty.
    for rule in mapping.columns:
        if rule.unanswered and not target.column(rule.target).nullable:
            fail(np.ones(n, dtype=bool), f"{rule.target}: {rule.unanswered}")
        elif not target.column(rule.target).nullable:
            empty = np.asarray(out[rule.target].is_null().to_numpy(zero_copy_only=False))
            fail(empty, f"{rule.target} is required but has no value")

    ok = ~failed
    keep = pa.array(ok)
    columns = {name: (vals if ok.all() else vals.filter(keep)) for name, vals in out.items()}
    if failed.any():
        rejected = batch.filter(pa.array(failed)).to_pandas().astype(object)
        rejected["__reason"] = reason[failed]
    else:
        rejected = pd.DataFrame(columns=[*batch.column_names, "__reason"])
    return BatchResult(
        columns=columns,
        accepted=ok,
        legacy_ids=legacy_ids[ok] if legacy_ids is not None else None,
        rejected=rejected,
        uuid_raw={name: (m if ok.all() else m[ok]) for name, m in raw.items()},
        legacy_keys=None if legacy_keys is None else legacy_keys.filter(keep),
        nulled=nulled or None,
    )


def _check_kept(
    rule: ColumnRule,
    target: TableInfo,
    out: dict[str, pa.Array],
    resolve: KeptResolver,
    fail: Callable[[np.ndarray, str, ColumnRule | None, pa.Array | None], None],
    nulled: dict[str, int],
) -> None:
    """A copied reference to a kept key whose parent row is not there: rejected with the
    reason, or written empty and counted where ``on_orphan: set_null`` says so."""
    fk = target.foreign_key_on(rule.target)
    if fk is None:
        return
    values = _text(out[rule.target])
    given = values.drop_null().unique().to_pylist()
    held = resolve(fk.ref_table, fk.ref_columns[0], given) if given else set()
    if len(held) == len(given):
        return
    orphan = np.asarray(
        pc.and_(
            pc.invert(pc.is_in(values, value_set=pa.array(sorted(held), pa.string()))),
            pc.is_valid(values),
        )
        .fill_null(False)
        .to_numpy(zero_copy_only=False)
    )
    if rule.on_orphan == "reject":
        fail(orphan, f"references a {rule.fk_target} row that is not in the target", rule, values)
        return
    nulled[rule.target] = nulled.get(rule.target, 0) + int(orphan.sum())
    out[rule.target] = pc.if_else(pa.array(orphan), pa.nulls(len(values), pa.string()), values)


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
