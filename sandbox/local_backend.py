"""Local backend: bubblewrap namespaces, a control group, rlimits and a seccomp allowlist.

- namespaces: new mount, PID, network (loopback down: no network at all), IPC, UTS, cgroup;
- file system: only the Python runtime, read-only, plus /io/in (read-only), the two exchange
  files the parent created (bound one by one: the folder itself is never reachable, so nothing
  can be planted next to them) and a size-capped tmpfs; /dev/zero is /dev/null (no shared
  anonymous memory through it); the caller's home, project and secrets are simply not there;
- identity: uid 65534 when the caller is root (``setpriv``, with no capabilities and
  no_new_privs), otherwise the caller's own uid mapped to 1000 in a user namespace;
- limits: a cgroup (memory with swap, CPU quota, pids) where one is writable, and always the
  rlimits (RLIMIT_DATA, RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_NOFILE) with affinity
  pinned to one core (the allowlist refuses changing it) as the second layer;
- cleanup: on any end, every process of the cgroup is killed; the PID namespace dies with its
  init, taking every process the code started with it.
"""

import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sandbox import cgroups, seccomp_policy
from sandbox.exchange import OUTPUT, STATUS
from sandbox.limits import Limits
from sandbox.run_result import RunResult

NOBODY = 65534
SANDBOX_UID = NOBODY  # who owns the exchange files when we are root


def available() -> str | None:
    """None when usable, else the reason it is not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is needed to drop root inside the sandbox"
    return None


def _python_roots() -> list[Path]:
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(roots)


def _bind_with_parents(path: Path, args: list[str]) -> None:
    parts = path.parts
    for i in range(2, len(parts)):
        parent = str(Path(*parts[:i]))
        if parent != "/tmp":  # the scratch tmpfs keeps its own (sticky, world-writable) mode
            args += ["--perms", "0755", "--dir", parent]
    args += ["--ro-bind", str(path), str(path)]


def _user_process_count(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def command(limits: Limits, indir: Path, outdir: Path) -> list[str]:
    args = [
        "bwrap",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    root = os.geteuid() == 0
    if not root:
        args += ["--unshare-user", "--uid", "1000", "--gid", "1000"]
    for top in ("/usr",):
        args += ["--ro-bind", top, top]
    for link in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        p = Path(link)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), link]
        elif p.is_dir():
            args += ["--ro-bind", link, link]
    # The scratch tmpfs first: a Python that lives under /tmp (a CI checkout, say) is bound on
    # top of it afterwards, instead of being hidden by it.
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--ro-bind",
        "/dev/null",
        "/dev/zero",
        "--perms",
        "1777",
        "--size",
        str(limits.tmpfs_mb * 1024 * 1024),
        "--tmpfs",
        "/tmp",
    ]
    for r in _python_roots():
        _bind_with_parents(r, args)
    args += [
        "--perms",
        "0755",
        "--dir",
        "/io",
        "--ro-bind",
        str(indir),
        "/io/in",
        "--perms",
        "0755",
        "--dir",
        "/io/out",
        "--bind",
        str(outdir / OUTPUT),
        f"/io/out/{OUTPUT}",
        "--bind",
        str(outdir / STATUS),
        f"/io/out/{STATUS}",
        "--chdir",
        "/tmp",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "OPENBLAS_NUM_THREADS",
        "1",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
        # jemalloc reserves address space up front; under RLIMIT_AS use the system pool.
        "--setenv",
        "ARROW_DEFAULT_MEMORY_POOL",
        "system",
        "--setenv",
        "MALLOC_ARENA_MAX",
        "2",
    ]
    if root:
        args += [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]
    args += [str(Path(sys.executable)), "-I", "/io/in/child.py"]
    return args


def preexec(limits: Limits, group: cgroups.RunGroup | None) -> Callable[[], None]:
    uid = NOBODY if os.geteuid() == 0 else os.getuid()
    # RLIMIT_NPROC counts all processes of the (real) user: leave room for what already runs.
    # Where the run's cgroup holds it to max_processes exactly (pids.max), the rlimit is a
    # backstop: twice the cap, so that a run started beside another is not starved by it.
    nproc = limits.max_processes * (2 if group is not None else 1) + _user_process_count(uid)
    memory = limits.memory_mb * 1024 * 1024
    cpu_s = max(1, int(limits.timeout_s) + 1)
    fsize = limits.max_output_bytes

    def _apply() -> None:
        if group is not None:
            group.join()  # before anything else: every descendant inherits the group
        # RLIMIT_DATA counts what the code can actually fill (heap and private mappings), not
        # address space reserved by allocators, so 512 MB means 512 MB of data.
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        nofile = limits.max_open_files
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except (AttributeError, OSError):
            pass

    return _apply


def run(limits: Limits, indir: Path, outdir: Path) -> RunResult:
    """Run the child; the cgroup is created first and torn down (every process killed) after."""
    args = command(limits, indir, outdir)
    bpf = seccomp_policy.bpf_fd()
    layers = ["rlimits"]
    if bpf is not None:
        args = [args[0], "--seccomp", str(bpf), *args[1:]]
        layers.append("seccomp allowlist")
    group, why = cgroups.create(limits)
    layers.insert(0, why if group is not None else f"no cgroup: {why}")
    try:
        status, log, timed_out = _run(args, limits, () if bpf is None else (bpf,), group)
        if group is None:
            return RunResult(status, log, timed_out, tuple(layers))
        group.kill_all()
        return RunResult(
            status,
            log,
            timed_out,
            tuple(layers),
            oom_killed=group.oom_killed(),
            pids_refused=group.pids_refused(),
            peak_memory=group.peak_memory(),
        )
    finally:
        if bpf is not None:
            os.close(bpf)
        if group is not None:
            group.remove()


def _run(
    args: list[str], limits: Limits, fds: tuple[int, ...], group: cgroups.RunGroup | None
) -> tuple[int | None, bytes, bool]:
    proc = subprocess.Popen(
        args,
        pass_fds=fds,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec(limits, group),
        start_new_session=True,
    )

    def stop() -> None:
        if group is not None:
            group.kill_all()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + limits.timeout_s
        log, ended = _drain(proc.stdout, deadline, limits.max_log_bytes)
        try:  # output closed is not the end: the child may still run without it
            if ended:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            ended = False
        if not ended:
            stop()
            proc.wait()
        return (proc.returncode if ended else None), log, not ended
    finally:
        if proc.poll() is None:
            stop()
            proc.wait()


def _drain(pipe: IO[bytes], deadline: float, cap: int) -> tuple[bytes, bool]:
    """Read the child's output until it closes or the deadline passes, keeping the last ``cap``
    bytes (a child printing gigabytes costs us ``cap``, not gigabytes); (log, closed in time)."""
    kept = bytearray()
    fd = pipe.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return bytes(kept), False
            chunk = os.read(fd, 65536)
            if not chunk:
                return bytes(kept), True
            kept += chunk
            if len(kept) > 2 * cap:
                del kept[:-cap]
