-- world redesigned: UUID keys, ISO codes kept as columns, country <-> capital cycle kept (deferred side).
CREATE TYPE continent AS ENUM (
    'africa', 'antarctica', 'asia', 'europe', 'north_america', 'oceania', 'south_america'
);

CREATE TABLE countries (
    id                      uuid PRIMARY KEY,
    code                    text NOT NULL UNIQUE,      -- ISO 3166-1 alpha-3
    iso2_code               text NOT NULL,             -- ISO 3166-1 alpha-2
    name                    text NOT NULL,
    continent               continent NOT NULL,
    region                  text NOT NULL,
    area_km2                numeric(12,2) NOT NULL,
    independence_year       smallint,
    population              integer NOT NULL,
    life_expectancy         numeric(4,1),
    gross_national_product  numeric(10,2),
    previous_gnp            numeric(10,2),
    local_name              text NOT NULL,
    government_form         text NOT NULL,
    head_of_state           text,
    flag_emoji              text,
    capital_city_id         uuid            -- FK added below: the cycle with cities
);

CREATE TABLE cities (
    id          uuid PRIMARY KEY,
    legacy_id   integer NOT NULL UNIQUE,
    name        text NOT NULL,
    country_id  uuid NOT NULL REFERENCES countries(id),
    district    text NOT NULL,
    population  integer NOT NULL,
    local_name  text
);

ALTER TABLE countries
    ADD CONSTRAINT countries_capital_city_id_fkey
    FOREIGN KEY (capital_city_id) REFERENCES cities(id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE country_languages (
    id             uuid PRIMARY KEY,
    country_id     uuid NOT NULL REFERENCES countries(id),
    language_name  text NOT NULL,
    is_official    boolean NOT NULL,
    speaker_share  numeric(4,1) NOT NULL,   -- percent of the population
    UNIQUE (country_id, language_name)
);
