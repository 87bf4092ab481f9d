"""The accuracy benchmark's promise, guarded: unseen schemas map right, or misses are flagged."""

from pathlib import Path

import pytest

from bench.accuracy import measure
from bench.accuracy_cases import CASES


@pytest.mark.parametrize("make", CASES, ids=lambda m: m.__name__)
def test_offline_mapping_is_right_or_flagged(make, pg_server, tmp_path: Path) -> None:
    result = measure(make(), pg_server, "offline", tmp_path)
    # These cases were written beside the old hand vocabulary; what must hold on them is the
    # promise itself: whatever is wrong was flagged. The honest accuracy figures come from
    # bench/corpus.py (real databases and generated redesigns).
    assert result["all_wrong_flagged"], result
    assert result["cell_accuracy"] >= 0.6, result
    assert result["column_precision"] == 1.0 and result["value_precision"] == 1.0
