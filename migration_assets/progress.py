"""A live progress bar for `dbmigrate run`, fed by ``migration_control``.

It reads the bookkeeping table rather than hooking into the executor, so it shows the same
truth whichever executor runs the steps (in-process, multiprocess, a remote run launcher).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


@contextmanager
def control_progress(
    target_dsn: str, schema: str, console: Console, interval: float = 0.3
) -> Iterator[None]:
    stop = threading.Event()
    progress = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}
    query = sql.SQL(
        "SELECT DISTINCT ON (table_name) table_name, status, records_processed + "
        "records_rejected, coalesce(total_records, 0) FROM {}.migration_control "
        "WHERE phase = 'execution' AND started_at >= now() - interval '1 day' "
        "ORDER BY table_name, id DESC"
    ).format(sql.Identifier(schema))

    def poll() -> None:
        # One connection for the whole run (a new one every tick costs the server a backend
        # start each time); re-opened only if it breaks.
        conn = None
        while not stop.wait(interval):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(target_dsn, autocommit=True)
                exists = conn.execute(
                    "SELECT to_regclass(%s)", (f'"{schema}".migration_control',)
                ).fetchone()
                if not exists or exists[0] is None:
                    continue
                rows = conn.execute(query).fetchall()
            except Exception:  # progress is cosmetic; the run's own errors are reported
                if conn is not None:
                    conn.close()
                conn = None
                continue
            for table, status, done, total in rows:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=max(total, 1), status=status)
                progress.update(tasks[table], completed=done, total=max(total, 1), status=status)
        if conn is not None:
            conn.close()

    thread = threading.Thread(target=poll, name="dbmigrate-progress", daemon=True)
    with progress:
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
