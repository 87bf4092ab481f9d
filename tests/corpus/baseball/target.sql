-- Baseball Databank core redesigned: players, franchises, team seasons, salaries and awards, with UUID
-- keys, snake_case names, enums for league/division/handedness, Y/N flags as booleans, and the
-- player and manager award tables merged into one.
CREATE TYPE league AS ENUM (
    'american_league', 'national_league', 'american_association', 'national_association',
    'union_association', 'players_league', 'federal_league', 'major_league'
);
CREATE TYPE division AS ENUM ('east', 'central', 'west');
CREATE TYPE handedness AS ENUM ('right', 'left', 'both');
CREATE TYPE award_recipient AS ENUM ('player', 'manager');

CREATE TABLE players (
    id                     uuid PRIMARY KEY,
    code                   text NOT NULL UNIQUE,   -- legacy playerID, 'aaronha01'
    first_name             text,
    last_name              text,
    given_name             text,
    birth_year             integer,
    birth_date             date,
    birth_country          text,
    birth_state            text,
    birth_city             text,
    death_date             date,
    weight_lbs             integer,
    height_inches          integer,
    bats                   handedness,
    throws                 handedness,
    debut_on               date,
    final_game_on          date,
    retrosheet_id          text,
    baseball_reference_id  text
);

CREATE TABLE franchises (
    id                         uuid PRIMARY KEY,
    code                       text NOT NULL UNIQUE,   -- legacy franchID
    name                       text NOT NULL,
    is_active                  boolean,
    national_association_code  text
);

CREATE TABLE teams (
    id                  uuid PRIMARY KEY,
    season              integer NOT NULL,
    code                text NOT NULL,            -- legacy teamID, unique per season
    league              league NOT NULL,
    franchise_id        uuid NOT NULL REFERENCES franchises(id),
    franchise_name      text NOT NULL,
    division            division,
    final_rank          integer,
    games               integer,
    home_games          integer,
    wins                integer,
    losses              integer,
    won_division        boolean,
    won_wild_card       boolean,
    won_league          boolean,
    won_world_series    boolean,
    runs_scored         integer,
    runs_allowed        integer,
    earned_run_average  numeric(5,2),
    name                text,
    home_park           text,
    attendance          integer,
    UNIQUE (season, code)
);

CREATE TABLE salaries (
    id         uuid PRIMARY KEY,
    player_id  uuid NOT NULL REFERENCES players(id),
    team_id    uuid NOT NULL REFERENCES teams(id),
    season     integer NOT NULL,
    amount     numeric(12,2) NOT NULL,
    UNIQUE (player_id, team_id)
);

CREATE TABLE awards (
    id              uuid PRIMARY KEY,
    player_id       uuid NOT NULL REFERENCES players(id),
    recipient_role  award_recipient NOT NULL,
    award_name      text NOT NULL,
    season          integer NOT NULL,
    league          league,
    is_tie          boolean NOT NULL DEFAULT false,
    notes           text
);
