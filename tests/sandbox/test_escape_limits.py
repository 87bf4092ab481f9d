"""Escape suite, resources: disk through the output folder, CPU through affinity resets and
short-lived relays, memory through shared mappings, memfd and tmpfs, and a tree that outlives
the wall clock. Each attack is first run plain (the detector shows its effect), then sandboxed.
Assertions that only a control group can make skip, with the reason, where none is writable."""

import os
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from sandbox import Limits, SandboxError, cgroups, run_transform
from sandbox.local_backend import available
from tests.sandbox.plain import ROOT, run_plain

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FRAME = pd.DataFrame({"id": [1, 2, 3]})
MB = 1024 * 1024


def _cgroup_reason() -> str | None:
    group, why = cgroups.create(Limits())
    if group is None:
        return why
    group.remove()
    return None


needs_cgroup = pytest.mark.skipif(
    _cgroup_reason() is not None, reason=f"cgroup-only assertion: {_cgroup_reason()}"
)

DISK = ROOT + (
    "import os\ndef transform(df):\n    written = 0\n    chunk = b'x' * (4 * 1024 * 1024)\n"
    "    for i in range(8):\n"
    "        try:\n"
    "            with open(f'{ROOT}/out/extra{i}', 'wb') as fh:\n"
    "                fh.write(chunk)\n"
    "            written += len(chunk)\n"
    "        except OSError:\n            break\n"
    "    try:\n"
    "        with open(f'{ROOT}/out/output.arrow', 'ab') as fh:\n"
    "            for _ in range(8):\n"
    "                fh.write(chunk)\n                fh.flush()\n"
    "                written += len(chunk)\n"
    "    except OSError:\n        pass\n"
    "    return df.assign(written=written)\n"
)


def test_output_folder_is_capped_as_a_whole(tmp_path: Path) -> None:
    plain = run_plain(DISK, FRAME, tmp_path / "plain")
    assert plain.frame()["written"][0] == 64 * MB  # plain: 8x the cap, beside the result
    run = run_transform(DISK, FRAME, limits=Limits(max_output_bytes=8 * MB, timeout_s=30))
    assert run.frame["written"][0] <= 8 * MB  # no extra file at all; the one file stops at cap


ONE_CORE = 1.1  # cores used, on average, by a relay held to one core (with timing noise)
CPU = (
    "import os, time\ndef transform(df):\n"
    "    try:\n        os.sched_setaffinity(0, range(os.cpu_count()))\n"
    "    except OSError:\n        pass\n"
    "    start, before = time.monotonic(), os.times()\n"
    "    for _ in range(2):\n"
    "        kids = []\n"
    "        for _ in range(2):\n"
    "            pid = os.fork()\n"
    "            if pid == 0:\n"
    "                end = time.monotonic() + 1.0\n"
    "                while time.monotonic() < end:\n                    pass\n"
    "                os._exit(0)\n"
    "            kids.append(pid)\n"
    "        for pid in kids:\n            os.waitpid(pid, 0)\n"
    "    after = os.times()\n"
    "    used = (after.children_user + after.children_system) - "
    "(before.children_user + before.children_system)\n"
    "    cpus = len(os.sched_getaffinity(0))\n"
    "    return df.assign(cores=used / (time.monotonic() - start), cpus=cpus)\n"
)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to show the relay")
def test_cpu_relay_through_short_lived_processes_stays_on_one_core(tmp_path: Path) -> None:
    # plain: the reset widens the affinity and the relay uses more than one core, where the
    # sandboxed run stays under ONE_CORE. The machine is shared with other work (the suite's
    # other worker), so the best of up to five runs is the measure.
    plains = []
    for i in range(5):
        plains.append(run_plain(CPU, FRAME, tmp_path / f"plain{i}").frame())
        if plains[-1]["cores"][0] > ONE_CORE:
            break
    assert all(p["cpus"][0] == os.cpu_count() for p in plains)
    assert max(p["cores"][0] for p in plains) > ONE_CORE
    run = run_transform(CPU, FRAME, timeout_s=30)
    assert run.frame["cpus"][0] == 1 and run.frame["cores"][0] < ONE_CORE


@needs_cgroup
def test_cpu_quota_below_one_core_is_a_cgroup_limit() -> None:
    run = run_transform(CPU, FRAME, limits=Limits(cpus=0.5, timeout_s=30))
    assert run.frame["cores"][0] < 0.65
    assert run.audit.enforcement.startswith("cgroup")


SHARED = (
    "import mmap\ndef transform(df):\n    size = 300 * 1024 * 1024\n"
    "    m = mmap.mmap(-1, size)\n"
    "    for i in range(0, size, 4096):\n        m[i] = 1\n"
    "    return df.assign(touched=size)\n"
)
MEMFD = (
    "import mmap, os\ndef transform(df):\n    size = 300 * 1024 * 1024\n"
    "    fd = os.memfd_create('x')\n    os.ftruncate(fd, size)\n"
    "    m = mmap.mmap(fd, size)\n"
    "    for i in range(0, size, 4096):\n        m[i] = 1\n"
    "    return df.assign(touched=size)\n"
)


@pytest.mark.parametrize("code", [SHARED, MEMFD], ids=["shared-anonymous", "memfd"])
def test_memory_outside_rlimit_data_is_refused(tmp_path: Path, code: str) -> None:
    plain = run_plain(code, FRAME, tmp_path / "plain", data_mb=192)
    assert plain.frame()["touched"][0] == 300 * MB  # RLIMIT_DATA alone: 300 MB past 192 MB
    with pytest.raises(SandboxError) as err:
        run_transform(code, FRAME, memory_mb=192, timeout_s=30)
    assert err.value.kind in ("forbidden", "memory"), str(err.value)


TMPFS = (
    "def transform(df):\n    chunk = b'x' * (1024 * 1024)\n"
    "    with open('/tmp/fill', 'wb') as fh:\n"
    "        for _ in range(200):\n            fh.write(chunk)\n"
    "    return df\n"
)


@needs_cgroup
def test_tmpfs_pages_count_as_memory() -> None:
    """RLIMIT_DATA does not see tmpfs pages; the memory cgroup does (a tmpfs above memory)."""
    with pytest.raises(SandboxError) as err:
        run_transform(TMPFS, FRAME, limits=Limits(memory_mb=128, tmpfs_mb=256, timeout_s=30))
    assert err.value.kind == "memory"
    assert err.value.audit.enforcement.startswith("cgroup")  # type: ignore[attr-defined]


def test_audit_says_which_layer_held() -> None:
    run = run_transform("def transform(df):\n    return df", FRAME)
    assert "rlimits" in run.audit.enforcement and "limits held by" in run.audit.detail
    if _cgroup_reason() is None:
        assert run.audit.enforcement.startswith("cgroup v")
        assert 0 < run.audit.peak_memory_bytes <= 512 * MB
    else:
        assert run.audit.enforcement.startswith("no cgroup")


def test_without_a_cgroup_the_second_layer_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine where no cgroup is writable: rlimits, affinity and the allowlist."""
    monkeypatch.setenv("DBMIGRATE_SANDBOX_CGROUP", "off")
    bomb = (
        "def transform(df):\n    hog = []\n    while True:\n        hog.append(bytearray(2**26))\n"
    )
    with pytest.raises(SandboxError) as err:
        run_transform(bomb, FRAME, memory_mb=192, timeout_s=30)
    assert err.value.kind == "memory"
    assert err.value.audit.enforcement.startswith("no cgroup")  # type: ignore[attr-defined]
    for code in (SHARED, MEMFD):
        with pytest.raises(SandboxError):
            run_transform(code, FRAME, memory_mb=192, timeout_s=30)
    if len(os.sched_getaffinity(0)) >= 2:
        assert run_transform(CPU, FRAME, timeout_s=30).frame["cores"][0] < 1.1


def _tree(marker: str) -> str:
    """A transform that leaves three detached children ignoring SIGTERM, each carrying
    ``marker`` on its command line: this test's own processes, told apart from any other
    sandboxed transform running on the machine (the suite runs in parallel)."""
    return (
        "import os, signal, sys, time\ndef transform(df):\n"
        "    for _ in range(3):\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            os.execv(sys.executable, [sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"time.sleep(600)', {marker!r}])\n"
        "    time.sleep(600)\n    return df\n"
    )


def _procs_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd:
                found.append(int(pid))
    return found


def test_wall_clock_kills_the_whole_tree(tmp_path: Path) -> None:
    import subprocess

    root = tmp_path / "plain"
    plain, boxed = f"dbm-plain-{uuid.uuid4().hex}", f"dbm-boxed-{uuid.uuid4().hex}"
    with pytest.raises(subprocess.TimeoutExpired):
        run_plain(_tree(plain), FRAME, root, timeout=2)
    time.sleep(0.3)  # the children exec their marker
    survivors = _procs_with(plain)
    try:
        assert survivors  # plain: killing the child leaves its detached children running
    finally:
        for pid in survivors:
            os.kill(pid, 9)
    with pytest.raises(SandboxError) as err:
        run_transform(_tree(boxed), FRAME, timeout_s=2)
    assert err.value.kind == "timeout"
    time.sleep(0.3)
    assert _procs_with(boxed) == []
