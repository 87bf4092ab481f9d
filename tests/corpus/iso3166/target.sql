-- ISO 3166 countries and subdivisions with UUID keys; the misnamed subcountry columns get names that
-- match their contents, placeholder rows are dropped, and the subdivision level becomes an enum.
CREATE TYPE subdivision_kind AS ENUM (
    'administration', 'administrative_area', 'administrative_atoll', 'administrative_region',
    'administrative_territory', 'area', 'autonomous_city', 'autonomous_city_in_north_africa',
    'autonomous_district', 'autonomous_municipality', 'autonomous_province', 'autonomous_region',
    'autonomous_republic', 'autonomous_sector', 'autonomous_territory', 'capital',
    'capital_city', 'capital_district', 'capital_metropolitan_city', 'capital_territory',
    'city', 'city_of_county_right', 'constitutional_province', 'county',
    'department', 'dependency', 'district', 'division',
    'federal_capital_territory', 'federal_dependency', 'federal_district', 'federal_territory',
    'metropolitan_administration', 'metropolitan_city', 'metropolitan_department', 'municipality',
    'outlying_area', 'overseas_territory', 'pakistan_administered_area', 'prefecture',
    'province', 'rayon', 'region', 'republic',
    'self_governed_part', 'special_administrative_city', 'special_administrative_region', 'special_city',
    'special_district', 'special_municipality', 'special_region', 'special_territory',
    'special_zone', 'state', 'territorial_collectivity', 'territorial_unit',
    'territory', 'union_territory', 'urban_community'
);

CREATE TABLE countries (
    id            uuid PRIMARY KEY,
    alpha2_code   text NOT NULL UNIQUE,    -- ISO 3166-1 alpha-2, the legacy key
    numeric_code  char(3) NOT NULL,        -- ISO 3166-1 numeric, zero-padded ('004'); not unique in this data
    name          text NOT NULL
);

CREATE TABLE subdivisions (
    id            uuid PRIMARY KEY,
    country_id    uuid NOT NULL REFERENCES countries(id),
    country_name  text NOT NULL,
    iso_code      text NOT NULL UNIQUE,    -- ISO 3166-2, e.g. 'US-AK'
    code          text NOT NULL,           -- code inside the country, e.g. 'AK'
    name          text NOT NULL,
    kind          subdivision_kind,
    UNIQUE (country_id, code)
);
