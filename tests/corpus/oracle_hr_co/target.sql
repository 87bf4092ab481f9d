-- Oracle HR + CO redesigned: one "people" table for everyone who has an e-mail (staff and customers),
-- HR in schema "hr", shop tables in public. Geography and job lookups folded in.
CREATE SCHEMA hr;

CREATE TYPE person_kind AS ENUM ('employee', 'customer');
CREATE TYPE order_status AS ENUM ('open', 'paid', 'shipped', 'complete', 'cancelled', 'refunded');

CREATE TABLE people (
    id           uuid PRIMARY KEY,
    person_kind  person_kind NOT NULL,
    legacy_id    integer NOT NULL,            -- EMPLOYEE_ID or CUSTOMER_ID, unique per kind
    email        text NOT NULL UNIQUE,
    full_name    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (person_kind, legacy_id)
);

CREATE TABLE hr.departments (
    id            uuid PRIMARY KEY,
    legacy_id     integer NOT NULL UNIQUE,
    name          text NOT NULL,
    manager_id    uuid,                    -- FK added below (cycle with hr.employees)
    city          text,
    country_name  text,
    region_name   text
);

CREATE TABLE hr.employees (
    id               uuid PRIMARY KEY,
    person_id        uuid NOT NULL UNIQUE REFERENCES people(id),
    employee_number  integer NOT NULL UNIQUE,
    first_name       text,
    last_name        text NOT NULL,
    phone            text,
    hired_on         date NOT NULL,
    job_code         text NOT NULL,
    job_title        text NOT NULL,
    salary           numeric(8,2) CHECK (salary > 0),
    commission_rate  numeric(2,2),
    manager_id       uuid REFERENCES hr.employees(id),
    department_id    uuid REFERENCES hr.departments(id)
);

ALTER TABLE hr.departments
    ADD CONSTRAINT departments_manager_id_fkey
    FOREIGN KEY (manager_id) REFERENCES hr.employees(id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE stores (
    id              uuid PRIMARY KEY,
    legacy_id       integer NOT NULL UNIQUE,
    name            text NOT NULL UNIQUE,
    website_url     text,
    street_address  text,
    latitude        numeric(9,6),
    longitude       numeric(9,6)
);

CREATE TABLE products (
    id          uuid PRIMARY KEY,
    legacy_id   integer NOT NULL UNIQUE,
    name        text NOT NULL,
    unit_price  numeric(10,2),
    details     jsonb
);

CREATE TABLE orders (
    id           uuid PRIMARY KEY,
    legacy_id    integer NOT NULL UNIQUE,
    customer_id  uuid NOT NULL REFERENCES people(id),
    store_id     uuid NOT NULL REFERENCES stores(id),
    ordered_at   timestamp NOT NULL,
    status       order_status NOT NULL
);

CREATE TABLE order_items (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders(id),
    line_number  integer NOT NULL,
    product_id   uuid NOT NULL REFERENCES products(id),
    unit_price   numeric(10,2) NOT NULL,
    quantity     integer NOT NULL,
    UNIQUE (order_id, line_number)
);
