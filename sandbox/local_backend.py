"""Local backend: bubblewrap namespaces plus rlimits, no daemon and no root needed.

- namespaces: new mount, PID, network (loopback down: no network at all), IPC, UTS, cgroup;
- file system: only the Python runtime, read-only, plus /io (input read-only, output writable)
  and a size-capped tmpfs; the caller's home, project and secrets are simply not there;
- identity: uid 65534 when the caller is root (``setpriv``, with no capabilities and
  no_new_privs), otherwise the caller's own uid mapped to 1000 in a user namespace;
- limits: RLIMIT_DATA (memory), RLIMIT_CPU (CPU seconds), RLIMIT_NPROC (processes), RLIMIT_FSIZE
  (output size), CPU affinity pinned to one core, a wall-clock timeout;
- cleanup: the PID namespace dies with its init, taking every process the code started with it.
"""

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sandbox.limits import Limits

NOBODY = 65534


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
        "--bind",
        str(outdir),
        "/io/out",
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


def preexec(limits: Limits) -> Callable[[], None]:
    uid = NOBODY if os.geteuid() == 0 else os.getuid()
    # RLIMIT_NPROC counts all processes of the (real) user: leave room for what already runs.
    nproc = limits.max_processes + _user_process_count(uid)
    memory = limits.memory_mb * 1024 * 1024
    cpu_s = max(1, int(limits.timeout_s) + 1)
    fsize = limits.max_output_bytes

    def _apply() -> None:
        # RLIMIT_DATA counts what the code can actually fill (heap and private mappings), not
        # address space reserved by allocators, so 512 MB means 512 MB of data.
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except (AttributeError, OSError):
            pass

    return _apply


# System calls a data transform never needs and an escape usually does (Docker's default profile
# refuses the same family). Refused with EPERM, so the code sees an ordinary error.
DENIED_SYSCALLS = (
    "ptrace",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "pivot_root",
    "chroot",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "process_vm_readv",
    "process_vm_writev",
    "open_by_handle_at",
    "name_to_handle_at",
)


def seccomp_filter() -> int | None:
    """A file descriptor holding the compiled BPF filter, or None where libseccomp is absent."""
    try:
        import pyseccomp as seccomp

        flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
        handle = tempfile.TemporaryFile()
        flt.export_bpf(handle)
    except (ImportError, OSError, RuntimeError, ValueError):
        return None
    handle.seek(0)
    fd = os.dup(handle.fileno())
    handle.close()
    return fd


def run(limits: Limits, indir: Path, outdir: Path) -> tuple[int | None, bytes, bool]:
    """(exit status or None on timeout, captured output, timed out)."""
    args = command(limits, indir, outdir)
    bpf = seccomp_filter()
    if bpf is not None:
        args = [args[0], "--seccomp", str(bpf), *args[1:]]
    try:
        return _run(args, limits, () if bpf is None else (bpf,))
    finally:
        if bpf is not None:
            os.close(bpf)


def _run(args: list[str], limits: Limits, fds: tuple[int, ...]) -> tuple[int | None, bytes, bool]:
    proc = subprocess.Popen(
        args,
        pass_fds=fds,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec(limits),
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=limits.timeout_s)
        return proc.returncode, out[: limits.max_log_bytes], False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out[: limits.max_log_bytes], True
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
