"""Escape suite, the exchange: the parent follows no link, blocks on no FIFO, reads no device,
and refuses any status that is not small, flat and well-typed. Each attack is shown to work on a
plain, unsandboxed run first (the detector fires), then shown to be contained."""

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from sandbox import SandboxError, run_transform
from sandbox.errors import KINDS
from sandbox.exchange import create_slot, read_slot
from sandbox.local_backend import available
from tests.sandbox.plain import ROOT, run_plain

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FRAME = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None]})
SECRET = "ROOT-ONLY-SECRET-4711"


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def _swap_at_exit(target: str) -> str:
    """After the child has written its result, replace both files with links to ``target``."""
    return ROOT + (
        "import atexit, os\n"
        "def _swap():\n"
        "    for name in ('output.arrow', 'status.json'):\n"
        "        path = f'{ROOT}/out/{name}'\n"
        "        try:\n"
        "            os.remove(path)\n"
        f"            os.symlink({target!r}, path)\n"
        "        except OSError as exc:\n"
        "            print('refused:', exc)\n"
        "atexit.register(_swap)\n"
        "def transform(df):\n    return df\n"
    )


def _sandboxed_text(code: str) -> str:
    """Everything the caller could see from a sandboxed run: result or error, and its audit."""
    try:
        run = run_transform(code, FRAME, timeout_s=20)
    except SandboxError as exc:
        assert exc.kind in KINDS
        return f"{exc} {exc.audit}"
    return f"{run.frame.to_dict()} {run.audit}"


def test_output_swapped_for_a_link_to_a_root_only_file(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    plain = run_plain(_swap_at_exit(str(secret)), FRAME, tmp_path / "plain")
    assert (plain.out / "output.arrow").is_symlink()
    assert (plain.out / "output.arrow").read_text() == SECRET  # a naive parent reads the secret
    assert SECRET not in _sandboxed_text(_swap_at_exit(str(secret)))


def test_status_swapped_for_dev_zero(tmp_path: Path) -> None:
    plain = run_plain(_swap_at_exit("/dev/zero"), FRAME, tmp_path / "plain")
    with (plain.out / "status.json").open("rb") as fh:
        assert fh.read(1 << 20) == b"\0" * (1 << 20)  # endless: a naive read never stops
    started = time.monotonic()
    _sandboxed_text(_swap_at_exit("/dev/zero"))
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("plant", ["symlink", "fifo", "directory", "device", "hardlink", "big"])
def test_parent_opens_only_the_files_it_created(tmp_path: Path, plant: str) -> None:
    """Whatever a backend lets through, the parent's read refuses it, fast, as a SandboxError."""
    secret = _secret(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    slot = create_slot(out, "status.json", None)
    slot.path.unlink()
    if plant == "symlink":
        slot.path.symlink_to(secret)
    elif plant == "fifo":
        os.mkfifo(slot.path)
    elif plant == "directory":
        slot.path.mkdir()
    elif plant == "device":
        slot.path.symlink_to("/dev/zero")
    elif plant == "hardlink":
        os.link(secret, slot.path)
    else:
        slot = create_slot(out, "big.json", None)
        slot.path.write_bytes(b" " * 10_000)
    started = time.monotonic()
    with pytest.raises(SandboxError) as err:
        read_slot(slot, 8192)
    assert err.value.kind == "exchange" and SECRET not in str(err.value)
    assert time.monotonic() - started < 1


def _status_at_exit(raw: str) -> str:
    return ROOT + (
        "import atexit\n"
        "def _forge():\n"
        "    with open(f'{ROOT}/out/status.json', 'w') as fh:\n"
        f"        fh.write({raw!r})\n"
        "atexit.register(_forge)\n"
        "def transform(df):\n    return df\n"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000,  # RecursionError in a naive json.loads
        '"just a string"',  # AttributeError on .get
        '{"ok": true, "rows": {"nested": [1, 2]}}',
        '{"ok": "yes"}',
        '{"ok": false, "kind": "pwned", "extra": 1}',
    ],
)
def test_malformed_status_is_a_sandbox_error(tmp_path: Path, raw: str) -> None:
    plain = run_plain(_status_at_exit(raw), FRAME, tmp_path / "plain")
    assert (plain.out / "status.json").read_text() == raw  # the forgery lands
    with pytest.raises(SandboxError) as err:
        run_transform(_status_at_exit(raw), FRAME, timeout_s=20)
    assert err.value.kind == "exchange"


FORGED = "\r\x1b[2K\x1b[31m2026-01-01 INFO migration finished: all rows ok\n"


def test_child_text_is_escaped_and_a_child_kind_is_not_an_outcome(tmp_path: Path) -> None:
    status = json.dumps({"ok": False, "kind": "pwned", "message": FORGED * 100})
    plain = run_plain(_status_at_exit(status), FRAME, tmp_path / "plain")
    assert "\x1b" in json.loads((plain.out / "status.json").read_text())["message"]
    with pytest.raises(SandboxError) as err:
        run_transform(_status_at_exit(status), FRAME, timeout_s=20)
    audit = err.value.audit
    assert err.value.kind in KINDS and audit is not None
    assert audit.outcome == err.value.kind  # type: ignore[attr-defined]
    for text in (str(err.value), audit.detail):  # type: ignore[attr-defined]
        assert not any(c in text for c in "\r\n\x1b") and len(text) <= 1000


def test_raised_and_printed_text_is_escaped() -> None:
    code = (
        "import os, sys\ndef transform(df):\n"
        f"    print({FORGED!r} * 50, flush=True)\n"
        "    os._exit(3)\n"
    )
    with pytest.raises(SandboxError) as err:
        run_transform(code, FRAME, timeout_s=20)
    assert "INFO migration finished" in str(err.value)  # shown, but as one escaped line
    assert not any(c in str(err.value) for c in "\r\n\x1b")
    with pytest.raises(SandboxError) as err:
        run_transform(f"def transform(df):\n    raise ValueError({FORGED!r})", FRAME)
    assert err.value.kind == "exception" and "\\x1b" in str(err.value)
    assert not any(c in str(err.value) for c in "\r\n\x1b")
