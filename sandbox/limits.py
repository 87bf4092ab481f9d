"""The seed's limits (512 MB, 1 CPU, 5 minutes), overridable downward only."""

from dataclasses import dataclass

from sandbox.errors import SandboxError

MAX_MEMORY_MB = 512
MAX_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Limits:
    memory_mb: int = MAX_MEMORY_MB
    timeout_s: float = MAX_TIMEOUT_S
    cpus: float = 1.0
    max_processes: int = 32
    max_open_files: int = 256
    tmpfs_mb: int = 64
    max_output_rows: int = 10_000_000
    max_output_bytes: int = 512 * 1024 * 1024
    max_columns: int = 512
    # What the parent may spend turning the result into a DataFrame (an upper bound computed
    # from the file's metadata is checked against it before anything is decoded).
    max_decoded_mb: int = 1536
    max_log_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if not 0 < self.memory_mb <= MAX_MEMORY_MB:
            raise SandboxError(
                "limits", f"memory_mb must be in (0, {MAX_MEMORY_MB}]; limits can only be lowered"
            )
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise SandboxError(
                "limits",
                f"timeout_s must be in (0, {MAX_TIMEOUT_S:.0f}]; limits can only be lowered",
            )
        if not 0 < self.cpus <= 1.0:
            raise SandboxError("limits", "cpus must be in (0, 1]")
