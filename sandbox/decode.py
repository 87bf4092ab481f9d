"""Turn the sandbox's Arrow file into a DataFrame under a budget, or refuse it.

Order matters: everything that bounds the work (column count and types from the schema, row and
array lengths and compression from the batch headers, an upper bound of the decoded size) is
checked from metadata before a single column is materialized. Dictionary and nested types are
refused unless a rule asks for them; a time zone must be a known one; any error pyarrow or pandas
raises while decoding becomes a :class:`SandboxError`, since the callers catch nothing else.
"""

import json
import re
import zoneinfo
from collections.abc import Iterator
from functools import lru_cache

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.types as pt

from sandbox.arrow_meta import BatchInfo, batches
from sandbox.errors import SandboxError
from sandbox.limits import Limits
from sandbox.text import clean

_OFFSET_TZ = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d\Z")
_PANDAS_META_MAX = 1 << 20
# Upper bounds of what one value costs once it is a pandas column: 8 bytes of array slot, plus
# the Python object that object columns hold per value (str 49 B + data, Decimal 104 B, ...).
_OBJECT_COST = {"string": 64, "binary": 64, "decimal": 112, "date": 40, "time": 48}


def decode(
    data: bytearray, limits: Limits, *, allow_nested: bool = False, allow_dictionary: bool = False
) -> pd.DataFrame:
    infos = batches(memoryview(data))
    try:
        reader = ipc.open_file(pa.BufferReader(pa.py_buffer(data)))
        schema = reader.schema
        count = reader.num_record_batches
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SandboxError(
            "result_type", f"the output is not valid Arrow data: {clean(exc)}"
        ) from None
    flat = _check_schema(schema, limits, allow_nested, allow_dictionary)
    _check_batches(infos, count, flat, limits, len(data))
    _check_pandas_metadata(schema)
    try:
        parts = [reader.get_batch(i) for i in range(count)]
        for part in parts:
            part.validate(full=True)  # offsets, UTF-8 and lengths, before pandas trusts them
        return pa.Table.from_batches(parts, schema).to_pandas()
    except SandboxError:
        raise
    except Exception as exc:  # any decoding failure is the result's fault, and the caller's error
        raise SandboxError(
            "result_type", f"the output could not be decoded: {type(exc).__name__}: {clean(exc)}"
        ) from None


def _check_schema(
    schema: pa.Schema, limits: Limits, allow_nested: bool, allow_dictionary: bool
) -> list[pa.DataType]:
    if len(schema) > limits.max_columns:
        raise SandboxError(
            "result_type", f"the output has {len(schema)} columns; at most {limits.max_columns}"
        )
    flat: list[pa.DataType] = []
    for field in schema:
        for t in _walk(field.type):
            why = _refusal(t, allow_nested, allow_dictionary)
            if why:
                raise SandboxError("result_type", f"column {clean(field.name, 80)!r}: {why}")
            flat.append(t)
    return flat


def _walk(t: pa.DataType) -> Iterator[pa.DataType]:
    """The type and its children, in the order the IPC field nodes list them."""
    yield t
    if not pt.is_dictionary(t):
        for i in range(t.num_fields):
            yield from _walk(t.field(i).type)


def _refusal(t: pa.DataType, allow_nested: bool, allow_dictionary: bool) -> str | None:
    if pt.is_dictionary(t):
        if not allow_dictionary:
            return "dictionary-encoded columns are not accepted here"
        return _refusal(t.value_type, allow_nested, allow_dictionary)
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_struct(t):
        return None if allow_nested else "nested columns are not accepted here"
    if pt.is_timestamp(t) and t.tz is not None and not _known_zone(t.tz):
        return f"unknown time zone {clean(t.tz, 60)!r}"
    if _cost(t) is None:
        return f"type {clean(t, 80)} is not accepted"
    return None


def _cost(t: pa.DataType) -> int | None:
    """Decoded bytes per value, or None for a type the sandbox does not accept."""
    if pt.is_null(t) or pt.is_boolean(t) or pt.is_integer(t) or pt.is_floating(t):
        return 8
    if pt.is_timestamp(t) or pt.is_duration(t):
        return 8
    for name, check in (
        ("string", pt.is_string),
        ("string", pt.is_large_string),
        ("binary", pt.is_binary),
        ("binary", pt.is_large_binary),
        ("decimal", pt.is_decimal),
        ("date", pt.is_date),
        ("time", pt.is_time),
    ):
        if check(t):
            return _OBJECT_COST[name]
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_struct(t):
        return 120  # one Python/NumPy object per value; children are counted on their own
    if pt.is_dictionary(t):
        return 8
    return None


@lru_cache(maxsize=256)
def _known_zone(tz: str) -> bool:
    if tz == "UTC" or _OFFSET_TZ.match(tz):
        return True
    if len(tz) > 64 or tz not in _zones():
        return False
    try:
        pa.lib.string_to_tzinfo(tz)
    except Exception:  # pyarrow cannot turn it into a tzinfo: pandas would fail later
        return False
    return True


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_batches(
    infos: list[BatchInfo], count: int, flat: list[pa.DataType], limits: Limits, size: int
) -> None:
    records = [b for b in infos if not b.dictionary]
    if len(records) != count:
        raise SandboxError("result_type", "the output file's footer and batches disagree")
    if any(b.compressed for b in infos):
        raise SandboxError("result_type", "the output is compressed; the sandbox writes it plain")
    rows = sum(b.rows for b in records)
    if rows > limits.max_output_rows or any(b.rows < 0 for b in records):
        raise SandboxError("output_size", f"the output has more than {limits.max_output_rows} rows")
    budget = limits.max_decoded_mb * 1024 * 1024
    estimate = size
    for b in records:
        if len(b.node_lengths) != len(flat):
            raise SandboxError("result_type", "a batch of the output does not match its schema")
        if any(n < 0 or n > limits.max_output_rows for n in b.node_lengths):
            raise SandboxError("output_size", "an array of the output is longer than allowed")
        if not any(pt.is_list(t) or pt.is_large_list(t) for t in flat) and set(b.node_lengths) - {
            b.rows
        }:
            raise SandboxError("result_type", "a batch's columns have different lengths")
        estimate += sum(n * (_cost(t) or 0) for n, t in zip(b.node_lengths, flat, strict=True))
    estimate += sum(64 * n for b in infos if b.dictionary for n in b.node_lengths)
    if estimate > budget:
        raise SandboxError(
            "output_size",
            f"the output would take about {estimate >> 20} MB to decode; "
            f"at most {limits.max_decoded_mb} MB",
        )


def _check_pandas_metadata(schema: pa.Schema) -> None:
    """pandas reads this metadata to rebuild the frame: it must be small and well-formed."""
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return
    try:
        meta = json.loads(raw) if len(raw) <= _PANDAS_META_MAX else None
    except (ValueError, RecursionError):
        meta = None
    ok = (
        isinstance(meta, dict)
        and isinstance(meta.get("columns", []), list)
        and all(isinstance(c, dict) for c in meta.get("columns", []))
        and isinstance(meta.get("index_columns", []), list)
        and all(
            isinstance(c, dict) and c.get("kind") == "range" for c in meta.get("index_columns", [])
        )
    )
    if not ok:
        raise SandboxError("result_type", "the output's pandas metadata is malformed")
