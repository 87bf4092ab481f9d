"""Run an attack the way the sandbox would, minus the sandbox: the detectors' control group.

``run_plain`` lays out the same exchange folder (input, the two pre-created result files), runs
``sandbox/child.py`` in an ordinary subprocess with the exchange root as its argument, and
optionally applies the rlimits alone (the pre-hardening memory layer). An attack whose effect
does not show here proves nothing about the sandbox, so every escape test checks both.
"""

import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

CHILD = Path(__file__).resolve().parents[2] / "sandbox" / "child.py"
# Exchange paths for attack code: the sandbox's /io, or the plain run's folder.
ROOT = "import sys\nROOT = sys.argv[1] if len(sys.argv) > 1 else '/io'\n"


@dataclass
class PlainRun:
    root: Path
    returncode: int
    output: str

    @property
    def out(self) -> Path:
        return self.root / "out"

    def frame(self) -> pd.DataFrame:
        with ipc.open_file(str(self.out / "output.arrow")) as reader:
            return reader.read_all().to_pandas()


def run_plain(
    code: str, frame: pd.DataFrame, root: Path, *, data_mb: int | None = None, timeout: float = 60
) -> PlainRun:
    (root / "in").mkdir(parents=True)
    (root / "out").mkdir()
    (root / "in" / "transform.py").write_text(code)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with ipc.new_file(str(root / "in" / "input.arrow"), table.schema) as writer:
        writer.write_table(table)
    for name in ("output.arrow", "status.json"):
        (root / "out" / name).touch()

    def limit() -> None:
        if data_mb is not None:
            cap = data_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    proc = subprocess.run(
        [sys.executable, "-I", str(CHILD), str(root)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
    )
    return PlainRun(root, proc.returncode, proc.stdout + proc.stderr)
