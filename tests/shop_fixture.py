"""A small legacy shop with the usual dirt: undeclared FKs, text dates and money, bad rows."""

from tests.conftest import execute

LEGACY = """
CREATE TABLE tbl_customer (cust_id INTEGER PRIMARY KEY, cust_nm TEXT, email_addr TEXT,
                           signup_dt TEXT);
CREATE TABLE orders (ord_no INTEGER PRIMARY KEY, cust_id INTEGER, status_cd TEXT, total_amt TEXT,
                     created_ts TIMESTAMP);
INSERT INTO tbl_customer VALUES
  (1, 'Ada', 'ada@x.io', '2021-01-05'), (2, 'Bob', 'bob@x.io', '2021-02-13'),
  (3, 'Cy', 'cy@x.io', 'not a date'),   (4, 'Di', 'di@x.io', '2022-03-01'),
  (5, 'Ed', 'same@x.io', '2022-04-01'), (6, 'Flo', 'same@x.io', '2022-05-01'),
  (7, 'Gus', NULL, NULL);
INSERT INTO orders VALUES
  (10, 1, 'pending', '$10.00', '2023-01-01 10:00'),
  (11, 1, 'SHIPPED', '$1,200.50', '2023-01-02 10:00'),
  (12, 2, ' Cancelled', '3.5', '2023-01-03 10:00'),
  (13, 3, 'shipped.', '$4.00', '2023-01-04 10:00'),
  (14, 999, 'pending', '$5.00', '2023-01-05 10:00'),
  (15, 4, 'pending', 'ten', '2023-01-06 10:00'),
  (16, 7, 'shipped', '$7.00', NULL);
"""

TARGET = """
CREATE TYPE order_status AS ENUM ('pending', 'shipped', 'cancelled');
CREATE TABLE customers (id UUID PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE,
                        signed_up_on DATE);
CREATE TABLE orders (id UUID PRIMARY KEY, customer_id UUID NOT NULL REFERENCES customers(id),
                     status order_status NOT NULL, total NUMERIC(10, 2), created_at TIMESTAMPTZ);
"""


def install(src: str, tgt: str) -> None:
    execute(src, LEGACY)
    execute(tgt, TARGET)
