"""What an Arrow IPC file *says* it holds, read from its footer and message headers only.

pyarrow decodes a record batch (and decompresses it) the moment it is asked for it; a small file
can therefore claim billions of rows or decompress to gigabytes before any check of ours runs.
This module reads the flatbuffers that describe the batches (row counts, array lengths, whether
the body is compressed) without touching a body, every offset bounds-checked, so the budget is
applied first. Field numbers follow Arrow's ``File.fbs``, ``Message.fbs`` and ``Schema.fbs``.
"""

import struct
from dataclasses import dataclass

from sandbox.errors import SandboxError

MAGIC = b"ARROW1"
_RECORD_BATCH, _DICTIONARY_BATCH = 3, 2


@dataclass(frozen=True)
class BatchInfo:
    rows: int
    node_lengths: tuple[int, ...]  # one per array, children included, in schema order
    compressed: bool
    dictionary: bool


class _Buf:
    """Bounds-checked little-endian reads; any stray offset becomes a SandboxError."""

    def __init__(self, data: memoryview) -> None:
        self.data = data

    def read(self, fmt: str, offset: int) -> int:
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(self.data):
            raise SandboxError("result_type", "the output file's metadata points outside it")
        value: int = struct.unpack_from("<" + fmt, self.data, offset)[0]
        return value


class _Table:
    """A flatbuffer table: fields reached through its vtable."""

    def __init__(self, buf: _Buf, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - buf.read("i", pos)
        self.vtable_len = buf.read("H", self.vtable)

    def _field(self, index: int) -> int:
        slot = 4 + 2 * index
        return 0 if slot >= self.vtable_len else self.buf.read("H", self.vtable + slot)

    def scalar(self, index: int, fmt: str) -> int:
        off = self._field(index)
        return 0 if not off else self.buf.read(fmt, self.pos + off)

    def has(self, index: int) -> bool:
        return self._field(index) != 0

    def table(self, index: int) -> "_Table | None":
        off = self._field(index)
        if not off:
            return None
        at = self.pos + off
        return _Table(self.buf, at + self.buf.read("I", at))

    def vector(self, index: int) -> tuple[int, int]:
        """(offset of the first element, element count); (0, 0) when absent."""
        off = self._field(index)
        if not off:
            return 0, 0
        at = self.pos + off
        start = at + self.buf.read("I", at)
        return start + 4, self.buf.read("I", start)


def _root(buf: _Buf, base: int) -> _Table:
    return _Table(buf, base + buf.read("I", base))


def batches(data: memoryview) -> list[BatchInfo]:
    """Every dictionary and record batch the footer lists, described from its header alone."""
    buf = _Buf(data)
    size = len(data)
    if size < 2 * len(MAGIC) + 4 or bytes(data[:6]) != MAGIC or bytes(data[-6:]) != MAGIC:
        raise SandboxError("result_type", "the output file is not an Arrow IPC file")
    footer_len = buf.read("i", size - 10)
    footer_at = size - 10 - footer_len
    if footer_len <= 0 or footer_at < 8:
        raise SandboxError("result_type", "the output file's footer is malformed")
    footer = _root(buf, footer_at)
    found = []
    for field, is_dict in ((2, True), (3, False)):
        start, count = footer.vector(field)
        for i in range(count):
            block = start + 24 * i  # struct Block { offset: long; metaDataLength: int; body: long }
            found.append(_batch(buf, buf.read("q", block), is_dict))
    return found


def _batch(buf: _Buf, offset: int, is_dict: bool) -> BatchInfo:
    at = offset + 8 if buf.read("I", offset) == 0xFFFFFFFF else offset + 4
    message = _root(buf, at)
    expected = _DICTIONARY_BATCH if is_dict else _RECORD_BATCH
    if message.scalar(1, "B") != expected:
        raise SandboxError("result_type", "the output file lists a block of the wrong kind")
    header = message.table(2)
    if header is None:
        raise SandboxError("result_type", "the output file has a batch without a header")
    record = header.table(1) if is_dict else header
    if record is None:
        raise SandboxError("result_type", "the output file has a dictionary without data")
    nodes_at, nodes = record.vector(1)
    lengths = tuple(buf.read("q", nodes_at + 16 * i) for i in range(nodes))
    return BatchInfo(
        rows=record.scalar(0, "q"),
        node_lengths=lengths,
        compressed=record.has(3),
        dictionary=is_dict,
    )
