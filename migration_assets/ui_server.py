"""``dbmigrate ui``: Dagster's ``dg dev`` on a project, and nothing left running after it.

``dg dev`` starts a webserver, a daemon and code servers as its own children; killed alone, it
leaves them behind. So it runs in a process group of its own, and SIGTERM or Ctrl-C stops the
whole group (politely, then for good after a grace period), then the embedded PostgreSQL this
command started, and exits 0: stopping the UI is how one uses it, not an error.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

GRACE_SECONDS = 10.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to the whole group, SIGKILL to whatever still runs after ``grace`` seconds."""
    pgid = proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not _group_alive(pgid):
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(pgid):
            try:
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            if proc.poll() is not None and not _group_alive(pgid):
                break
    if proc.poll() is None:
        proc.wait(timeout=5)


def serve(cmd: list[str], *, env: dict[str, str], cwd: Path, on_stop: Callable[[], None]) -> int:
    """Run ``cmd`` in its own process group until it ends or this process is told to stop;
    returns the exit status for the caller: 0 when stopped on purpose."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True)
    stopping = {"asked": False}

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stopping["asked"] = True

    previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while proc.poll() is None and not stopping["asked"]:
            time.sleep(0.2)
    finally:
        stop_group(proc)
        on_stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0 if stopping["asked"] else int(proc.returncode or 0)
