"""Hostile transforms, every one contained: a real bubblewrap sandbox, real processes.

The suite goes on in test_escape_exchange.py (the parent trusts nothing it did not create),
test_escape_decode.py (results decoded under a budget), test_escape_limits.py (memory, CPU,
disk, processes, wall clock) and test_escape_syscalls.py (the seccomp allowlist); there each
attack is also run unsandboxed, so its detector is shown to fire.
"""

import os
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from sandbox import Limits, SandboxError, execute_transform, run_transform
from sandbox.local_backend import available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FRAME = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None]})


def hostile(code: str, **kw: object) -> SandboxError:
    kw.setdefault("timeout_s", 5)
    with pytest.raises(SandboxError) as err:
        execute_transform(code, FRAME, **kw)  # type: ignore[arg-type]
    return err.value


def test_loopback_network_is_unreachable() -> None:
    err = hostile(
        "import socket\ndef transform(df):\n"
        "    socket.create_connection(('127.0.0.1', 5432), timeout=1)\n    return df"
    )
    assert err.kind == "forbidden"


def test_outside_network_is_unreachable() -> None:
    err = hostile(
        "import socket\ndef transform(df):\n"
        "    socket.create_connection(('1.1.1.1', 443), timeout=1)\n    return df"
    )
    assert err.kind == "forbidden" and "unreachable" in str(err).lower()


def test_dns_does_not_resolve() -> None:
    err = hostile(
        "import socket\ndef transform(df):\n"
        "    socket.getaddrinfo('example.com', 80)\n    return df"
    )
    assert err.kind in ("exception", "forbidden") and "gaierror" in str(err)


def test_writes_outside_scratch_are_refused() -> None:
    for path in ("/usr/evil", "/io/in/transform.py", "/etc/passwd", "/evil"):
        err = hostile(f"def transform(df):\n    open({path!r}, 'w').write('x')\n    return df")
        assert err.kind in ("forbidden", "exception"), path
        assert any(s in str(err) for s in ("Read-only", "Permission", "No such")), str(err)


def test_scratch_tmpfs_is_small() -> None:
    err = hostile(
        "def transform(df):\n    f = open('/tmp/big', 'wb')\n"
        "    for _ in range(200):\n        f.write(b'x' * 1024 * 1024)\n    return df"
    )
    assert "No space left" in str(err) or err.kind == "output_size"


def test_caller_environment_is_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBMIGRATE_TARGET_DSN", "postgresql://app:TopSecret@db/x")
    out = execute_transform(
        "import os\ndef transform(df):\n    env = ';'.join(f'{k}={v}' for k, v in "
        "os.environ.items())\n    return df.assign(env=env)",
        FRAME,
    )
    assert "TopSecret" not in out["env"][0]
    assert "DBMIGRATE" not in out["env"][0]


def test_proc_shows_only_the_sandbox() -> None:
    out = execute_transform(
        "import os\ndef transform(df):\n    pids = [p for p in os.listdir('/proc') if p.isdigit()]"
        "\n    try:\n        init = open('/proc/1/environ').read()\n    except OSError as e:\n"
        "        init = type(e).__name__\n    return df.assign(pids=len(pids), init=init, "
        "uid=os.getuid())",
        FRAME,
    )
    assert out["pids"][0] <= 4  # bwrap's init, the child, maybe a helper
    assert str(os.getpid()) not in out["init"][0]
    assert out["uid"][0] != 0


def test_project_files_and_secrets_are_not_mounted(tmp_path: Path) -> None:
    secret = tmp_path / ".env"
    secret.write_text("DBMIGRATE_SOURCE_DSN=postgresql://u:pw@h/db\n")
    err = hostile(f"def transform(df):\n    open({str(secret)!r}).read()\n    return df")
    assert "No such file" in str(err)
    err = hostile("def transform(df):\n    open('/root/.bashrc').read()\n    return df")
    assert "No such file" in str(err) or "Permission" in str(err)


def test_cannot_become_root() -> None:
    err = hostile("import os\ndef transform(df):\n    os.setuid(0)\n    return df")
    assert "PermissionError" in str(err) or "Operation not permitted" in str(err)


def test_fork_bomb_hits_the_process_cap() -> None:
    err = hostile(
        "import os, time\ndef transform(df):\n    kids = []\n    for _ in range(500):\n"
        "        pid = os.fork()\n        if pid == 0:\n            time.sleep(30)\n"
        "            os._exit(0)\n        kids.append(pid)\n    return df"
    )
    assert err.kind == "forbidden" and "processes" in str(err)


def test_memory_bomb_is_stopped() -> None:
    err = hostile(
        "def transform(df):\n    hog = []\n    while True:\n"
        "        hog.append(bytearray(50 * 1024 * 1024))\n    return df",
        memory_mb=256,
    )
    assert err.kind == "memory" and "256 MB" in str(err)


def test_a_thread_refused_at_the_memory_cap_is_reported_as_memory() -> None:
    # A thread's stack that no longer fits under RLIMIT_DATA fails with EAGAIN, as a fork past
    # the process cap does: the run's peak memory tells which limit it met.
    from sandbox.api import _classify
    from sandbox.run_result import RunResult

    limits = Limits(memory_mb=256)
    said = "RuntimeError: can't start new thread: Resource temporarily unavailable"
    mb = 1024 * 1024
    near = RunResult(status=1, log=b"", timed_out=False, layers=(), peak_memory=250 * mb)
    far = RunResult(status=1, log=b"", timed_out=False, layers=(), peak_memory=20 * mb)
    assert _classify("crashed", said, near, limits)[0] == "memory"
    assert _classify("crashed", said, far, limits)[0] == "forbidden"
    refused = RunResult(status=1, log=b"", timed_out=False, layers=(), pids_refused=True)
    assert _classify("crashed", said, refused, limits)[0] == "forbidden"


def test_cpu_spin_is_stopped() -> None:
    started = time.monotonic()
    err = hostile("def transform(df):\n    while True:\n        pass", timeout_s=2)
    assert err.kind == "timeout" and time.monotonic() - started < 10


def test_sleeping_forever_is_stopped() -> None:
    err = hostile(
        "import time\ndef transform(df):\n    time.sleep(3600)\n    return df", timeout_s=2
    )
    assert err.kind == "timeout"


def test_killing_the_parent_hurts_nobody_outside() -> None:
    err = hostile(
        "import os, signal\ndef transform(df):\n    os.kill(os.getppid(), 9)\n"
        "    os.kill(-1, 9)\n    return df"
    )
    assert err.kind in ("crashed", "exception", "forbidden")
    assert os.getpid() > 0  # we are still here; so is the test runner


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmd:
                found.append(cmd)
    return found


def test_daemon_does_not_outlive_the_call() -> None:
    # The grandchild carries a marker of its own on its command line: the suite runs in
    # parallel, and other sandboxed transforms may be running.
    marker = f"dbm-daemon-{uuid.uuid4().hex}"
    out = execute_transform(
        "import os, sys\ndef transform(df):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            os.execv(sys.executable, [sys.executable, "
        f"'-c', 'import time; time.sleep(600)', {marker!r}])\n        os._exit(0)\n"
        "    return df",
        FRAME,
    )
    assert len(out) == 3
    time.sleep(0.5)
    assert _processes_with(marker) == []


def test_huge_output_is_refused() -> None:
    with pytest.raises(SandboxError) as exc:
        run_transform(
            "import pandas as pd\ndef transform(df):\n"
            "    return pd.DataFrame({'x': ['y' * 1000] * 50_000})",
            FRAME,
            limits=Limits(max_output_bytes=10 * 1024 * 1024, timeout_s=30),
            same_row_count=False,
        )
    assert exc.value.kind == "output_size"


def test_wrong_return_type_and_shape_are_refused() -> None:
    assert hostile("def transform(df):\n    return [1, 2, 3]").kind == "result_type"
    assert hostile("def transform(df):\n    return df.head(1)").kind == "row_count"
    assert (
        hostile("def transform(df):\n    return df.assign(x=[object()] * len(df))").kind
        == "result_type"
    )


def test_syntax_error_and_missing_function_are_explained() -> None:
    err = hostile("def transform(df)\n    return df")
    assert err.kind == "syntax" and "line 1" in str(err)
    assert hostile("x = 1").kind == "contract"


def test_limits_can_only_be_lowered() -> None:
    with pytest.raises(SandboxError, match="only be lowered"):
        execute_transform("def transform(df):\n    return df", FRAME, memory_mb=4096)
    with pytest.raises(SandboxError, match="only be lowered"):
        execute_transform("def transform(df):\n    return df", FRAME, timeout_s=3600)


def test_every_call_is_audited() -> None:
    code = "def transform(df):\n    return df.assign(upper=df.name.str.upper())"
    run = run_transform(code, FRAME)
    assert run.audit.outcome == "ok" and run.audit.rows_in == 3 and run.audit.rows_out == 3
    assert len(run.audit.sha256) == 64 and run.audit.code == code
    assert run.audit.limits["memory_mb"] == 512 and run.audit.backend in ("local", "docker")
    err = hostile("def transform(df):\n    raise ValueError('bad row 7')")
    assert err.audit is not None and err.audit.outcome == "exception"  # type: ignore[attr-defined]
    assert "bad row 7" in str(err)


def test_escape_syscalls_are_refused_by_seccomp() -> None:
    from sandbox.seccomp_policy import bpf_fd as seccomp_filter

    fd = seccomp_filter()
    if fd is None:
        pytest.skip("libseccomp is not available here")
    os.close(fd)
    out = execute_transform(
        "import ctypes, ctypes.util\ndef transform(df):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    results = []\n"
        "    for call in (lambda: libc.unshare(0x10000000), lambda: libc.ptrace(0, 0, 0, 0),\n"
        "                 lambda: libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)):\n"
        "        rc = call()\n"
        "        results.append(f'{rc}:{ctypes.get_errno()}')\n"
        "    return df.assign(results=';'.join(results))",
        FRAME,
        backend="local",
    )
    assert out["results"][0] == "-1:1;-1:1;-1:1"  # EPERM, every one
