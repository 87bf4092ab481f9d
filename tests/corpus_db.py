"""The public corpus (``../shared/datasets``) and its arm's-length redesigns (``tests/corpus``).

Loading: the dumps are psql scripts whose data sits in ``COPY ... FROM stdin`` blocks ended by
``\\.``. PostgreSQL 18 (the embedded server) no longer ends CSV data at ``\\.`` unless the
client strips it, and only a psql 18 does; so the blocks go through psycopg's COPY here, the
data bytes unchanged.

Checking: ``checks.yaml`` holds pairs of queries (legacy, target) whose results must be equal
as multisets of text rows; they join on natural values, never on the new UUIDs.
"""

import gzip
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
CORPUS = ROOT / "tests" / "corpus"
_COPY = re.compile(r"^COPY\s.*\sFROM\s+stdin.*;\s*$", re.IGNORECASE)


VENDORED = ROOT / "tests" / "data"


def legacy_sql(db: str) -> Path | None:
    """The dump of a corpus database: vendored in ``tests/data`` where its license allows
    (gzipped when large), else from ``../shared/datasets``; None where neither has it."""
    truth = yaml.safe_load((CORPUS / db / "truth.yaml").read_text())
    name = str(truth.get("legacy_sql") or f"{db}.sql")
    for path in (VENDORED / db / name, VENDORED / db / f"{name}.gz", DATASETS / db / name):
        if path.exists():
            return path
    return None


def load_dump(dsn: str, path: Path) -> None:
    """Run a psql dump whose only meta-command is the ``\\.`` ending COPY data."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        pending: list[str] = []
        text = (
            gzip.decompress(path.read_bytes()).decode("utf-8")
            if path.suffix == ".gz"
            else path.read_text(encoding="utf-8")
        )
        lines = iter(text.splitlines(keepends=True))
        for line in lines:
            if line.lstrip().upper().startswith("COPY "):
                statement = line
                while not statement.rstrip().endswith(";"):
                    statement += next(lines)
                if not _COPY.match(" ".join(statement.split())):
                    pending.append(statement)
                    continue
                if pending:
                    conn.execute("".join(pending))
                    pending = []
                with conn.cursor() as cur, cur.copy(statement.strip().rstrip(";")) as copy:
                    for data in lines:
                        if data.rstrip("\r\n") == "\\.":
                            break
                        copy.write(data.encode("utf-8"))
            else:
                pending.append(line)
        if "".join(pending).strip():
            conn.execute("".join(pending))


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def _rows(conn: psycopg.Connection, q: str) -> Counter[tuple[str | None, ...]]:
    rows = conn.execute(q).fetchall()
    return Counter(tuple(None if v is None else str(v) for v in r) for r in rows)


def run_checks(db: str, legacy_dsn: str, target_dsn: str) -> list[CheckResult]:
    """Every check pair of a corpus database, legacy against target."""
    checks = yaml.safe_load((CORPUS / db / "checks.yaml").read_text())
    items = checks.get("checks", checks) if isinstance(checks, dict) else checks
    out = []
    with psycopg.connect(legacy_dsn) as lconn, psycopg.connect(target_dsn) as tconn:
        for c in items:
            try:
                want = _rows(lconn, c["legacy"])
                got = _rows(tconn, c["target"])
            except psycopg.Error as exc:
                lconn.rollback()
                tconn.rollback()
                out.append(CheckResult(c["name"], False, str(exc).splitlines()[0]))
                continue
            missing = sum((want - got).values())
            extra = sum((got - want).values())
            out.append(
                CheckResult(
                    c["name"],
                    missing == 0 and extra == 0,
                    f"{sum(want.values())} legacy rows; {missing} missing, {extra} unexpected",
                )
            )
    return out
