"""The corpus, end to end: every public database into its arm's-length redesign.

Per database: load the legacy dump into a real PostgreSQL, create the redesigned target from
``tests/corpus/<db>/target.sql``, ``dbmigrate plan``, then ``dbmigrate run --yes`` (the agents'
proposals, offline, no review), and measure what a reviewer would: did plan and run finish,
does every table account for every legacy row, how many of the product's own checks pass, and
how many of the redesign's value checks (``checks.yaml``, written without the matching code)
hold. The redesigns were written from the legacy schemas alone, so the figures measure the
product, not its authors' cases.

    .venv/bin/python bench/corpus.py [--review] [--keep DIR] [db ...]

``--review`` applies ``tests/corpus/<db>/review.yaml`` first (the answers and corrections a
reviewer gave; the number of corrected rules is what the agents got wrong).

Its last line is ``corpus: N cases, plan ok P, run ok R, value checks right X/Y``.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resources.embedded_postgres import start  # noqa: E402
from tests.conftest import dbmigrate  # noqa: E402
from tests.corpus_db import CORPUS, legacy_sql, load_dump, run_checks  # noqa: E402


def _norm(name: str) -> str:
    return name.replace('"', "").lower()


CALIBRATION: list[tuple[float, bool]] = []  # (rule confidence, right?) over every case


def calibration_table() -> list[str]:
    """Proposals at confidence c should be right about c of the time: per bucket, how often
    they were, and the lowest confidence a wrong proposal had (where review must start)."""
    rows = ["| confidence | rules | right | share right |", "|---|---:|---:|---:|"]
    for lo, hi in ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)):
        got = [ok for c, ok in CALIBRATION if lo <= c < hi]
        if got:
            rows.append(
                f"| {lo:.2f}-{min(hi, 1.0):.2f} | {len(got)} | {sum(got)} | "
                f"{sum(got) / len(got):.0%} |"
            )
    wrong = [c for c, ok in CALIBRATION if not ok]
    rows.append(
        f"highest confidence of a wrong rule: {max(wrong):.3f}" if wrong else "no wrong rule"
    )
    return rows


def score_mappings(db: str, project: Path) -> tuple[int, int, int, int, list[str]]:
    """Column rules and value-map entries against the truth: (columns right, columns with a
    source in the truth, values right, values in the truth, what was wrong)."""
    import yaml

    truth = yaml.safe_load((CORPUS / db / "truth.yaml").read_text())
    right = total = vright = vtotal = 0
    wrong: list[str] = []
    for table in truth["tables"]:
        path = project / "mappings" / f"{table['target']}.yaml"
        mapping = yaml.safe_load(path.read_text()) if path.exists() else {"columns": []}
        rules = {r["target"]: r for r in mapping.get("columns", [])}
        for col, spec in (table.get("columns") or {}).items():
            source = spec.get("from")
            if not isinstance(source, str):
                continue
            total += 1
            rule = rules.get(col)
            got = None
            if rule and rule.get("source"):
                via = rule.get("via") or []
                where = via[-1]["table"] if via else mapping.get("source", "")
                got = f"{where}.{rule['source']}"
            ok = got is not None and _norm(got).endswith(_norm(source))
            if rule and rule.get("source"):
                CALIBRATION.append((float(rule.get("confidence", 1.0)), ok))
            if ok:
                right += 1
            else:
                wrong.append(f"{table['target']}.{col}: {got} instead of {source}")
            for legacy, label in (spec.get("value_map") or {}).items():
                vtotal += 1
                proposed = (rule or {}).get("value_map", {}).get(str(legacy), "∅")
                if proposed == label:
                    vright += 1
                else:
                    wrong.append(f"{table['target']}.{col}[{legacy!r}]: {proposed} not {label}")
    return right, total, vright, vtotal, wrong


def main(argv: list[str]) -> None:
    review = "--review" in argv
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    names = [a for a in argv if not a.startswith("--") and a != keep]
    dbs = names or sorted(p.name for p in CORPUS.iterdir() if (p / "truth.yaml").exists())
    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="dbm-corpus-"))
    base.mkdir(parents=True, exist_ok=True)
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
            planned = dbmigrate("plan", "--source", src, "--target", tgt, "--project", str(project))
            if planned.returncode != 0:
                tail = (planned.stdout + planned.stderr).strip().splitlines()[-1:]
                print(f"{db}: plan failed: {' '.join(tail)[:300]}")
                continue
            plan_ok += 1
            c_ok, c_all, v_ok, v_all, misses = score_mappings(db, project)
            print(f"{db}: proposals: columns {c_ok}/{c_all} right, values {v_ok}/{v_all} right")
            for miss in misses:
                print(f"    ~ {miss}")
            review_file = CORPUS / db / "review.yaml"
            corrected = ""
            if review and review_file.exists():
                reviewed = dbmigrate("review", "--project", str(project), str(review_file))
                if reviewed.returncode != 0:
                    print(f"{db}: review failed: {reviewed.stdout[-300:]}{reviewed.stderr[-300:]}")
                    continue
                corrected = " ".join(reviewed.stdout.split()).split(":")[1].split(".")[0]
            ran = dbmigrate("run", "--project", str(project), "--yes")
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
                f"{db}: run {'ok' if ran.returncode == 0 else 'failed'};{corrected} "
                f"{accounted}/{len(tables)} tables account for every row; "
                f"product checks {sum(c['passed'] for c in own)}/{len(own)}; "
                f"value checks {ok}/{len(results)} ({time.monotonic() - t0:.0f}s)"
            )
            for r in results:
                if not r.passed:
                    print(f"    - {r.name}: {r.detail[:160]}")
    finally:
        server.stop()
    for line in calibration_table():
        print(line)
    print(
        f"corpus: {len(dbs)} cases, plan ok {plan_ok}, run ok {run_ok}, "
        f"value checks right {right}/{total}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
