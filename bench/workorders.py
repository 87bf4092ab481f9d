"""A generated legacy work-order table and its redesign, for the engine benchmark and tests.

Legacy: integer keys, an integer FK to customers, status as free text, a timestamp, a numeric
amount and a text note. Target: UUID keys, the FK as UUID, status as an enum, timestamptz.
Rows are generated inside PostgreSQL (generate_series), so 10M rows take seconds, not minutes.
"""

from typing import Any

LEGACY_DDL = """
DROP TABLE IF EXISTS work_order, customer;
CREATE TABLE customer (cust_id INTEGER PRIMARY KEY, cust_nm TEXT NOT NULL);
CREATE TABLE work_order (
  wo_id INTEGER PRIMARY KEY, cust_id INTEGER NOT NULL, status TEXT NOT NULL,
  created_ts TIMESTAMP NOT NULL, amount NUMERIC(12, 2) NOT NULL, note TEXT);
"""

LEGACY_FILL = """
INSERT INTO customer SELECT g, 'Customer ' || g FROM generate_series(1, {customers}) g;
INSERT INTO work_order
SELECT g, (1 + (g::bigint * 7919) % {customers})::int,
       (ARRAY['open', 'OPEN', 'In Progress', 'complete', 'Completed', 'cancelled'])[1 + g % 6],
       timestamp '2020-01-01' + (g % 100000) * interval '1 minute',
       ((g % 100000) / 100.0)::numeric(12, 2),
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'note for order ' || g END
FROM generate_series(1, {rows}) g;
ANALYZE customer; ANALYZE work_order;
"""

TARGET_DDL = """
DROP TABLE IF EXISTS work_orders, customers CASCADE;
DROP SCHEMA IF EXISTS dbmigrate CASCADE;
DROP TYPE IF EXISTS work_status;
CREATE TYPE work_status AS ENUM ('open', 'in_progress', 'completed', 'cancelled');
CREATE TABLE customers (id UUID PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE work_orders (
  id UUID PRIMARY KEY, customer_id UUID NOT NULL REFERENCES customers(id),
  status work_status NOT NULL, created_at TIMESTAMPTZ NOT NULL, amount NUMERIC(12, 2) NOT NULL,
  note TEXT);
"""


def install(conn_src: Any, conn_tgt: Any, rows: int, customers: int = 10_000) -> None:
    conn_src.execute(LEGACY_DDL)
    conn_src.execute(LEGACY_FILL.format(rows=rows, customers=customers))
    conn_tgt.execute(TARGET_DDL)
