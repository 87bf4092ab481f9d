"""The exchange folder as the parent sees it: it opens only files it created, and trusts nothing.

The parent creates ``output.arrow`` and ``status.json`` itself (empty, owned by the sandbox user)
and remembers their inode; the sandbox only ever gets those two files bound in, never the folder.
Reading back, a file is opened with ``O_NOFOLLOW | O_NONBLOCK`` (a symlink or FIFO planted by a
tampering backend neither redirects nor blocks us), checked on the opened descriptor (regular,
one link, the inode we created, not larger than allowed) and read with a bound. Every failure is a
:class:`SandboxError`; the status is a small flat object checked field by field, and the kinds a
child may report come from a closed set.
"""

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import SandboxError
from sandbox.text import clean

OUTPUT = "output.arrow"
STATUS = "status.json"
STATUS_MAX_BYTES = 8192
# The only kinds a child may claim; anything else it writes is reported as "exception".
CHILD_KINDS = frozenset({"syntax", "contract", "result_type", "memory", "exception", "output_size"})
_FIELDS: dict[str, type] = {"ok": bool, "kind": str, "message": str, "rows": int, "trace": str}


@dataclass(frozen=True)
class Slot:
    """A file the parent created for the sandbox to fill: where, and which inode it must be."""

    path: Path
    device: int
    inode: int


@dataclass(frozen=True)
class Status:
    ok: bool
    kind: str
    message: str
    rows: int
    trace: str


def create_slot(folder: Path, name: str, owner: int | None) -> Slot:
    """Create ``folder/name`` empty (refusing anything already there) and remember its inode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(folder / name, flags, 0o600)
    try:
        if owner is not None:
            os.fchown(fd, owner, owner)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return Slot(folder / name, st.st_dev, st.st_ino)


def read_slot(slot: Slot, max_bytes: int, too_big: str = "exchange") -> bytearray:
    """The file's bytes, at most ``max_bytes`` (else a ``too_big`` error), if it is still ours."""
    name = slot.path.name
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(slot.path, flags)
    except OSError as exc:
        why = (
            "it was replaced by a link"
            if exc.errno == errno.ELOOP
            else errno.errorcode.get(exc.errno or 0, "error")
        )
        raise SandboxError("exchange", f"the sandbox's {name} could not be opened: {why}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SandboxError("exchange", f"the sandbox's {name} is no longer a regular file")
        if (st.st_dev, st.st_ino) != (slot.device, slot.inode) or st.st_nlink != 1:
            raise SandboxError("exchange", f"the sandbox's {name} was replaced or linked")
        if st.st_size > max_bytes:
            raise SandboxError(too_big, f"the sandbox's {name} is larger than {max_bytes} bytes")
        return _read_bounded(fd, st.st_size, name)
    finally:
        os.close(fd)


def _read_bounded(fd: int, size: int, name: str) -> bytearray:
    buf = bytearray(size + 1)  # one spare byte shows a file that grew after fstat
    view = memoryview(buf)
    got = 0
    with os.fdopen(os.dup(fd), "rb", buffering=0) as fh:
        while got <= size:
            n = fh.readinto(view[got:])
            if not n:
                break
            got += n
    view.release()
    if got != size:
        raise SandboxError("exchange", f"the sandbox's {name} changed while it was read")
    del buf[size:]
    return buf


def parse_status(raw: bytes | bytearray) -> Status | None:
    """The child's status, or None when it wrote none; anything malformed is refused."""
    if not raw.strip():
        return None
    try:
        state = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise SandboxError("exchange", "the sandbox's status is not valid JSON") from None
    if not isinstance(state, dict) or not set(state) <= set(_FIELDS) or "ok" not in state:
        raise SandboxError("exchange", "the sandbox's status is not a flat object of known fields")
    for key, value in state.items():
        if type(value) is not _FIELDS[key]:  # bool is not an int here, nor a list a str
            raise SandboxError("exchange", f"the sandbox's status field {key!r} has the wrong type")
    kind = state.get("kind", "exception")
    return Status(
        ok=state["ok"],
        kind=kind if kind in CHILD_KINDS else "exception",
        message=clean(state.get("message", "")),
        rows=state.get("rows", 0),
        trace=clean(state.get("trace", ""), 2000),
    )
