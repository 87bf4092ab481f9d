"""A control group per sandbox run: memory (swap included), CPU quota and process count.

rlimits are per process and count only some memory (RLIMIT_DATA ignores shared mappings, memfd
and tmpfs pages); a control group counts every page and every process of the whole tree, and
survives the child resetting its own affinity or relaying work through short-lived processes.
cgroup v1 (separate memory, cpu and pids hierarchies) is used where it is mounted, else v2 where
this process may delegate those controllers; where neither can be written ``create`` returns
None with the reason, and the rlimits are the only layer (recorded in the audit).
"""

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.limits import Limits

PREFIX = "dbm-sandbox-"
_CONTROLLERS = ("memory", "cpu", "pids")
_PERIOD_US = 100_000


@dataclass
class RunGroup:
    """The directories of one run's group (v1: one per controller; v2: one)."""

    version: int
    dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"cgroup v{self.version} (memory, cpu, pids)"

    def join(self) -> None:
        """Move the calling process in (called in the child between fork and exec)."""
        pid = str(os.getpid())
        for path in dict.fromkeys(self.dirs.values()):
            (path / "cgroup.procs").write_text(pid)

    def kill_all(self) -> None:
        """SIGKILL every process in the group until none is left (forks race, so loop)."""
        procs = self.dirs["pids"] / "cgroup.procs"
        for _ in range(100):
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def counter(self, controller: str, v1_file: str, v2_file: str, key: str) -> int:
        """A named counter (``oom_kill``, ``max``, ...) from the controller's events file."""
        name = v1_file if self.version == 1 else v2_file
        try:
            text = (self.dirs[controller] / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
        return 0

    def oom_killed(self) -> bool:
        return self.counter("memory", "memory.oom_control", "memory.events", "oom_kill") > 0

    def pids_refused(self) -> bool:
        return self.counter("pids", "pids.events", "pids.events", "max") > 0

    def peak_memory(self) -> int:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.dirs["memory"] / name).read_text())
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        self.kill_all()
        for path in dict.fromkeys(self.dirs.values()):
            _rmdir(path)


def _rmdir(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount point, root inside the hierarchy, fstype, super options) of cgroup mounts."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under key "" the v2 path."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            paths[name] = path
    return paths


def _under(mount: str, root: str, path: str) -> Path:
    rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
    return Path(mount) / ("" if rel == "." else rel)


def _v1_parents() -> dict[str, Path] | None:
    own = _own_paths()
    parents: dict[str, Path] = {}
    for mount, root, fstype, opts in _mounts():
        for c in _CONTROLLERS:
            if fstype == "cgroup" and c in opts and c in own and c not in parents:
                parents[c] = _under(mount, root, own[c])
    return parents if set(parents) == set(_CONTROLLERS) else None


def _v2_parent() -> Path | None:
    own = _own_paths()
    for mount, root, fstype, _ in _mounts():
        if fstype == "cgroup2" and "" in own:
            parent = _under(mount, root, own[""])
            try:
                available = set((parent / "cgroup.controllers").read_text().split())
            except OSError:
                continue
            if set(_CONTROLLERS) <= available:
                return parent
    return None


def _write(path: Path, value: object) -> None:
    path.write_text(str(value))


def _limit_v1(group: RunGroup, limits: Limits) -> None:
    memory = limits.memory_mb * 1024 * 1024
    mem = group.dirs["memory"]
    _write(mem / "memory.limit_in_bytes", memory)
    if (mem / "memory.memsw.limit_in_bytes").exists():
        _write(mem / "memory.memsw.limit_in_bytes", memory)  # no way around the cap via swap
    _write(group.dirs["cpu"] / "cpu.cfs_period_us", _PERIOD_US)
    _write(group.dirs["cpu"] / "cpu.cfs_quota_us", max(1000, int(limits.cpus * _PERIOD_US)))
    _write(group.dirs["pids"] / "pids.max", limits.max_processes)


def _limit_v2(group: RunGroup, limits: Limits) -> None:
    path = group.dirs["memory"]
    _write(path / "memory.max", limits.memory_mb * 1024 * 1024)
    if (path / "memory.swap.max").exists():
        _write(path / "memory.swap.max", 0)
    _write(path / "cpu.max", f"{max(1000, int(limits.cpus * _PERIOD_US))} {_PERIOD_US}")
    _write(path / "pids.max", limits.max_processes)


def create(limits: Limits) -> tuple[RunGroup | None, str]:
    """A limited group for one run, or (None, why not).

    ``DBMIGRATE_SANDBOX_CGROUP=off`` turns the layer off (to run, and test, the rlimit layer
    alone as on a machine without a writable cgroup).
    """
    if os.environ.get("DBMIGRATE_SANDBOX_CGROUP") == "off":
        return None, "turned off by DBMIGRATE_SANDBOX_CGROUP=off"
    name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    v1 = _v1_parents()
    v2 = None if v1 else _v2_parent()
    if v1 is None and v2 is None:
        return None, "no writable cgroup with memory, cpu and pids controllers"
    group = RunGroup(1) if v1 else RunGroup(2)
    try:
        if v1:
            for c, parent in v1.items():
                _sweep(parent)
                group.dirs[c] = parent / name
                group.dirs[c].mkdir()
            _limit_v1(group, limits)
        else:
            assert v2 is not None
            _sweep(v2)
            path = v2 / name
            path.mkdir()
            group.dirs = dict.fromkeys(_CONTROLLERS, path)
            _limit_v2(group, limits)
    except OSError as exc:
        group.remove()
        return None, f"cgroups are not writable here ({exc.strerror or exc})"
    return group, group.label


def _sweep(parent: Path) -> None:
    """Remove groups left behind by sandbox parents that died (empty ones only)."""
    try:
        entries = [p for p in parent.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return
    for entry in entries:
        owner = entry.name[len(PREFIX) :].split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                entry.rmdir()
            except OSError:
                pass
