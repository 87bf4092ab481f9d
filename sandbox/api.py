"""``execute_transform``: run generated ``transform(df)`` code where it can do no harm.

Data crosses the boundary as Arrow IPC files in a private temporary folder (mode 0700): the
input read-only, the output and status as two files the parent created, on a size-capped tmpfs
where root may mount one. The result is read back without trusting the folder
(:mod:`sandbox.exchange`), decoded under a budget (:mod:`sandbox.decode`) and validated (columns,
row count) before the caller sees it; every call yields an :class:`AuditRecord` with exactly
what ran, how it ended and which layer enforced the limits. Every failure is a SandboxError.
"""

import hashlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from sandbox import docker_backend, local_backend, outfs
from sandbox.decode import decode
from sandbox.errors import SandboxError
from sandbox.exchange import (
    OUTPUT,
    STATUS,
    STATUS_MAX_BYTES,
    Slot,
    create_slot,
    parse_status,
    read_slot,
)
from sandbox.limits import Limits
from sandbox.run_result import RunResult
from sandbox.text import clean, clean_bytes

Backend = Literal["auto", "local", "docker"]
CHILD = Path(__file__).with_name("child.py")
MEMORY_NEAR_CAP = 0.75  # a run that peaked above this share of its memory cap ran out of it


@dataclass(frozen=True)
class AuditRecord:
    code: str
    sha256: str
    backend: str
    limits: dict[str, float]
    seconds: float
    outcome: str  # "ok" or the SandboxError kind (a closed set: never the child's words)
    detail: str  # escaped and capped; ends with the layers that enforced the limits
    rows_in: int
    rows_out: int
    enforcement: str = ""  # e.g. "cgroup v1 (memory, cpu, pids); rlimits; seccomp allowlist"
    peak_memory_bytes: int = 0  # where a cgroup measured it


@dataclass(frozen=True)
class SandboxRun:
    frame: pd.DataFrame
    audit: AuditRecord


def choose_backend(backend: Backend) -> str:
    if backend == "docker" or backend == "auto":
        reason = docker_backend.available()
        if reason is None:
            return "docker"
        if backend == "docker":
            raise SandboxError("unavailable", f"the Docker backend was asked for but {reason}")
    reason = local_backend.available()
    if reason is None:
        return "local"
    raise SandboxError("unavailable", f"no sandbox backend can run here: {reason}")


def run_transform(
    code: str,
    frame: pd.DataFrame,
    *,
    timeout_s: float = 300,
    memory_mb: int = 512,
    backend: Backend = "auto",
    expect_columns: list[str] | None = None,
    same_row_count: bool = True,
    limits: Limits | None = None,
    allow_nested: bool = False,
    allow_dictionary: bool = False,
) -> SandboxRun:
    """Run ``transform(df)`` and return its validated result with the audit of the run.

    ``allow_nested`` / ``allow_dictionary``: accept list/struct or dictionary-encoded result
    columns, for the rules that need them; refused otherwise, being the costliest to decode.
    """
    limits = limits or Limits(memory_mb=memory_mb, timeout_s=timeout_s)
    chosen = choose_backend(backend)
    digest = hashlib.sha256(code.encode()).hexdigest()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dbm-sandbox-"))  # 0700: only we can reach it
    indir, outdir = work / "in", work / "out"
    indir.mkdir()
    outdir.mkdir(mode=0o700)
    capped = outfs.mount_capped(outdir, limits.max_output_bytes + STATUS_MAX_BYTES)
    layers: tuple[str, ...] = ()
    rows_out = 0
    peak = 0

    def audit(outcome: str, detail: str) -> AuditRecord:
        enforcement = "; ".join((*layers, "output tmpfs" if capped else "output: per-file rlimit"))
        return AuditRecord(
            code=code,
            sha256=digest,
            backend=chosen,
            limits={k: float(v) for k, v in asdict(limits).items()},
            seconds=round(time.monotonic() - started, 3),
            outcome=outcome,
            detail=clean(f"{detail} [limits held by: {enforcement}]", 1000),
            rows_in=len(frame),
            rows_out=rows_out,
            enforcement=enforcement,
            peak_memory_bytes=peak,
        )

    try:
        (indir / "transform.py").write_text(code)
        shutil.copy(CHILD, indir / "child.py")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with ipc.new_file(str(indir / "input.arrow"), table.schema) as w:
            w.write_table(table)
        for p in indir.iterdir():
            p.chmod(0o444)
        indir.chmod(0o555)
        module = docker_backend if chosen == "docker" else local_backend
        owner = module.SANDBOX_UID if os.geteuid() == 0 else None
        slots = {name: create_slot(outdir, name, owner) for name in (OUTPUT, STATUS)}
        if owner is None and chosen == "docker":
            for slot in slots.values():
                slot.path.chmod(0o666)  # the container's user is not us; the folder stays 0700
        run = module.run(limits, indir, outdir)
        layers, peak = run.layers, run.peak_memory
        try:
            result = _collect(run, limits, slots, allow_nested, allow_dictionary)
            rows_out = len(result)
            _validate(result, frame, expect_columns, same_row_count, limits)
        except SandboxError as exc:
            exc.audit = audit(exc.kind, str(exc))
            raise
        return SandboxRun(frame=result, audit=audit("ok", f"{rows_out} rows"))
    finally:
        if capped:
            outfs.unmount(outdir)
        shutil.rmtree(work, ignore_errors=True)


def execute_transform(
    code: str,
    frame: pd.DataFrame,
    *,
    timeout_s: float = 300,
    memory_mb: int = 512,
    backend: Backend = "auto",
) -> pd.DataFrame:
    """Run ``transform(df)`` from ``code`` in the sandbox and return its validated result."""
    return run_transform(
        code, frame, timeout_s=timeout_s, memory_mb=memory_mb, backend=backend
    ).frame


_FATAL = (signal.SIGKILL, signal.SIGXCPU, signal.SIGXFSZ, signal.SIGSYS, signal.SIGSEGV)


def _collect(
    run: RunResult,
    limits: Limits,
    slots: dict[str, Slot],
    allow_nested: bool,
    allow_dictionary: bool,
) -> pd.DataFrame:
    if run.timed_out:
        raise SandboxError(
            "timeout",
            f"the transform ran longer than {limits.timeout_s:g}s and "
            "was stopped, with every process it started",
        )
    if run.oom_killed:
        raise SandboxError(
            "memory", f"the transform needed more than {limits.memory_mb} MB of memory"
        )
    _raise_for_signal(run.status, limits)
    state = parse_status(read_slot(slots[STATUS], STATUS_MAX_BYTES))
    if state is None or not state.ok:
        kind = state.kind if state else "crashed"
        tail = clean_bytes(run.log, 300)
        message = (
            state.message
            if state and state.message
            else (f"the sandbox exited with status {run.status}: {tail}")
        )
        raise SandboxError(*_classify(kind, message, run, limits))
    data = read_slot(slots[OUTPUT], limits.max_output_bytes, too_big="output_size")
    if not data:
        raise SandboxError("result_type", "the transform produced no output file")
    return decode(data, limits, allow_nested=allow_nested, allow_dictionary=allow_dictionary)


def _raise_for_signal(status: int | None, limits: Limits) -> None:
    if status is None:
        return
    sig = -status if status < 0 else status - 128 if status > 128 else 0
    if sig not in _FATAL:
        return
    if sig == signal.SIGXCPU:
        raise SandboxError("timeout", "the transform used up its CPU time and was stopped")
    if sig == signal.SIGXFSZ:
        raise SandboxError(
            "output_size",
            f"the transform wrote more output than the {limits.max_output_bytes} bytes allowed",
        )
    raise SandboxError(
        "crashed",
        f"the sandboxed process was killed by signal {sig} (often: memory limit reached)",
    )


def _classify(kind: str, message: str, run: RunResult, limits: Limits) -> tuple[str, str]:
    """A kind and message for a failed run: the child's words are a hint, never the verdict."""
    if kind == "output_size" or "File too large" in message or "EFBIG" in message:
        return "output_size", (
            f"the transform wrote more output than the {limits.max_output_bytes} bytes allowed"
        )
    eagain = "Resource temporarily unavailable" in message or "BlockingIOError" in message
    # EAGAIN is also what a thread gets when its stack no longer fits under RLIMIT_DATA: a
    # memory bomb then fails in a thread start. Near the memory cap, it is the memory.
    near_cap = run.peak_memory >= MEMORY_NEAR_CAP * limits.memory_mb * 1024 * 1024
    if (
        kind == "memory"
        or any(s in message for s in ("MemoryError", "Cannot allocate memory", "malloc of size"))
        or (eagain and near_cap and not run.pids_refused)
    ):
        return "memory", f"the transform needed more than {limits.memory_mb} MB of memory"
    if run.pids_refused or eagain:
        return (
            "forbidden",
            f"the transform tried to start more than {limits.max_processes} processes",
        )
    if any(
        s in message
        for s in (
            "Network is unreachable",
            "Connection refused",
            "PermissionError",
            "Read-only file system",
        )
    ):
        return "forbidden", f"the transform tried something the sandbox forbids: {message}"
    return kind, message


def _validate(
    result: pd.DataFrame,
    frame: pd.DataFrame,
    expect_columns: list[str] | None,
    same_row_count: bool,
    limits: Limits,
) -> None:
    if expect_columns is not None:
        missing = [c for c in expect_columns if c not in result.columns]
        if missing:
            raise SandboxError(
                "columns",
                f"the result lacks column(s) {missing}; "
                f"it has {clean(list(result.columns)[:10], 300)}",
            )
    if same_row_count and len(result) != len(frame):
        raise SandboxError(
            "row_count",
            f"the transform returned {len(result)} rows for "
            f"{len(frame)} input rows; it must map row by row",
        )
    if len(result) > limits.max_output_rows:
        raise SandboxError("output_size", f"the output has more than {limits.max_output_rows} rows")
