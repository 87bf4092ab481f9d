"""What a backend reports about one run: how it ended and which layers enforced the limits."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RunResult:
    status: int | None  # exit status; None when stopped by the wall clock
    log: bytes  # captured output, already capped
    timed_out: bool
    layers: tuple[str, ...]  # e.g. ("cgroup v1 (memory, cpu, pids)", "rlimits", ...)
    oom_killed: bool = False  # the memory cgroup killed a process
    pids_refused: bool = False  # the pids cgroup refused a fork
    peak_memory: int = 0  # bytes, where a cgroup measured it
