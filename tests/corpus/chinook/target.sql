-- Chinook redesigned for Supabase: UUID keys, plural tables, genre and media type folded into tracks.
CREATE TYPE media_format AS ENUM (
    'mpeg_audio', 'protected_aac_audio', 'protected_mpeg4_video', 'purchased_aac_audio', 'aac_audio'
);

CREATE TABLE artists (
    id          uuid PRIMARY KEY,
    legacy_id   integer NOT NULL UNIQUE,
    name        text
);

CREATE TABLE albums (
    id          uuid PRIMARY KEY,
    legacy_id   integer NOT NULL UNIQUE,
    title       text NOT NULL,
    artist_id   uuid NOT NULL REFERENCES artists(id)
);

CREATE TABLE tracks (
    id           uuid PRIMARY KEY,
    legacy_id    integer NOT NULL UNIQUE,
    name         text NOT NULL,
    album_id     uuid REFERENCES albums(id),
    genre_name   text,
    media_format media_format NOT NULL,
    composer     text,
    duration_ms  integer NOT NULL,
    size_bytes   bigint,
    unit_price   numeric(10,2) NOT NULL
);

CREATE TABLE playlists (
    id          uuid PRIMARY KEY,
    legacy_id   integer NOT NULL UNIQUE,
    name        text
);

CREATE TABLE playlist_tracks (
    playlist_id uuid NOT NULL REFERENCES playlists(id),
    track_id    uuid NOT NULL REFERENCES tracks(id),
    PRIMARY KEY (playlist_id, track_id)
);

CREATE TABLE employees (
    id             uuid PRIMARY KEY,
    legacy_id      integer NOT NULL UNIQUE,
    first_name     text NOT NULL,
    last_name      text NOT NULL,
    job_title      text,
    manager_id     uuid REFERENCES employees(id),
    birth_date     date,
    hired_on       date,
    street_address text,
    city           text,
    region         text,
    country        text,
    postal_code    text,
    phone          text,
    fax            text,
    email          text
);

CREATE TABLE customers (
    id              uuid PRIMARY KEY,
    legacy_id       integer NOT NULL UNIQUE,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    company_name    text,
    street_address  text,
    city            text,
    region          text,
    country         text,
    postal_code     text,
    phone           text,
    fax             text,
    email           text NOT NULL,
    support_rep_id  uuid REFERENCES employees(id),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
    id                   uuid PRIMARY KEY,
    legacy_id            integer NOT NULL UNIQUE,
    customer_id          uuid NOT NULL REFERENCES customers(id),
    invoiced_on          date NOT NULL,
    billing_street       text,
    billing_city         text,
    billing_region       text,
    billing_country      text,
    billing_postal_code  text,
    total_amount         numeric(10,2) NOT NULL
);

CREATE TABLE invoice_lines (
    id          uuid PRIMARY KEY,
    invoice_id  uuid NOT NULL REFERENCES invoices(id),
    track_id    uuid NOT NULL REFERENCES tracks(id),
    unit_price  numeric(10,2) NOT NULL,
    quantity    integer NOT NULL
);
