"""The corpus, end to end: every public database into its arm's-length redesign.

Per database: load the legacy dump into a real PostgreSQL, create the redesigned target from
``tests/corpus/<db>/target.sql``, ``dbmigrate plan``, then ``dbmigrate run --yes`` (the agents'
proposals, offline, no review), and measure what a reviewer would: did plan and run finish,
does every table account for every legacy row, how many of the product's own checks pass, and
how many of the redesign's value checks (``checks.yaml``, written without the matching code)
hold. The redesigns were written from the legacy schemas alone, so the figures measure the
product, not its authors' cases.

Then (b) generated cases (``bench/redesign.py``): per seed, a seeded random redesign of one of
the legacy databases (round robin over those with keyed tables), with its ground truth; the
product plans and runs it the same way, and every target cell is scored against the truth's
expected value (``bench/cells.py``). The hand-written cases are cell-scored too where their
truth's kinds allow (what could not be scored is listed).

    .venv/bin/python bench/corpus.py [--review] [--keep DIR] [--json FILE] [--seeds A:B]
        [--generated-only | --handwritten-only] [db ...]

``--review`` applies ``tests/corpus/<db>/review.yaml`` first (the answers and corrections a
reviewer gave; the number of corrected rules is what the agents got wrong; hand-written only).
``--json FILE`` writes one record per rule (case, table, column, confidence, right, cells wrong)
for fitting calibration. ``--seeds A:B`` is the half-open seed range (default 0:24).

Per case: column precision/recall, value-map precision/recall, share of target cells right after
``run --yes``, silent wrong cells (values written wrong, and nothing flagged them for review)
and the misses.
Then the calibration table over every case and the misses by kind. Its last line is
``corpus: N cases, cells right min X mean Y, silent wrong cells K``.

Offline by default. Where an OpenAI-compatible endpoint is configured (``DBMIGRATE_LLM_MODEL``,
``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` in the environment), ``plan`` uses the LLM advisor, so
the same run measures that path: the model reranks each unsure column's bounded candidate list
and the values the heuristic left unsettled.

Tuning protocol: fit the calibration on some seeds (``bench/calibrate.py`` on this script's
``--json`` records), then report on seeds nothing was fitted or tuned on.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import yaml  # noqa: E402
from psycopg import sql  # noqa: E402

from bench import cells  # noqa: E402
from bench.redesign import (  # noqa: E402
    MAX_ROWS,
    TableTruth,
    generate,
    materialize,
    read_catalog,
)
from resources.embedded_postgres import EmbeddedPostgres, start  # noqa: E402
from tests.conftest import dbmigrate  # noqa: E402
from tests.corpus_db import CORPUS, legacy_sql, load_dump, run_checks  # noqa: E402

DEFAULT_SEEDS = (0, 24)
RULES: list[dict[str, object]] = []  # one record per scored rule, over every case
CASES: list[tuple[str, float, int]] = []  # (case, share of cells right, silent wrong cells)
VALUES: list[tuple[float, bool]] = []  # (confidence, right) per proposed enum value, all cases
KINDS: dict[str, list[int]] = {}  # truth kind -> [columns, wrong columns, wrong cells, silent]


def _norm(name: str) -> str:
    return name.replace('"', "").lower()


def calibration_table() -> list[str]:
    """Proposals at confidence c should be right about c of the time: per bucket, how often
    they were, and the lowest confidence a wrong proposal had (where review must start)."""
    # A rule is judged on the cells it wrote: a row that is absent (its table failed, or
    # another rule rejected it) says nothing about this rule, as in bench/calibrate.py.
    judged = [
        r
        for r in RULES
        if r["confidence"] is not None and int(r["cells"]) > int(r["cells_wrong_absent_row"])  # type: ignore[call-overload]
    ]
    calibration = [
        (
            float(r["confidence"]),  # type: ignore[arg-type]
            int(r["cells_wrong"]) == int(r["cells_wrong_absent_row"]),  # type: ignore[call-overload]
        )
        for r in judged
    ]
    unjudged = sum(1 for r in RULES if r["confidence"] is not None) - len(judged)
    rows = _buckets(calibration, "rules")
    rows.append(f"rules whose rows were never written (not judged): {unjudged}")
    return rows


def _buckets(calibration: list[tuple[float, bool]], what: str) -> list[str]:
    rows = [f"| confidence | {what} | right | share right |", "|---|---:|---:|---:|"]
    for lo, hi in ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)):
        got = [ok for c, ok in calibration if lo <= c < hi]
        if got:
            rows.append(
                f"| {lo:.2f}-{min(hi, 1.0):.2f} | {len(got)} | {sum(got)} | "
                f"{sum(got) / len(got):.0%} |"
            )
    wrong = [c for c, ok in calibration if not ok]
    one = what.rstrip("s")
    rows.append(
        f"highest confidence of a wrong {one}: {max(wrong):.3f}" if wrong else f"no wrong {one}"
    )
    return rows


def score_mappings(db: str, project: Path) -> tuple[int, int, int, int, list[str]]:
    """Column rules and value-map entries against the truth: (columns right, columns with a
    source in the truth, values right, values in the truth, what was wrong)."""
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


def _rules_of(project: Path, target: str) -> dict[str, dict[str, object]]:
    """The proposed rules of one target table, by target column (for their evidence)."""
    path = project / "mappings" / f"{target}.yaml"
    if not path.exists():
        return {}
    mapping = yaml.safe_load(path.read_text()) or {}
    return {r["target"]: r for r in mapping.get("columns", [])}


def record_case(
    case: str, tables: list[TableTruth], scores: list[cells.TableScore], project: Path
) -> None:
    """Print a case's cells figures and misses; keep its rules for calibration and --json."""
    n, wrong, silent = cells.counts(scores)
    absent = sum(c.absent for t in scores for c in t.columns)
    share = (n - wrong) / n if n else 0.0
    CASES.append((case, share, silent))
    by_col = {(t.target, c.target): c for t in tables for c in t.columns}
    by_table = {t.target: t for t in tables}
    plan_path = project / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text()) if plan_path.exists() else {"tables": []}
    pairing = {p["target"]: p for p in plan.get("tables", [])}
    sampled = [f"{t.table} ({t.scored_rows} of {t.legacy_rows})" for t in scores if t.sampled]
    print(
        f"{case}: cells right {share:.1%} ({n - wrong}/{n}), silent wrong cells {silent}"
        f" (and {absent} wrong cells in legacy rows that have no target row: reported "
        "as rejected, failed or blocked, so not silent)"
        + (f"; sampled {', '.join(sampled)}" if sampled else "")
    )
    for t in scores:
        if t.error:
            print(f"    ! {t.table}: {t.error[:200]}")
        if t.missing_rows or t.extra_rows:
            print(
                f"    ! {t.table}: {t.missing_rows} legacy rows without a target row, "
                f"{t.extra_rows} target rows without a legacy row"
            )
        rules = _rules_of(project, t.table)
        paired = pairing.get(t.table, {})
        truth_source = by_table[t.table].source if t.table in by_table else None
        for c in t.columns:
            truth = by_col.get((t.table, c.column))
            kind = truth.kind if truth else c.kind
            k = KINDS.setdefault(kind, [0, 0, 0, 0])
            k[0] += 1
            k[1] += c.wrong > 0
            k[2] += c.wrong
            k[3] += c.silent
            RULES.append(
                {
                    "case": case,
                    "table": t.table,
                    "column": c.column,
                    "truth_kind": kind,
                    "truth_source": truth.source if truth else None,
                    "rule_kind": c.rule_kind,
                    "rule_source": c.rule_source,
                    "confidence": c.confidence,
                    "flagged": c.flagged,
                    "right": c.wrong == 0,
                    "cells": c.cells,
                    "cells_wrong": c.wrong,
                    "cells_wrong_absent_row": c.absent,
                    "evidence": (rules.get(c.column) or {}).get("evidence") or {},
                    "table_source": paired.get("source"),
                    "table_truth_source": truth_source,
                    "table_confidence": paired.get("confidence"),
                    "table_evidence": paired.get("evidence") or {},
                }
            )
            if c.wrong:
                conf = "no rule" if c.confidence is None else f"conf {c.confidence:.2f}"
                print(
                    f"    x {t.table}.{c.column} [{kind} from {truth.source if truth else '?'}]: "
                    f"rule {c.rule_kind}({c.rule_source}) {conf}"
                    f"{' flagged' if c.flagged else ' SILENT'}: {c.wrong}/{c.cells} cells wrong"
                    f" ({c.absent} in absent rows)"
                    f", e.g. {'; '.join(c.examples)[:160]}"
                )


def print_mapping_score(case: str, m: cells.MappingScore) -> None:
    def pct(a: int, b: int) -> str:
        return f"{a / b:.0%} ({a}/{b})" if b else "n/a"

    print(
        f"{case}: columns precision {pct(m.columns_right, m.columns_proposed)} "
        f"recall {pct(m.columns_right, m.columns_truth)}; value maps precision "
        f"{pct(m.values_proposed_right, m.values_proposed)} "
        f"recall {pct(m.values_right, m.values_truth)}"
    )
    VALUES.extend(m.values)
    for miss in m.misses[:15]:
        print(f"    ~ {miss}")
    if len(m.misses) > 15:
        print(f"    ~ ... {len(m.misses) - 15} more")


def handwritten(server: EmbeddedPostgres, base: Path, dbs: list[str], review: bool) -> None:
    """The nine hand-written redesigns: value checks as before, and cells where scorable."""
    plan_ok = run_ok = right = total = 0
    for db in dbs:
        dump = legacy_sql(db)
        if dump is None:
            print(f"{db}: skipped, {db}'s dump is not in ../shared/datasets")
            continue
        t0 = time.monotonic()
        src = server.create_database(f"{db}_legacy")
        tgt = server.create_database(f"{db}_target")
        load_dump(src, dump)
        with psycopg.connect(tgt, autocommit=True) as conn:
            conn.execute((CORPUS / db / "target.sql").read_text())  # type: ignore[arg-type]
        project = base / db
        planned = dbmigrate("plan", "--source", src, "--target", tgt, "--project", str(project))
        truth = yaml.safe_load((CORPUS / db / "truth.yaml").read_text())
        tables, filters, unscored = cells.truth_from_corpus(truth)
        if planned.returncode != 0:
            tail = (planned.stdout + planned.stderr).strip().splitlines()[-1:]
            print(f"{db}: plan failed: {' '.join(tail)[:300]}")
        else:
            plan_ok += 1
            c_ok, c_all, v_ok, v_all, _misses = score_mappings(db, project)
            print(f"{db}: proposals: columns {c_ok}/{c_all} right, values {v_ok}/{v_all} right")
            print_mapping_score(db, cells.score_mappings(tables, project))
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
            tabs = json.loads(report_path.read_text())["tables"] if report_path.exists() else []
            accounted = sum(
                t["rows_source"] == t["rows_migrated"] + t["rows_rejected"] for t in tabs
            )
            own = [c for t in tabs for c in t["checks"]]
            results = run_checks(db, src, tgt)
            ok = sum(r.passed for r in results)
            right += ok
            total += len(results)
            print(
                f"{db}: run {'ok' if ran.returncode == 0 else 'failed'};{corrected} "
                f"{accounted}/{len(tabs)} tables account for every row; "
                f"product checks {sum(c['passed'] for c in own)}/{len(own)}; "
                f"value checks {ok}/{len(results)} ({time.monotonic() - t0:.0f}s)"
            )
            for r in results:
                if not r.passed:
                    print(f"    - {r.name}: {r.detail[:160]}")
        scores = cells.score_tables(tables, src, tgt, project, filters=filters)
        record_case(db, tables, scores, project)
        if unscored:
            print(f"    not cell-scored: {'; '.join(unscored)}")
    print(
        f"handwritten: {len(dbs)} cases, plan ok {plan_ok}, run ok {run_ok}, "
        f"value checks right {right}/{total}"
    )


def _drop(server: EmbeddedPostgres, *names: str) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def generated(server: EmbeddedPostgres, base: Path, seeds: range, keep: bool) -> None:
    """Seeded redesigns, round robin over the legacy databases with keyed tables."""
    pool: list[str] = []
    for db in sorted(p.name for p in CORPUS.iterdir() if (p / "truth.yaml").exists()):
        dump = legacy_sql(db)
        if dump is None:
            print(f"generated: {db} skipped, its dump is not available")
            continue
        dsn = server.create_database(f"gen_{db}_base", replace=True)
        load_dump(dsn, dump)
        keyed = [t for t in read_catalog(dsn).values() if t.pk and 0 < t.rows <= MAX_ROWS]
        if keyed:
            pool.append(db)
        else:
            print(f"generated: {db} left out, no table with a primary key of at most {MAX_ROWS}")
            _drop(server, f"gen_{db}_base")
    for seed in seeds:
        db = pool[seed % len(pool)]
        t0 = time.monotonic()
        case = generate(server.dsn(f"gen_{db}_base"), seed, database=db)
        legacy, target = f"g{seed}_legacy", f"g{seed}_target"
        try:
            materialize(server.dsn(), f"gen_{db}_base", case, legacy, target)
        except psycopg.Error as exc:  # the generator's defect, not the product's: say so, go on
            print(f"{case.name}: not generated ({str(exc).splitlines()[0][:200]})")
            _drop(server, legacy, target)
            continue
        src, tgt = server.dsn(legacy), server.dsn(target)
        project = base / "generated" / case.name
        project.mkdir(parents=True, exist_ok=True)
        (project.parent / f"{case.name}.truth.yaml").write_text(
            yaml.safe_dump(case.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        )
        changes = "; ".join(case.changes[:8]) + (" ..." if len(case.changes) > 8 else "")
        shape = ", ".join(f"{t.target}<-{t.source}[{t.key_kind}]" for t in case.tables)
        print(f"{case.name}: {len(case.tables)} tables ({shape}); {changes}")
        planned = dbmigrate("plan", "--source", src, "--target", tgt, "--project", str(project))
        if planned.returncode != 0:
            tail = (planned.stdout + planned.stderr).strip().splitlines()[-1:]
            print(f"{case.name}: plan failed: {' '.join(tail)[:300]}")
        else:
            print_mapping_score(case.name, cells.score_mappings(case.tables, project))
            ran = dbmigrate("run", "--project", str(project), "--yes")
            if ran.returncode != 0:
                tail = (ran.stdout + ran.stderr).strip().splitlines()[-1:]
                print(f"{case.name}: run failed: {' '.join(tail)[:300]}")
        scores = cells.score_tables(case.tables, src, tgt, project)
        record_case(case.name, case.tables, scores, project)
        print(f"{case.name}: {time.monotonic() - t0:.0f}s")
        if not keep:
            _drop(server, legacy, target)


def main(argv: list[str]) -> None:
    review = "--review" in argv
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    dump_json = argv[argv.index("--json") + 1] if "--json" in argv else None
    seeds_arg = argv[argv.index("--seeds") + 1] if "--seeds" in argv else None
    lo, hi = (int(x) for x in seeds_arg.split(":")) if seeds_arg else DEFAULT_SEEDS
    values = {keep, dump_json, seeds_arg}
    names = [a for a in argv if not a.startswith("--") and a not in values]
    dbs = names or sorted(p.name for p in CORPUS.iterdir() if (p / "truth.yaml").exists())
    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="dbm-corpus-"))
    base.mkdir(parents=True, exist_ok=True)
    server = start(base / "data")
    try:
        if "--generated-only" not in argv:
            handwritten(server, base, dbs, review)
        if "--handwritten-only" not in argv:
            generated(server, base, range(lo, hi), keep is not None)
    finally:
        server.stop()
    print("calibration (a rule is right when every cell it wrote is right):")
    for line in calibration_table():
        print(line)
    print("value calibration (each proposed enum value against the truth's label):")
    for line in _buckets(VALUES, "values"):
        print(line)
    print("misses by kind of target column (truth's kind):")
    print("| kind | columns | wrong columns | wrong cells | silent wrong cells |")
    print("|---|---:|---:|---:|---:|")
    for kind, (n, wcols, wcells, silent) in sorted(KINDS.items()):
        print(f"| {kind} | {n} | {wcols} | {wcells} | {silent} |")
    for case, share, silent in CASES:
        print(f"  {case}: cells right {share:.1%}, silent wrong {silent}")
    if dump_json:
        Path(dump_json).write_text(json.dumps(RULES, indent=1))
    shares = [c[1] for c in CASES] or [0.0]
    low, mean = min(shares), sum(shares) / len(shares)
    print(
        f"corpus: {len(CASES)} cases, cells right min {low:.1%} mean {mean:.1%}, "
        f"silent wrong cells {sum(c[2] for c in CASES)}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
