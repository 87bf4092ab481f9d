"""Docker backend through the Docker SDK (as dagster-docker talks to the engine).

The container spec carries the seed's limits: 512 MB, 1 CPU, user 1000:1000, read-only root, a
small tmpfs, no network, a PID cap, no capabilities, no-new-privileges; the container is removed
after the call. The image must hold Python with pandas and pyarrow (``sandbox/Dockerfile``).
"""

import os
from pathlib import Path
from typing import Any

from sandbox.limits import Limits

DEFAULT_IMAGE = os.environ.get("DBMIGRATE_SANDBOX_IMAGE", "dbmigrate-sandbox:latest")


def container_spec(
    limits: Limits, indir: Path, outdir: Path, image: str = DEFAULT_IMAGE
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.run`` (checked by tests without an engine)."""
    return {
        "image": image,
        "command": ["python", "-I", "/io/in/child.py"],
        "user": "1000:1000",
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1_000_000_000),
        "pids_limit": limits.max_processes,
        "read_only": True,
        "tmpfs": {"/tmp": f"size={limits.tmpfs_mb}m,mode=1777"},
        "network_mode": "none",
        "network_disabled": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "environment": {"HOME": "/tmp", "OMP_NUM_THREADS": "1"},
        "volumes": {
            str(indir): {"bind": "/io/in", "mode": "ro"},
            str(outdir): {"bind": "/io/out", "mode": "rw"},
        },
        "working_dir": "/tmp",
        "detach": True,
        "auto_remove": False,  # removed explicitly after logs are read
        "ulimits": [
            {"Name": "fsize", "Soft": limits.max_output_bytes, "Hard": limits.max_output_bytes}
        ],
    }


def available() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # any failure means: no engine to use
        return f"no Docker engine answers ({type(exc).__name__})"
    return None


def run(
    limits: Limits, indir: Path, outdir: Path, image: str = DEFAULT_IMAGE
) -> tuple[int | None, bytes, bool]:
    import docker
    from docker.types import Ulimit

    client = docker.from_env()
    spec = container_spec(limits, indir, outdir, image)
    spec["ulimits"] = [
        Ulimit(name=u["Name"], soft=u["Soft"], hard=u["Hard"]) for u in spec["ulimits"]
    ]
    os.chmod(outdir, 0o777)
    container = client.containers.run(**spec)
    timed_out = False
    try:
        try:
            result = container.wait(timeout=limits.timeout_s)
            code: int | None = int(result.get("StatusCode", 1))
        except Exception:
            timed_out = True
            code = None
            container.kill()
        logs = container.logs()[: limits.max_log_bytes]
        return code, logs, timed_out
    finally:
        container.remove(force=True)
