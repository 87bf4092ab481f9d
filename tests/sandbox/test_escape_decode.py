"""Escape suite, the result: files that would make the parent decode gigabytes, or raise raw
pyarrow/pandas errors the callers do not catch. Each crafted file is first shown to do that
when decoded naively (the detector), then shown to end as a SandboxError from the sandbox."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from sandbox import Limits, SandboxError, run_transform
from sandbox.local_backend import available
from tests.sandbox.plain import ROOT, run_plain

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FRAME = pd.DataFrame({"id": [1, 2, 3]})


def crafted(table: str, compression: str | None = None) -> str:
    """A transform that, after the child wrote the honest result, writes ``table`` instead."""
    return ROOT + (
        "import atexit, json\nimport pyarrow as pa, pyarrow.ipc as ipc\n"
        "def _craft():\n"
        f"    table = {table}\n"
        f"    opts = ipc.IpcWriteOptions(compression={compression!r})\n"
        "    with ipc.new_file(f'{ROOT}/out/output.arrow', table.schema, options=opts) as w:\n"
        "        w.write_table(table)\n"
        "    with open(f'{ROOT}/out/status.json', 'w') as fh:\n"
        "        json.dump({'ok': True, 'rows': table.num_rows}, fh)\n"
        "atexit.register(_craft)\n"
        "def transform(df):\n    return df\n"
    )


def naive_decode_growth_mb(path: Path, expr: str) -> float:
    """How much a process grows decoding ``path`` the pre-hardening way (measured apart)."""
    script = (  # resident pages now (ru_maxrss would carry over the forking parent's peak)
        "import os, pyarrow as pa, pyarrow.ipc as ipc\n"
        "page = os.sysconf('SC_PAGESIZE')\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * page\n"
        "before = rss()\n"
        f"t = ipc.open_file({str(path)!r}).read_all()\n"
        f"kept = {expr}\n"
        "print((rss() - before) / 2**20)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.split()[-1])


BOMBS = {
    # 1M rows x 40 null columns: a few KB on disk, 320 MB of object arrays in pandas.
    "rows": ("pa.table({f'c{i}': pa.nulls(1_000_000) for i in range(40)})", None, "t.to_pandas()"),
    # 8M zeros, zstd: a few KB that decompress to 64 MB (and could be 10M x 512 columns).
    "compressed": (
        "pa.table({'x': pa.nulls(8_000_000, pa.int64()).fill_null(0)})",
        "zstd",
        "t.combine_chunks()",
    ),
    # one 1 MB string, 300 references: 1 MB on disk, 300 MB once decoded.
    "dictionary": (
        "pa.table({'x': pa.DictionaryArray.from_arrays(pa.array([0] * 300, pa.int32()), "
        "pa.array(['y' * 1_000_000]))})",
        None,
        "t.column(0).cast(pa.string())",
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_decoding_bombs_are_refused_from_metadata(tmp_path: Path, name: str) -> None:
    table, compression, expr = BOMBS[name]
    code = crafted(table, compression)
    plain = run_plain(code, FRAME, tmp_path / "plain")
    size = (plain.out / "output.arrow").stat().st_size
    assert size < 2 * 1024 * 1024
    assert naive_decode_growth_mb(plain.out / "output.arrow", expr) > 60  # >30x the file
    limits = Limits(timeout_s=30, max_decoded_mb=48)
    with pytest.raises(SandboxError) as err:
        run_transform(code, FRAME, limits=limits, same_row_count=False)
    assert err.value.kind in ("output_size", "result_type"), str(err.value)


RAW_ERRORS = {
    "union": "pa.table({'u': pa.UnionArray.from_sparse(pa.array([0, 1, 0], pa.int8()), "
    "[pa.array([1, 2, 3]), pa.array(['a', 'b', 'c'])])})",
    "time zone": "pa.table({'t': pa.array([0, 1, 2], pa.timestamp('s', tz='Mars/Olympus'))})",
    "date range": "pa.table({'d': pa.array([10**8, 0, 1], pa.date32())})",
    "pandas metadata": "pa.table({'x': [1, 2, 3]}).replace_schema_metadata("
    '{b\'pandas\': b\'{"columns": [{"name": "x", "pandas_type": "nonsense", '
    '"numpy_type": "nope", "metadata": 7}], "index_columns": ["x"]}\'})',
}


@pytest.mark.parametrize("name", sorted(RAW_ERRORS))
def test_undecodable_results_are_sandbox_errors(tmp_path: Path, name: str) -> None:
    code = crafted(RAW_ERRORS[name])
    plain = run_plain(code, FRAME, tmp_path / "plain")
    with pytest.raises(Exception) as naive:  # the detector: a raw error the callers miss
        with ipc.open_file(str(plain.out / "output.arrow")) as reader:
            reader.read_all().to_pandas()
    assert not isinstance(naive.value, SandboxError)
    with pytest.raises(SandboxError) as err:
        run_transform(code, FRAME, timeout_s=20)
    assert err.value.kind == "result_type", str(err.value)


def test_types_outside_the_allowlist_are_refused() -> None:
    """An extension type decodes fine naively, but carries semantics no rule asked for."""
    with pytest.raises(SandboxError, match="not accepted") as err:
        run_transform(crafted("pa.table({'j': pa.array(['{}', '[]', '1'], pa.json_())})"), FRAME)
    assert err.value.kind == "result_type"


def test_honest_categorical_and_nested_results() -> None:
    """A categorical is written as plain values; nested columns need the rule to ask for them."""
    out = run_transform(
        "import pandas as pd\ndef transform(df):\n"
        "    return df.assign(c=pd.Categorical(['x', 'y', 'x']))",
        FRAME,
    )
    assert out.frame["c"].tolist() == ["x", "y", "x"]
    code = "def transform(df):\n    return df.assign(l=[[1], [2, 3], []])"
    with pytest.raises(SandboxError, match="nested"):
        run_transform(code, FRAME)
    assert run_transform(code, FRAME, allow_nested=True).frame["l"].map(len).tolist() == [1, 2, 0]


def test_known_time_zones_and_wide_types_still_pass() -> None:
    out = run_transform(
        "import pandas as pd, decimal, datetime\ndef transform(df):\n"
        "    return df.assign(t=pd.Timestamp('2024-01-01', tz='Europe/Paris'), "
        "d=datetime.date(2024, 1, 2), m=decimal.Decimal('1.5'), b=b'x', f=1.5, ok=True)",
        FRAME,
    )
    assert str(out.frame["t"].dt.tz) == "Europe/Paris" and out.frame["d"][0].day == 2
    assert pa.Table.from_pandas(out.frame).num_rows == 3
