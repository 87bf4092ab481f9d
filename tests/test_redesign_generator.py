"""The benchmark's redesign generator and cell scorer, checked the way a user of the benchmark
would before trusting its figures: one seed gives one case, the case loads, its expected values
are computable, a migration written from the truth scores 100%, and a wrong column is caught
(and counted silent when its rule claims high confidence)."""

from collections.abc import Callable
from pathlib import Path

import psycopg
import yaml
from psycopg.conninfo import conninfo_to_dict

from bench.cells import counts, reference_migration, score_tables
from bench.redesign import Case, generate, materialize, qi
from resources.embedded_postgres import EmbeddedPostgres
from tests.conftest import query
from tests.corpus_db import legacy_sql, load_dump

SEED = 3  # a chinook case with a UUID key, a kept key, a composite key of references and a fold


def _project(tmp_path: Path, case: Case, confidence: float) -> Path:
    """A project folder as `plan` writes it: every rule at ``confidence``, no decision."""
    project = tmp_path / "project"
    (project / "mappings").mkdir(parents=True)
    plan = {"tables": [{"target": t.target, "confidence": 1.0} for t in case.tables]}
    (project / "plan.yaml").write_text(yaml.safe_dump(plan))
    for t in case.tables:
        rules = [
            {"target": c.target, "kind": "copy", "source": (c.source or "x").split(".")[-1]}
            | {"confidence": confidence}
            for c in t.columns
        ]
        mapping = {"target": t.target, "source": t.source, "columns": rules}
        (project / "mappings" / f"{t.target}.yaml").write_text(yaml.safe_dump(mapping))
    return project


def test_generated_case_is_deterministic_loads_and_scores_its_own_truth(
    make_db: Callable[[str], str], pg_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    base = make_db("chinook_base")
    dump = legacy_sql("chinook")
    assert dump is not None
    load_dump(base, dump)
    case = generate(base, SEED, database="chinook")
    assert case.fingerprint() == generate(base, SEED, database="chinook").fingerprint()
    assert generate(base, SEED + 1, database="chinook").fingerprint() != case.fingerprint()

    legacy, target = make_db("gen_legacy"), make_db("gen_target")
    base_name, legacy_name, target_name = (
        str(conninfo_to_dict(d)["dbname"]) for d in (base, legacy, target)
    )
    materialize(pg_server.dsn(), base_name, case, legacy_name, target_name)  # the DDL loads
    kinds = {t.key_kind for t in case.tables}
    assert "uuid" in kinds

    # Every expected value is computable: one value per legacy row and column.
    with psycopg.connect(legacy) as conn:
        for t in case.tables:
            rows = conn.execute(f"SELECT count(*) FROM {_src(t.source)}").fetchone()
            assert rows is not None
            for c in t.columns:
                for expr in c.expected or []:
                    got = conn.execute(f"SELECT ({expr}) FROM {_src(t.source)} l").fetchall()
                    assert len(got) == rows[0], (t.target, c.target)

    reference_migration(case.tables, legacy, target)
    project = _project(tmp_path, case, 0.99)
    scores = score_tables(case.tables, legacy, target, project)
    assert not [s.error for s in scores if s.error]
    cells, wrong, silent = counts(scores)
    assert cells > 1000 and wrong == 0 and silent == 0
    assert all(s.missing_rows == 0 and s.extra_rows == 0 for s in scores), [
        (s.table, s.legacy_rows, s.scored_rows, s.missing_rows, s.extra_rows) for s in scores
    ]

    # One column given a wrong source: every cell of it that differs is wrong, and silent at
    # confidence 0.99; at 0.5 (below the review line) the same cells are wrong but flagged.
    table = next(t for t in case.tables if any(c.kind == "copy" for c in t.columns))
    col = next(
        c for c in table.columns if c.kind == "copy" and c.sql_type.startswith(("text", "char"))
    )
    query(
        target,
        f"UPDATE {qi(table.target)} SET {qi(col.target)} = "
        f"coalesce({qi(col.target)}, '') || ' (wrong)' RETURNING 1",
    )
    scores = score_tables(case.tables, legacy, target, project)
    broken = next(
        c for s in scores for c in s.columns if c.column == col.target and s.table == table.target
    )
    assert broken.wrong == table.rows and broken.silent == table.rows
    assert counts(scores)[1] == table.rows
    low = _project(tmp_path / "low", case, 0.5)
    scores = score_tables(case.tables, legacy, target, low)
    assert counts(scores)[1] == table.rows and counts(scores)[2] == 0


def _src(qualified: str) -> str:
    return ".".join(qi(p) for p in qualified.split("."))
