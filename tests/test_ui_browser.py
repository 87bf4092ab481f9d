"""The Dagster UI in a real browser: `dbmigrate ui`, the asset graph, a materialization from the
UI, and its check results. Screenshots are kept in test-artifacts/ui/."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from agents.project import Project
from agents.workflow import apply_review, plan_project
from demo.legacy_db import REVIEW_FILE, install_legacy, install_target
from migration_assets.runner import run_project
from tests.conftest import ROOT, start_ui

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dbmigrate ui exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout}s")


@pytest.fixture
def ui_project(make_db, tmp_path: Path) -> Path:
    src, tgt = make_db("ui_src"), make_db("ui_tgt")
    install_legacy(src)
    install_target(tgt)
    project = Project.create(tmp_path / "ui", source_dsn=src, target_dsn=tgt)
    plan_project(project)
    apply_review(project, REVIEW_FILE)
    assert run_project(project.root, accept_proposals=False).report.passed
    return project.root


def test_materialize_from_the_ui_and_see_checks(ui_project: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    proc = start_ui(
        ui_project,
        port,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/server_info", proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(60_000)

            # The lineage: legacy -> mapping -> target -> report, in FK order.
            page.goto(f"{base}/asset-groups")
            for group in ("legacy", "mapping", "target", "report"):
                expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=90_000)
            # The instance config turned the first-visit dialog off: nothing covers the page.
            expect(page.get_by_role("button", name="Skip")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "1-lineage-groups.png"), full_page=True)
            # The whole lineage: a legacy table and its target of the same name read apart.
            page.goto(f"{base}/assets")
            expect(page.get_by_text("legacy_brackets").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("mapping_brackets").first).to_be_visible(timeout=60_000)
            page.get_by_text("View lineage").first.click()
            page.wait_for_timeout(3000)
            page.screenshot(path=str(ARTIFACTS / "1b-lineage.png"), full_page=True)
            # The target group's own lineage: its tables, parents before children (the code
            # location's name is dg's project name, so the group is reached by its link).
            page.goto(f"{base}/locations/{_location(base)}/asset-groups/target")
            expect(page.get_by_text("technician_roles").first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "2-target-group.png"), full_page=True)

            # A mapping shows its rules with their whole rationale and its value map as tables.
            page.goto(f"{base}/assets/mapping/mapping_technician_roles")
            expect(page.get_by_text("Reviewed mapping rules").first).to_be_visible(timeout=60_000)
            page.goto(f"{base}/assets/mapping/mapping_technician_roles?view=events")
            page.get_by_text("[Show Markdown]").first.click()
            # The value map is there, readable: the reviewer's Supervisor -> master among them.
            expect(page.get_by_text("Supervisor").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("legacy value").first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "2b-mapping.png"), full_page=True)
            page.keyboard.press("Escape")

            # Materialize one target from its page.
            page.goto(f"{base}/assets/target/brackets")
            expect(page.get_by_text("Target table brackets").first).to_be_visible(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "3-asset-page.png"), full_page=True)
            instance = dg.DagsterInstance.from_config(str(ui_project / ".dagster"))
            before = {r.run_id for r in instance.get_runs()}
            # The button's accessible name carries its icon's ligature ("... Materialize").
            page.get_by_role("button", name=re.compile(r"Materialize$")).first.click()
            run = _wait_for_new_run(instance, before)
            assert run.status == dg.DagsterRunStatus.SUCCESS, run.status

            # Its checks, as the UI shows them.
            page.goto(f"{base}/assets/target/brackets?view=checks")
            expect(page.get_by_text("reconciliation").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("checksums").first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "4-checks.png"), full_page=True)
            body = page.inner_text("body")
            assert "Passed" in body or "Succeeded" in body, body[:2000]

            # The report, for the owner.
            page.goto(f"{base}/assets/migration_report")
            expect(page.get_by_text("What happened to every table").first).to_be_visible(
                timeout=60_000
            )
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "5-report.png"), full_page=True)
            browser.close()
        key = dg.AssetCheckKey(dg.AssetKey(["target", "brackets"]), "reconciliation")
        record = instance.get_latest_asset_check_evaluation_record(key)
        assert record is not None and record.run_id == run.run_id
        assert record.status.value == "SUCCEEDED"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _location(base: str) -> str:
    """The code location's name (dg names it after the project), asked of the webserver."""
    query = b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"}'
    request = urllib.request.Request(
        f"{base}/graphql", data=query, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        entries = json.load(resp)["data"]["workspaceOrError"]["locationEntries"]
    return str(entries[0]["name"])


def _wait_for_new_run(
    instance: dg.DagsterInstance, before: set[str], timeout: float = 180
) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs():
            if run.run_id not in before and run.is_finished:
                return run
        time.sleep(1)
    raise AssertionError("the run launched from the UI did not finish")
