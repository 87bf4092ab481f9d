"""The sandbox tests run on one worker of the suite, one after another.

A sandboxed run's process cap is enforced twice: by its own cgroup, and by ``RLIMIT_NPROC``,
which counts every process of the sandbox user (uid 65534) on the machine. A fork bomb on
one xdist worker would use up that user's budget for a run on the other worker, which then
fails with "more than 32 processes" for processes it never started. Grouping them
(``--dist loadgroup``) keeps each test's measure its own.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("sandbox"))
