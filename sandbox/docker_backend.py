"""Docker backend through the Docker SDK (as dagster-docker talks to the engine).

The container spec carries the same layers as the local backend: memory with swap capped at the
same figure (the engine's cgroup counts shared memory, memfd and tmpfs as well), 1 CPU, a PID
cap, user 1000:1000, read-only root, a small tmpfs, no network, no capabilities,
no-new-privileges, the same seccomp allowlist as a profile, rlimits as ulimits, and the two
exchange files bound one by one (never the folder). The parent reads the result back with the
same checks as for the local backend. The image must hold Python with pandas and pyarrow
(``sandbox/Dockerfile``); the container is removed after the call.
"""

import json
import os
from pathlib import Path
from typing import Any

from sandbox.exchange import OUTPUT, STATUS
from sandbox.limits import Limits
from sandbox.run_result import RunResult
from sandbox.seccomp_policy import docker_profile

DEFAULT_IMAGE = os.environ.get("DBMIGRATE_SANDBOX_IMAGE", "dbmigrate-sandbox:latest")
SANDBOX_UID = 1000
LAYERS = ("docker cgroup (memory, cpu, pids)", "ulimits", "seccomp allowlist")


def _ulimit(name: str, value: int) -> dict[str, Any]:
    return {"Name": name, "Soft": value, "Hard": value}


def container_spec(
    limits: Limits, indir: Path, outdir: Path, image: str = DEFAULT_IMAGE
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.run`` (checked by tests without an engine)."""
    cpu_s = max(1, int(limits.timeout_s) + 1)
    return {
        "image": image,
        "command": ["python", "-I", "/io/in/child.py"],
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1_000_000_000),
        "pids_limit": limits.max_processes,
        "read_only": True,
        "tmpfs": {"/tmp": f"size={limits.tmpfs_mb}m,mode=1777"},
        "network_mode": "none",
        "network_disabled": True,
        "ipc_mode": "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges", "seccomp=" + json.dumps(docker_profile())],
        "environment": {"HOME": "/tmp", "OMP_NUM_THREADS": "1"},
        "volumes": {
            str(indir): {"bind": "/io/in", "mode": "ro"},
            str(outdir / OUTPUT): {"bind": f"/io/out/{OUTPUT}", "mode": "rw"},
            str(outdir / STATUS): {"bind": f"/io/out/{STATUS}", "mode": "rw"},
        },
        "working_dir": "/tmp",
        "detach": True,
        "auto_remove": False,  # removed explicitly after logs are read
        "ulimits": [
            _ulimit("fsize", limits.max_output_bytes),
            _ulimit("nofile", limits.max_open_files),
            _ulimit("cpu", cpu_s),
            _ulimit("core", 0),
        ],
    }


def available() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # any failure means: no engine to use
        return f"no Docker engine answers ({type(exc).__name__})"
    return None


def run(limits: Limits, indir: Path, outdir: Path, image: str = DEFAULT_IMAGE) -> RunResult:
    import docker
    from docker.types import Ulimit

    client = docker.from_env()
    spec = container_spec(limits, indir, outdir, image)
    spec["ulimits"] = [
        Ulimit(name=u["Name"], soft=u["Soft"], hard=u["Hard"]) for u in spec["ulimits"]
    ]
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
        logs = container.logs(tail=200)[-limits.max_log_bytes :]
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return RunResult(code, logs, timed_out, LAYERS, oom_killed=oom)
    finally:
        container.remove(force=True)
