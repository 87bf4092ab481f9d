"""Cheap change detection on legacy tables, for the living pipeline.

No table is scanned on a poll: PostgreSQL's statistics counters (inserted, updated, deleted
tuples per table) say *whether* a table changed, and the transaction-id watermark says *which*
rows: every row written since a snapshot's ``xmin`` carries a newer ``xmin`` itself, so the next
run reads only those (32-bit xids are compared within the current epoch; a wrap-around, which
needs two billion transactions, falls back to a full, idempotent pass).
"""

from dataclasses import dataclass
from typing import Any

from agents.db import connect, project_name

Counters = tuple[int, int, int]


@dataclass(frozen=True)
class ChangeScan:
    counters: dict[str, Counters]
    watermark: int  # xmin of the snapshot taken with the counters


def scan(dsn: str, schema: str, tables: list[str]) -> ChangeScan:
    with connect(dsn, read_only=True) as conn:
        # Flush this backend's pending stats and read the shared ones fresh.
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = [
            (project_name(str(r[0]), str(r[1]), schema), *r[2:])
            for r in conn.execute(
                "SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del "
                "FROM pg_stat_user_tables"
            ).fetchall()
        ]
        rows = [r for r in rows if r[0] in set(tables)]
        xmin = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()
        conn.rollback()
    return ChangeScan(
        counters={str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows},
        watermark=int(str(xmin[0]) if xmin else 0) & 0xFFFFFFFF,
    )


def changed_tables(previous: dict[str, Any], current: ChangeScan) -> dict[str, str]:
    """Tables whose counters moved, with what moved (inserts/updates/deletes)."""
    out = {}
    for table, now in current.counters.items():
        before = previous.get(table)
        if before is None or tuple(before) == now:
            continue
        kinds = [
            k
            for k, a, b in zip(("inserts", "updates", "deletes"), before, now, strict=True)
            if b != a
        ]
        out[table] = "+".join(kinds)
    return out
