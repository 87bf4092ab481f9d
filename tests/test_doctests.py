"""The examples in docstrings are specifications too: they run."""

import doctest
import importlib

import pytest

MODULES = [
    "agents.db",
    "agents.reporting",
    "agents.workflow",
    "agents.matching.assignment",
    "migration_assets.keys",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
