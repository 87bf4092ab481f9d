"""Real public databases, end to end, into redesigns written at arm's length.

For each database of the corpus (``tests/corpus/<db>``: a redesign a team moving to Supabase
would make, written from the legacy schema alone): load the legacy dump into a real PostgreSQL,
create the target, ``plan``, apply the reviewer's file (answers and corrections, the next
issue's evidence), ``run --yes`` once, and assert what an owner would: every check passes,
every legacy row is migrated or rejected with its reason, and the values match SQL computed
from the legacy data on natural keys (``checks.yaml``).
"""

import json
from pathlib import Path

import psycopg
import pytest

from tests.conftest import dbmigrate
from tests.corpus_db import CORPUS, legacy_sql, load_dump, run_checks

# Databases whose redesign needs what the product cannot do yet, with what is missing; strict,
# so that one starting to pass fails here until it is moved to the passing list.
GAPS: dict[str, str] = {}
DATABASES = sorted(p.name for p in CORPUS.iterdir() if (p / "truth.yaml").exists())


@pytest.mark.parametrize(
    "db",
    [
        pytest.param(d, marks=pytest.mark.xfail(reason=GAPS[d], strict=True)) if d in GAPS else d
        for d in DATABASES
    ],
)
def test_public_database_migrates_in_one_run_with_every_check_passing(
    db: str, make_db, tmp_path: Path
) -> None:
    dump = legacy_sql(db)
    if dump is None:
        pytest.skip(f"{db}'s dump is neither vendored nor in ../shared/datasets (its license)")
    src, tgt = make_db(f"{db}_legacy"), make_db(f"{db}_target")
    load_dump(src, dump)
    with psycopg.connect(tgt, autocommit=True) as conn:
        conn.execute((CORPUS / db / "target.sql").read_text())
    project = tmp_path / db
    planned = dbmigrate("plan", "--source", src, "--target", tgt, "--project", str(project))
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    review = CORPUS / db / "review.yaml"
    if review.exists():
        reviewed = dbmigrate("review", "--project", str(project), str(review))
        assert reviewed.returncode == 0, reviewed.stdout[-3000:] + reviewed.stderr[-3000:]
    ran = dbmigrate("run", "--project", str(project), "--yes")
    report = json.loads((project / "report.json").read_text())
    failing = [
        f"{t['target']}.{c['name']}: {c['detail']}"
        for t in report["tables"]
        for c in t["checks"]
        if not c["passed"]
    ]
    assert not failing, "\n".join(failing)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    for t in report["tables"]:
        assert t["rows_source"] == t["rows_migrated"] + t["rows_rejected"], t
    wrong = [f"{r.name}: {r.detail}" for r in run_checks(db, src, tgt) if not r.passed]
    assert not wrong, "\n".join(wrong)
