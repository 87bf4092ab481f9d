"""The corpus, end to end: every public database into its arm's-length redesign.

Per database: load the legacy dump into a real PostgreSQL, create the redesigned target from
``tests/corpus/<db>/target.sql``, ``dbmigrate plan``, then ``dbmigrate run --yes`` (the agents'
proposals, offline, no review), and measure what a reviewer would: did plan and run finish,
does every table account for every legacy row, how many of the product's own checks pass, and
how many of the redesign's value checks (``checks.yaml``, written without the matching code)
hold. The redesigns were written from the legacy schemas alone, so the figures measure the
product, not its authors' cases.

    .venv/bin/python bench/corpus.py [db ...]

Its last line is ``corpus: N cases, plan ok P, run ok R, value checks right X/Y``.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resources.embedded_postgres import start  # noqa: E402
from tests.corpus_db import CORPUS, legacy_sql, load_dump, run_checks  # noqa: E402


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migration_assets.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def main(names: list[str]) -> None:
    dbs = names or sorted(p.name for p in CORPUS.iterdir() if (p / "truth.yaml").exists())
    base = Path(tempfile.mkdtemp(prefix="dbm-corpus-"))
    server = start(base / "data")
    plan_ok = run_ok = right = total = 0
    try:
        for db in dbs:
            dump = legacy_sql(db)
            if dump is None:
                print(f"{db}: skipped, {db}'s dump is not in ../shared/datasets")
                continue
            t0 = time.monotonic()
            src = server.create_database(f"{db}_legacy")
            tgt = server.create_database(f"{db}_target")
            load_dump(src, dump)
            import psycopg

            with psycopg.connect(tgt, autocommit=True) as conn:
                conn.execute((CORPUS / db / "target.sql").read_text())
            project = base / db
            planned = _cli("plan", "--source", src, "--target", tgt, "--project", str(project))
            if planned.returncode != 0:
                tail = (planned.stdout + planned.stderr).strip().splitlines()[-1:]
                print(f"{db}: plan failed: {' '.join(tail)[:300]}")
                continue
            plan_ok += 1
            ran = _cli("run", "--project", str(project), "--yes")
            run_ok += ran.returncode == 0
            report_path = project / "report.json"
            tables = json.loads(report_path.read_text())["tables"] if report_path.exists() else []
            accounted = sum(
                t["rows_source"] == t["rows_migrated"] + t["rows_rejected"] for t in tables
            )
            own = [c for t in tables for c in t["checks"]]
            results = run_checks(db, src, tgt)
            ok = sum(r.passed for r in results)
            right += ok
            total += len(results)
            print(
                f"{db}: run {'ok' if ran.returncode == 0 else 'failed'}; "
                f"{accounted}/{len(tables)} tables account for every row; "
                f"product checks {sum(c['passed'] for c in own)}/{len(own)}; "
                f"value checks {ok}/{len(results)} ({time.monotonic() - t0:.0f}s)"
            )
            for r in results:
                if not r.passed:
                    print(f"    - {r.name}: {r.detail[:160]}")
    finally:
        server.stop()
    print(
        f"corpus: {len(dbs)} cases, plan ok {plan_ok}, run ok {run_ok}, "
        f"value checks right {right}/{total}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
