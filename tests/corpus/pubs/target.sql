-- pubs redesigned: prefixes and abbreviations gone, money -> numeric, codes kept as columns,
-- pub_info merged into publishers, jobs folded into employees.
CREATE TYPE title_genre AS ENUM (
    'business', 'modern_cooking', 'popular_computing', 'psychology', 'traditional_cooking', 'undecided'
);
CREATE TYPE payment_terms AS ENUM ('on_invoice', 'net_30', 'net_60');

CREATE TABLE publishers (
    id           uuid PRIMARY KEY,
    code         text NOT NULL UNIQUE,      -- legacy pub_id, e.g. '0736'
    name         text,
    city         text,
    region       text,
    country      text,
    logo         bytea,
    description  text
);

CREATE TABLE authors (
    id              uuid PRIMARY KEY,
    legacy_id       text NOT NULL UNIQUE,   -- legacy au_id, '172-32-1176'
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    phone           text NOT NULL,
    street_address  text,
    city            text,
    region          text,
    postal_code     text,
    has_contract    boolean NOT NULL
);

CREATE TABLE titles (
    id                  uuid PRIMARY KEY,
    code                text NOT NULL UNIQUE,   -- legacy title_id, 'BU1032'
    title               text NOT NULL,
    genre               title_genre NOT NULL DEFAULT 'undecided',
    publisher_id        uuid REFERENCES publishers(id),
    price               numeric(10,2),
    advance             numeric(12,2),
    royalty_percent     integer,
    year_to_date_sales  integer,
    notes               text,
    published_on        date
);

CREATE TABLE title_authors (
    id              uuid PRIMARY KEY,
    title_id        uuid NOT NULL REFERENCES titles(id),
    author_id       uuid NOT NULL REFERENCES authors(id),
    author_order    smallint,
    royalty_share   integer,               -- percent of the title's royalty
    UNIQUE (title_id, author_id)
);

CREATE TABLE stores (
    id              uuid PRIMARY KEY,
    code            text NOT NULL UNIQUE,   -- legacy stor_id
    name            text,
    street_address  text,
    city            text,
    region          text,
    postal_code     text
);

CREATE TABLE sales (
    id             uuid PRIMARY KEY,
    store_id       uuid NOT NULL REFERENCES stores(id),
    order_number   text NOT NULL,
    title_id       uuid NOT NULL REFERENCES titles(id),
    ordered_on     date NOT NULL,
    quantity       integer NOT NULL,
    payment_terms  payment_terms NOT NULL,
    UNIQUE (store_id, order_number, title_id)
);

CREATE TABLE employees (
    id              uuid PRIMARY KEY,
    code            text NOT NULL UNIQUE,   -- legacy emp_id, 'PTC11962M'
    first_name      text NOT NULL,
    middle_initial  text,
    last_name       text NOT NULL,
    job_title       text NOT NULL,
    job_level       smallint,
    publisher_id    uuid NOT NULL REFERENCES publishers(id),
    hired_on        date NOT NULL
);
