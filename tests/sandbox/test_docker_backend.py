"""The Docker backend: its container spec always; a real container only where an engine answers.

There is no Docker engine on the development machines, so the real-container test skips with
the reason; the spec is checked for the same layers as the local backend.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from sandbox import Limits, execute_transform
from sandbox.docker_backend import available, container_spec
from sandbox.seccomp_policy import docker_profile


def test_container_spec_carries_the_seed_limits(tmp_path: Path) -> None:
    spec = container_spec(Limits(), tmp_path / "in", tmp_path / "out", image="img:1")
    assert spec["mem_limit"] == "512m" and spec["memswap_limit"] == "512m"
    assert spec["nano_cpus"] == 1_000_000_000
    assert spec["user"] == "1000:1000"
    assert spec["read_only"] is True and spec["network_mode"] == "none"
    assert spec["tmpfs"] == {"/tmp": "size=64m,mode=1777"}
    assert spec["cap_drop"] == ["ALL"] and "no-new-privileges" in spec["security_opt"]
    assert spec["pids_limit"] == 32 and spec["image"] == "img:1"
    assert spec["volumes"][str(tmp_path / "in")]["mode"] == "ro"
    assert "DBMIGRATE_SOURCE_DSN" not in spec["environment"]


def test_container_gets_the_exchange_files_not_the_folder(tmp_path: Path) -> None:
    """As locally: only the two files the parent created are bound, so nothing can be planted."""
    out = tmp_path / "out"
    spec = container_spec(Limits(), tmp_path / "in", out)
    assert str(out) not in spec["volumes"]
    assert {v["bind"] for k, v in spec["volumes"].items() if k.startswith(str(out))} == {
        "/io/out/output.arrow",
        "/io/out/status.json",
    }


def test_container_gets_the_same_allowlist_and_limits(tmp_path: Path) -> None:
    spec = container_spec(Limits(memory_mb=256, max_processes=16), tmp_path, tmp_path)
    seccomp = [o for o in spec["security_opt"] if o.startswith("seccomp=")]
    assert json.loads(seccomp[0].removeprefix("seccomp=")) == docker_profile()
    assert spec["memswap_limit"] == spec["mem_limit"] == "256m"  # no swap beyond memory
    assert spec["pids_limit"] == 16 and spec["ipc_mode"] == "none"
    assert {u["Name"] for u in spec["ulimits"]} >= {"fsize", "nofile", "cpu", "core"}


def test_lowered_limits_reach_the_container(tmp_path: Path) -> None:
    spec = container_spec(Limits(memory_mb=128, timeout_s=10), tmp_path, tmp_path)
    assert spec["mem_limit"] == "128m"


@pytest.mark.skipif(available() is not None, reason=f"Docker backend: {available()}")
def test_transform_runs_in_a_container() -> None:
    out = execute_transform(
        "def transform(df):\n    return df.assign(y=df.x * 2)",
        pd.DataFrame({"x": [1, 2]}),
        backend="docker",
    )
    assert out["y"].tolist() == [2, 4]
