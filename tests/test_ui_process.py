"""`dbmigrate ui` stops everything it started, whichever way it is stopped."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from agents.project import Project
from agents.workflow import plan_project
from demo.legacy_db import install_legacy, install_target
from tests.conftest import start_ui


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: the UI's children start their own)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "dbmigrate ui exited early"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_ui_stops_every_process_it_started_and_exits_0(how: int, make_db, tmp_path: Path) -> None:
    src, tgt = make_db("ui_src"), make_db("ui_tgt")
    install_legacy(src)
    install_target(tgt)
    project = Project.create(tmp_path / "ui", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    port = 31000 + os.getpid() % 1000 + how
    proc = start_ui(
        project.root,
        port,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_up(f"http://127.0.0.1:{port}/server_info", proc)
        started = _descendants(proc.pid)
        assert len(started) >= 2  # dg dev, its webserver and daemon (and their code servers)
        t0 = time.monotonic()
        proc.send_signal(how)
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    assert "Aborted!" not in text
    assert took < 30, f"stopping took {took:.1f}s"
    alive = {p for p in started if Path(f"/proc/{p}").exists()}
    assert not alive, f"still running after the UI stopped: {sorted(alive)}"
