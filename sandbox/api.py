"""``execute_transform``: run generated ``transform(df)`` code where it can do no harm.

Data crosses the boundary as Arrow IPC files in a private temporary folder (mode 0700); the
result is validated (type, columns, row count, size) before the caller sees it; every call
yields an :class:`AuditRecord` with exactly what ran and how it ended.
"""

import hashlib
import json
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

from sandbox import docker_backend, local_backend
from sandbox.errors import SandboxError
from sandbox.limits import Limits

Backend = Literal["auto", "local", "docker"]
CHILD = Path(__file__).with_name("child.py")


@dataclass(frozen=True)
class AuditRecord:
    code: str
    sha256: str
    backend: str
    limits: dict[str, float]
    seconds: float
    outcome: str  # "ok" or the SandboxError kind
    detail: str
    rows_in: int
    rows_out: int


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
) -> SandboxRun:
    limits = limits or Limits(memory_mb=memory_mb, timeout_s=timeout_s)
    chosen = choose_backend(backend)
    digest = hashlib.sha256(code.encode()).hexdigest()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dbm-sandbox-"))  # 0700: only we can reach it
    indir, outdir = work / "in", work / "out"
    indir.mkdir()
    outdir.mkdir()
    outdir.chmod(0o777)  # the sandbox user (not us) writes here; the parent stays 0700
    rows_out = 0

    def audit(outcome: str, detail: str) -> AuditRecord:
        return AuditRecord(
            code=code,
            sha256=digest,
            backend=chosen,
            limits={k: float(v) for k, v in asdict(limits).items()},
            seconds=round(time.monotonic() - started, 3),
            outcome=outcome,
            detail=detail[:1000],
            rows_in=len(frame),
            rows_out=rows_out,
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
        runner = docker_backend.run if chosen == "docker" else local_backend.run
        status, log, timed_out = runner(limits, indir, outdir)
        try:
            result = _collect(status, log, timed_out, limits, outdir)
        except SandboxError as exc:
            exc.audit = audit(exc.kind, str(exc))
            raise
        rows_out = len(result)
        try:
            _validate(result, frame, expect_columns, same_row_count, limits)
        except SandboxError as exc:
            exc.audit = audit(exc.kind, str(exc))
            raise
        return SandboxRun(frame=result, audit=audit("ok", f"{rows_out} rows"))
    finally:
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


def _collect(
    status: int | None, log: bytes, timed_out: bool, limits: Limits, outdir: Path
) -> pd.DataFrame:
    tail = log.decode(errors="replace").strip()[-300:]
    if timed_out:
        raise SandboxError(
            "timeout",
            f"the transform ran longer than {limits.timeout_s:g}s and "
            "was stopped, with every process it started",
        )
    state = {}
    status_file = outdir / "status.json"
    if status_file.exists() and status_file.stat().st_size < 1_000_000:
        try:
            state = json.loads(status_file.read_text())
        except ValueError:
            state = {}
    if (status is not None and status < 0) or status in (
        128 + signal.SIGKILL,
        128 + signal.SIGXCPU,
        128 + signal.SIGXFSZ,
    ):
        sig = -status if status < 0 else status - 128  # type: ignore[operator]
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
    if not state.get("ok"):
        kind = str(state.get("kind") or "crashed")
        message = str(state.get("message") or f"the sandbox exited with status {status}: {tail}")
        if "File too large" in message or "EFBIG" in message:
            kind, message = (
                "output_size",
                (
                    f"the transform wrote more output than the "
                    f"{limits.max_output_bytes} bytes allowed"
                ),
            )
        elif kind == "memory" or any(
            s in message for s in ("MemoryError", "Cannot allocate memory", "malloc of size")
        ):
            kind, message = (
                "memory",
                (f"the transform needed more than {limits.memory_mb} MB of memory"),
            )
        elif "Resource temporarily unavailable" in message or "BlockingIOError" in message:
            kind = "forbidden"
            message = f"the transform tried to start more than {limits.max_processes} processes"
        elif any(
            s in message
            for s in (
                "Network is unreachable",
                "Connection refused",
                "PermissionError",
                "Read-only file system",
            )
        ):
            kind = "forbidden"
            message = f"the transform tried something the sandbox forbids: {message}"
        raise SandboxError(kind, message)
    out = outdir / "output.arrow"
    if not out.exists():
        raise SandboxError("result_type", "the transform produced no output file")
    if out.stat().st_size > limits.max_output_bytes:
        raise SandboxError(
            "output_size", f"the output is larger than {limits.max_output_bytes} bytes"
        )
    try:
        with ipc.open_file(str(out)) as reader:
            if (
                reader.num_record_batches
                and sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
                > limits.max_output_rows
            ):
                raise SandboxError(
                    "output_size", f"the output has more than {limits.max_output_rows} rows"
                )
            return reader.read_all().to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SandboxError(
            "result_type", f"the output file is not valid Arrow data: {exc}"
        ) from None


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
                f"the result lacks column(s) {missing}; it has {list(result.columns)[:10]}",
            )
    if same_row_count and len(result) != len(frame):
        raise SandboxError(
            "row_count",
            f"the transform returned {len(result)} rows for "
            f"{len(frame)} input rows; it must map row by row",
        )
    if len(result) > limits.max_output_rows:
        raise SandboxError("output_size", f"the output has more than {limits.max_output_rows} rows")
