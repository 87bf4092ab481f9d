"""The Docker backend: its container spec always; a real container only where an engine answers."""

from pathlib import Path

import pandas as pd
import pytest

from sandbox import Limits, execute_transform
from sandbox.docker_backend import available, container_spec


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
