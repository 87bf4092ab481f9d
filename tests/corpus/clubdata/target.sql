-- clubdata redesigned into its own schema "club": UUID keys, readable names, guest sentinel removed,
-- postal addresses split out of members.
CREATE SCHEMA club;

CREATE TYPE club.facility_type AS ENUM (
    'tennis_court', 'badminton_court', 'table_tennis', 'massage_room', 'squash_court', 'snooker_table', 'pool_table'
);

CREATE TABLE club.facilities (
    id                   uuid PRIMARY KEY,
    legacy_id            integer NOT NULL UNIQUE,
    name                 text NOT NULL,
    facility_type        club.facility_type NOT NULL,
    member_fee           numeric(10,2) NOT NULL,   -- per half-hour slot
    guest_fee            numeric(10,2) NOT NULL,
    initial_outlay       numeric(12,2) NOT NULL,
    monthly_maintenance  numeric(10,2) NOT NULL
);

CREATE TABLE club.members (
    id                 uuid PRIMARY KEY,
    legacy_id          integer NOT NULL UNIQUE,
    first_name         text NOT NULL,
    last_name          text NOT NULL,
    phone              text NOT NULL,
    recommended_by_id  uuid REFERENCES club.members(id) ON DELETE SET NULL,
    joined_at          timestamp NOT NULL
);

CREATE TABLE club.member_addresses (
    id            uuid PRIMARY KEY,
    member_id     uuid NOT NULL REFERENCES club.members(id) ON DELETE CASCADE,
    address_line  text NOT NULL,
    postal_code   text NOT NULL,
    is_primary    boolean NOT NULL DEFAULT true
);

CREATE TABLE club.bookings (
    id                uuid PRIMARY KEY,
    legacy_id         integer NOT NULL UNIQUE,
    facility_id       uuid NOT NULL REFERENCES club.facilities(id),
    facility_name     text NOT NULL,
    member_id         uuid REFERENCES club.members(id),   -- NULL: booked by a guest
    is_guest_booking  boolean NOT NULL,
    starts_at         timestamp NOT NULL,
    duration_minutes  integer NOT NULL
);
