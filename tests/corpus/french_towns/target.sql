-- French regions, departments and municipalities with UUID keys; the comment-only "capital" references
-- become real FKs (closing a regions -> municipalities -> departments -> regions cycle, deferred).
CREATE TYPE territory AS ENUM ('metropolitan', 'overseas');

CREATE TABLE regions (
    id                     uuid PRIMARY KEY,
    code                   text NOT NULL UNIQUE,   -- INSEE region code, '01', '94'
    name                   text NOT NULL UNIQUE,
    territory              territory NOT NULL,
    capital_municipality_id uuid                    -- FK added below (cycle)
);

CREATE TABLE departments (
    id             uuid PRIMARY KEY,
    code           text NOT NULL UNIQUE,   -- '01', '2A', '971'
    name           text NOT NULL UNIQUE,
    is_overseas    boolean NOT NULL,
    region_id      uuid NOT NULL REFERENCES regions(id),
    region_name    text NOT NULL,
    prefecture_id  uuid                     -- FK added below (cycle)
);

CREATE TABLE municipalities (
    id             uuid PRIMARY KEY,
    legacy_id      integer NOT NULL UNIQUE,
    insee_code     text NOT NULL UNIQUE,    -- department code || town code, '97105', '2A004'
    local_code     text NOT NULL,           -- town code inside its department
    name           text NOT NULL,
    department_id  uuid NOT NULL REFERENCES departments(id)
);

ALTER TABLE regions
    ADD CONSTRAINT regions_capital_municipality_id_fkey
    FOREIGN KEY (capital_municipality_id) REFERENCES municipalities(id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE departments
    ADD CONSTRAINT departments_prefecture_id_fkey
    FOREIGN KEY (prefecture_id) REFERENCES municipalities(id) DEFERRABLE INITIALLY DEFERRED;
