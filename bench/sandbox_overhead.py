"""Sandbox overhead: the same generated transform over N rows, in-process vs sandboxed.

The transform is the demo's generated name split (a real template, not a toy). Reports both
times and their ratio, measured in the same run; target: sandboxed <= 1.5x in-process at 1M rows
(after hardening: cgroup, seccomp allowlist, output tmpfs, budgeted decoding).

    python bench/sandbox_overhead.py [--rows 1000000] [--repeat 3]
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from agents.code_templates import name_split_code
from sandbox import run_transform


def frame(rows: int) -> pd.DataFrame:
    rng = random.Random(7)
    first = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Goran", "Hana"]
    last = ["Silva", "Okafor", "Nguyen", "Kowalski", "Haddad", "Jensen"]
    names = [
        f"{rng.choice(last)}, {rng.choice(first)}"
        if i % 5
        else f"{rng.choice(first)} {rng.choice(last)}"
        for i in range(rows)
    ]
    return pd.DataFrame({"id": range(rows), "full_name": names})


def in_process(code: str, df: pd.DataFrame) -> float:
    started = time.perf_counter()
    namespace: dict[str, object] = {}
    exec(compile(code, "transform.py", "exec"), namespace)
    out = namespace["transform"](df)  # type: ignore[operator]
    assert len(out) == len(df)
    return time.perf_counter() - started


def sandboxed(code: str, df: pd.DataFrame) -> tuple[float, str, str]:
    started = time.perf_counter()
    run = run_transform(code, df, expect_columns=["first_name", "last_name"])
    assert len(run.frame) == len(df)
    return time.perf_counter() - started, run.audit.backend, run.audit.enforcement


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    df = frame(args.rows)
    code = name_split_code("full_name", "first_name", "last_name")
    base = min(in_process(code, df) for _ in range(args.repeat))
    runs = [sandboxed(code, df) for _ in range(args.repeat)]
    boxed = min(t for t, _, _ in runs)
    print(f"rows: {args.rows:,}")
    print(f"in-process: {base:.2f}s ({args.rows / base:,.0f} rows/s)")
    print(f"sandboxed ({runs[0][1]}): {boxed:.2f}s ({args.rows / boxed:,.0f} rows/s)")
    print(f"limits held by: {runs[0][2]}")
    print(f"ratio sandboxed/in-process: {boxed / base:.2f}x (target <= 1.50x)")


if __name__ == "__main__":
    main()
