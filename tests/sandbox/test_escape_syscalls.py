"""Escape suite, system calls: the allowlist refuses what escapes use. Each probe first runs in a
plain subprocess, where the kernel answers it (anything but EPERM: the detector), then in the
sandbox, where every one is refused before the kernel looks at it."""

import json
import platform
from pathlib import Path

import pandas as pd
import pytest

from sandbox import run_transform
from sandbox.local_backend import available
from sandbox.seccomp_policy import ALLOWED, bpf_fd, docker_profile
from tests.sandbox.plain import run_plain

pytestmark = [
    pytest.mark.skipif(available() is not None, reason=str(available())),
    pytest.mark.skipif(platform.machine() != "x86_64", reason="probe numbers are x86_64's"),
]

FRAME = pd.DataFrame({"id": [1]})
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17
# name: (syscall number, arguments); buffers are zeroed, enough for the kernel to answer.
PROBES: dict[str, tuple[int, tuple[object, ...]]] = {
    "io_uring_setup": (425, (1, "buf")),
    "clone(NEWUSER|NEWNS)": (56, (CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)),
    "unshare(NEWNS)": (272, (CLONE_NEWNS,)),
    "fsopen": (430, (b"tmpfs", 0)),
    "open_tree": (428, (-100, b"/", 1)),
    "mount": (165, (b"none", b"/nonexistent-dbm-probe", b"tmpfs", 0, 0)),  # ENOENT outside
    "userfaultfd": (323, (0,)),
    "bpf": (321, (0, "buf", 72)),
    "ptrace(PEEKDATA)": (101, (2, 1, 0, 0)),  # ESRCH outside: init is not our tracee
    "perf_event_open": (298, ("buf", 0, -1, -1, 0)),
    "sched_setaffinity": (203, (0, 8, "mask")),
    "keyctl": (250, (0, -3, 0)),
    "add_key": (248, (b"user", b"k", b"v", 1, -3)),
    "memfd_create": (319, (b"x", 0)),
    "process_vm_readv": (310, (1, 0, 0, 0, 0, 0)),
}

PROBE = (
    "import ctypes, json, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    f"PROBES = {PROBES!r}\n"
    "def call(nr, args):\n"
    "    buf = ctypes.create_string_buffer(256)\n"
    "    mask = ctypes.c_uint64(0xFF)\n"
    "    real = [buf if a == 'buf' else mask if a == 'mask' else a for a in args]\n"
    "    real = [ctypes.c_long(a) if isinstance(a, int) else a for a in real]\n"
    "    rc = libc.syscall(ctypes.c_long(nr), *real)\n"
    "    if rc == 0 and nr == 56:\n        os._exit(0)  # a clone child: leave at once\n"
    "    return 0 if rc >= 0 else ctypes.get_errno()\n"
    "def transform(df):\n"
    "    return df.assign(errnos=json.dumps({k: call(*v) for k, v in PROBES.items()}))\n"
)


def test_escape_syscalls_reach_the_kernel_only_outside(tmp_path: Path) -> None:
    plain = json.loads(run_plain(PROBE, FRAME, tmp_path / "plain").frame()["errnos"][0])
    refused_plain = sorted(k for k, e in plain.items() if e == 1)
    assert refused_plain == [], f"the kernel itself refused {refused_plain}: the probe is moot"
    boxed = json.loads(run_transform(PROBE, FRAME, timeout_s=30).frame["errnos"][0])
    assert boxed == dict.fromkeys(PROBES, 1)  # EPERM, every one, from the filter


def test_clone3_answers_enosys_so_threads_still_start() -> None:
    code = (
        "import ctypes, threading\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "def transform(df):\n"
        "    rc = libc.syscall(435, ctypes.create_string_buffer(88), 88)\n"
        "    t = threading.Thread(target=lambda: None)\n    t.start()\n    t.join()\n"
        "    return df.assign(clone3=ctypes.get_errno() if rc < 0 else 0)\n"
    )
    assert run_transform(code, FRAME).frame["clone3"][0] == 38  # ENOSYS


def test_filter_is_an_allowlist_and_docker_gets_the_same() -> None:
    fd = bpf_fd()
    if fd is None:
        pytest.skip("libseccomp is not available here")
    import os

    os.close(fd)
    profile = docker_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert set(profile["syscalls"][0]["names"]) == set(ALLOWED)
    for name in ("unshare", "setns", "mount", "io_uring_setup", "bpf", "ptrace", "keyctl"):
        assert name not in ALLOWED
