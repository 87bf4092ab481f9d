-- SQL City records redesigned: UUID keys, real dates instead of YYYYMMDD integers, income folded into
-- people, enums for the closed vocabularies, broken legacy references turned into NULLs.
CREATE TYPE crime_type AS ENUM (
    'arson', 'assault', 'blackmail', 'bribery', 'fraud', 'murder', 'robbery', 'smuggling', 'theft'
);
CREATE TYPE gender AS ENUM ('female', 'male');
CREATE TYPE membership_tier AS ENUM ('standard', 'silver', 'gold');

CREATE TABLE crime_reports (
    id           uuid PRIMARY KEY,
    occurred_on  date NOT NULL,
    crime_type   crime_type NOT NULL,
    description  text,
    city         text NOT NULL
);

CREATE TABLE driver_licenses (
    id             uuid PRIMARY KEY,
    legacy_id      integer NOT NULL UNIQUE,
    age            integer,
    height_inches  integer,
    eye_color      text,
    hair_color     text,
    gender         gender,
    plate_number   text,
    car_make       text,
    car_model      text
);

CREATE TABLE people (
    id                 uuid PRIMARY KEY,
    legacy_id          integer NOT NULL UNIQUE,
    full_name          text,
    street_number      integer,
    street_name        text,
    ssn                text,
    annual_income      integer,
    driver_license_id  uuid REFERENCES driver_licenses(id)
);

CREATE TABLE interviews (
    id          uuid PRIMARY KEY,
    person_id   uuid NOT NULL UNIQUE REFERENCES people(id),
    transcript  text
);

CREATE TABLE event_check_ins (
    id             uuid PRIMARY KEY,
    person_id      uuid NOT NULL REFERENCES people(id),
    event_id       integer NOT NULL,
    event_name     text,
    checked_in_on  date NOT NULL
);

CREATE TABLE gym_memberships (
    id           uuid PRIMARY KEY,
    code         text NOT NULL UNIQUE,     -- legacy membership id, '48Z7A'
    person_id    uuid NOT NULL UNIQUE REFERENCES people(id),
    member_name  text,
    started_on   date NOT NULL,
    tier         membership_tier NOT NULL
);

CREATE TABLE gym_check_ins (
    id              uuid PRIMARY KEY,
    membership_id   uuid NOT NULL REFERENCES gym_memberships(id),
    checked_in_on   date NOT NULL,
    check_in_hhmm   integer,     -- legacy HHMM integer, kept as is (not all values are valid clock times)
    check_out_hhmm  integer
);
