"""Mapping-accuracy benchmark: plan + `run --yes` on three unseen legacy -> redesign pairs.

Per case it reports precision and recall of the proposed column mappings and value mappings
against the case's truth, the share of target cells that hold the right value after the run, and
whether every wrong cell sits under a rule flagged for review (confidence < 90% or a decision).
Offline always; with the LLM too when DBMIGRATE_LLM_MODEL (and OPENAI_BASE_URL) are set.

    python bench/accuracy.py [--json out.json]
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from agents.advisors import HeuristicAdvisor, MappingAdvisor
from agents.models import TableMapping
from agents.project import Project, effective_mapping
from agents.workflow import make_advisor, plan_project
from bench.accuracy_cases import CASES, Case
from migration_assets.runner import run_project
from resources.embedded_postgres import EmbeddedPostgres, start

REVIEW = 0.9


def install(case: Case, src: str, tgt: str) -> None:
    with psycopg.connect(src, autocommit=True) as conn:
        conn.execute(case.legacy_ddl)
        for table, rows in case.rows.items():
            with conn.cursor().copy(
                sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
            ) as cp:
                for row in rows:
                    cp.write_row(row)
    with psycopg.connect(tgt, autocommit=True) as conn:
        conn.execute(case.target_ddl)


def _pr(proposed: set[Any], truth: set[Any]) -> tuple[float, float]:
    tp = len(proposed & truth)
    return (tp / len(proposed) if proposed else 1.0, tp / len(truth) if truth else 1.0)


def measure(case: Case, server: EmbeddedPostgres, advisor_kind: str, workdir: Path) -> dict:
    src = server.create_database(f"acc_{case.name}_{advisor_kind}_src", replace=True)
    tgt = server.create_database(f"acc_{case.name}_{advisor_kind}_tgt", replace=True)
    install(case, src, tgt)
    project = Project.create(
        workdir / f"{case.name}-{advisor_kind}", source_dsn=src, target_dsn=tgt
    )
    advisor: MappingAdvisor = (
        HeuristicAdvisor() if advisor_kind == "offline" else make_advisor(project)
    )
    result = plan_project(project, advisor=advisor)
    mappings = {m.target: m for m in result.mappings}
    eff = {t: effective_mapping(m, accept_proposals=True) for t, m in mappings.items()}

    col_prop = {
        (t, r.target, r.source)
        for t, m in eff.items()
        for r in m.columns
        if r.source and r.kind != "uuid_key"
    }
    col_truth = {(t, c, s) for t, cols in case.columns.items() for c, s in cols.items()}
    val_prop = {
        (t, r.target, k, v)
        for t, m in eff.items()
        for r in m.columns
        if (t, r.target) in case.values
        for k, v in r.value_map.items()
        if v is not None
    }
    val_truth = {(t, c, k, v) for (t, c), vm in case.values.items() for k, v in vm.items()}

    outcome = run_project(project.root, accept_proposals=True)
    for failure in outcome.failures:
        print(f"  [{case.name}/{advisor_kind}] table failed: {failure}", file=sys.stderr)
    flagged = _flagged(mappings)
    right = total = wrong_flagged = 0
    wrong_examples = []
    with psycopg.connect(tgt) as conn:
        for target, rows in case.expected.items():
            cols = list(next(iter(rows.values())).keys())
            select = []
            for c in cols:
                parent = case.fks.get((target, c))
                if parent:
                    select.append(
                        sql.SQL(
                            "(SELECT p.legacy_id::text FROM dbmigrate.migration_mappings p "
                            "WHERE p.entity_type = {e} AND p.new_id = t.{c})"
                        ).format(e=sql.Literal(parent), c=sql.Identifier(c))
                    )
                else:
                    select.append(sql.SQL("t.{}::text").format(sql.Identifier(c)))
            actual = {
                int(r[0]): r[1:]
                for r in conn.execute(
                    sql.SQL(
                        "SELECT m.legacy_id, {} FROM {} t JOIN dbmigrate.migration_mappings m "
                        "ON m.entity_type = {} AND m.new_id = t.id"
                    ).format(
                        sql.SQL(", ").join(select), sql.Identifier(target), sql.Literal(target)
                    )
                )
            }
            reasons = dict(
                conn.execute(
                    "SELECT legacy_id::bigint, reason FROM dbmigrate.migration_rejects "
                    "WHERE entity_type = %s",
                    (target,),
                ).fetchall()
            )
            for lid, exp in rows.items():
                got = actual.get(lid)
                # A rejected row's cells are wrong because of the rule its reason names.
                blamed = (target, str(reasons.get(lid, "")).split(":", 1)[0])
                for i, c in enumerate(cols):
                    total += 1
                    value = got[i] if got else "<rejected>"
                    if value == exp[c]:
                        right += 1
                    else:
                        wrong_flagged += (target, c) in flagged or (
                            got is None and blamed in flagged
                        )
                        if len(wrong_examples) < 5:
                            wrong_examples.append(f"{target}.{c}[{lid}]: {value!r} != {exp[c]!r}")
    wrong = total - right
    cp, cr = _pr(col_prop, col_truth)
    vp, vr = _pr(val_prop, val_truth)
    return {
        "case": case.name,
        "backend": advisor_kind,
        "column_precision": round(cp, 3),
        "column_recall": round(cr, 3),
        "value_precision": round(vp, 3),
        "value_recall": round(vr, 3),
        "cells": total,
        "cells_right": right,
        "cell_accuracy": round(right / total, 4) if total else 1.0,
        "wrong_cells_flagged": f"{wrong_flagged}/{wrong}",
        "all_wrong_flagged": wrong_flagged == wrong,
        "run_passed": outcome.report.passed,
        "wrong_examples": wrong_examples,
    }


def _flagged(mappings: dict[str, TableMapping]) -> set[tuple[str, str]]:
    out = set()
    for t, m in mappings.items():
        out |= {(t, r.target) for r in m.columns if r.confidence < REVIEW}
        out |= {(t, d.column) for d in m.decisions if d.column}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import os

    backends = ["offline"] + (["llm"] if os.environ.get("DBMIGRATE_LLM_MODEL") else [])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        server = start(Path(tmp) / "pg")
        try:
            results = [measure(make(), server, b, Path(tmp)) for b in backends for make in CASES]
        finally:
            server.stop()
    header = (
        "case",
        "backend",
        "col P",
        "col R",
        "val P",
        "val R",
        "cells right",
        "accuracy",
        "wrong flagged",
    )
    print(" | ".join(header))
    for r in results:
        print(
            " | ".join(
                str(x)
                for x in (
                    r["case"],
                    r["backend"],
                    r["column_precision"],
                    r["column_recall"],
                    r["value_precision"],
                    r["value_recall"],
                    f"{r['cells_right']}/{r['cells']}",
                    f"{r['cell_accuracy']:.2%}",
                    r["wrong_cells_flagged"],
                )
            )
        )
        for ex in r["wrong_examples"]:
            print(f"    wrong: {ex}")
    if "llm" not in backends:
        print("LLM: not configured (set DBMIGRATE_LLM_MODEL and OPENAI_BASE_URL to include it)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
