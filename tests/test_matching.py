"""The matching functions, pure and data-driven: names, values, assignment, calibration."""

import random

import pytest

from agents.data_mapping import (
    KINDRED_MIN,
    MATCH_THRESHOLD,
    _kindred_guesses,
    column_name_similarity,
    parse_fit,
)
from agents.matching import calibration
from agents.matching.assignment import ties
from agents.matching.names import (
    explained,
    kindred_similarity,
    name_similarity,
    strip_table_words,
    words,
)
from agents.matching.values import classify_values
from agents.models import ColumnInfo, ColumnProfile, TableInfo
from agents.planning import column_coverage


@pytest.mark.parametrize(
    ("legacy", "redesign"),
    [
        ("custid", "customer_id"),  # glued, abbreviated
        ("fname", "first_name"),  # an initial glued to a word
        ("ytd_sales", "year_to_date_sales"),  # phrase initials
        ("LastName", "surname"),  # WordNet: surname = last name
        ("client_id", "customer_id"),  # WordNet synonym
        ("orig_cty", "origin_city"),  # prefix + letters in order
        ("addr1", "address_1"),  # digits apart
        ("people", "person"),  # a plural WordNet keeps as a lemma
    ],
)
def test_renamed_identifiers_score_as_the_same_name(legacy: str, redesign: str) -> None:
    assert name_similarity(legacy, redesign) >= 0.8, (words(legacy), words(redesign))


def test_a_column_prefixed_with_its_tables_abbreviation_loses_the_prefix() -> None:
    assert strip_table_words("au_fname", "authors") == "fname"
    assert strip_table_words("bracket_nm", "brackets") == "nm"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("email_addr", "unit_price"),
        ("created_at", "updated_at"),
        ("city", "country_code"),
        ("so", "season"),  # a kept vowel with the consonants around it skipped: no abbreviation
        ("lname", "location"),  # ln + ame is no reading: ame means nothing
        ("stor_location", "state"),  # st + or is no reading of stor: or is a letter pair
    ],
)
def test_different_names_stay_apart(a: str, b: str) -> None:
    assert name_similarity(a, b) < 0.6


def test_distinct_codes_take_distinct_labels_and_ties_are_asked() -> None:
    values = ["MPEG audio file", "Protected AAC audio file", "AAC audio file", "Remote Design"]
    labels = ["mpeg_audio", "protected_aac_audio", "aac_audio", "remote", "design"]
    got = {c.value: c for c in classify_values(values, labels)}
    assert got["Protected AAC audio file"].label == "protected_aac_audio"
    assert got["AAC audio file"].label == "aac_audio"
    assert got["MPEG audio file"].label == "mpeg_audio"
    assert got["Remote Design"].label is None  # two labels, equal evidence: a question


def test_the_one_value_left_takes_the_one_label_left_for_review() -> None:
    got = {
        c.value: c
        for c in classify_values(["basic", "silver", "gold"], ["entry", "silver", "gold"])
    }
    assert got["basic"].label == "entry" and got["basic"].confidence < 0.6
    assert got["silver"].label == "silver" and got["silver"].confidence >= 0.9
    # Two values without a label and two labels left: nothing to eliminate.
    got = {c.value: c for c in classify_values(["basic", "plus", "gold"], ["entry", "pro", "gold"])}
    assert got["basic"].label is None and got["plus"].label is None


def test_a_label_differing_only_by_punctuation_beats_a_shorter_one() -> None:
    [c] = classify_values(["Full-Time"], ["full", "full_time"])
    assert c.label == "full_time" and c.confidence >= 0.9


def test_calibration_is_monotone_and_puts_every_wrong_record_below_the_line() -> None:
    rng = random.Random(7)
    records = []
    for _ in range(400):
        score = rng.random()
        records.append(({"score": score}, rng.random() < score))
    model = calibration.fit("column", records, fitted_on="synthetic")
    probs = [model.probability({"score": s / 10}) for s in range(11)]
    assert probs == sorted(probs) and probs[0] < 0.3 < 0.7 < probs[-1]
    assert all(model.probability(ev) < model.threshold for ev, ok in records if not ok)


def test_a_pick_the_scores_cannot_separate_is_never_sure() -> None:
    # Two legacy columns score the same for one target (WordNet makes state and country both
    # a "nation"): however strong each looks, picking one is a coin toss, and is listed.
    scores = [[0.95, 0.95, 0.2], [0.1, 0.2, 0.9]]
    tied = ties(scores, 0, 0)
    evidence = {"score": 0.95, "name": 1.0, "margin": 0.0, "rival": 0.85, "tied": tied}
    assert tied == 1.0
    assert calibration.confidence("column", evidence, 0.95) <= 0.5
    # A clear winner is not held back by its distant rivals.
    assert ties(scores, 1, 2) == 0.0
    clear = {**evidence, "margin": 0.7, "tied": ties(scores, 1, 2)}
    assert calibration.confidence("column", clear, 0.95) > 0.9


def _text(name: str, values: list[str]) -> tuple[TableInfo, ColumnInfo]:
    col = ColumnInfo(name=name, data_type="text", udt_name="text", nullable=True)
    profile = ColumnProfile(
        name=name,
        rows_sampled=len(values),
        null_count=0,
        distinct_count=len(set(values)),
        top_values=[(v, 1) for v in values],
    )
    return TableInfo(name="legacy", columns=[col], profiles={name: profile}), col


@pytest.mark.parametrize(
    ("values", "target", "fit"),
    [
        (["2002-08-14 00:00:00", "2003-05-01 09:30:00"], "timestamp", 1.0),  # a text date
        (["Ann Smith", "Bo Li"], "timestamp", 0.0),  # names never parse
        (["Y", "N", "NA"], "boolean", 1.0),  # 'NA' is a missing-value marker (pandas' list)
        (["Y", "N", "maybe"], "boolean", 2 / 3),  # 'maybe' is a question, not a boolean
        (["12.5", "N/A", "7"], "numeric", 1.0),
        (["$1,234.50", "12.00"], "numeric", 1.0),  # money kept as text
    ],
)
def test_text_fits_a_typed_column_as_far_as_its_values_parse(
    values: list[str], target: str, fit: float
) -> None:
    table, col = _text("c", values)
    tcol = ColumnInfo(name="t", data_type=target, udt_name=target, nullable=True)
    assert parse_fit(table, col, tcol) == pytest.approx(fit, abs=1e-3)


def test_an_integer_flag_fits_a_boolean_as_far_as_it_holds_zero_and_one() -> None:
    boolean = ColumnInfo(name="t", data_type="boolean", udt_name="bool", nullable=True)
    for values, fit in ((["0", "1"], 1.0), (["0", "1", "7", "12"], 0.5)):
        table, col = _text("flag", values)
        col = col.model_copy(update={"data_type": "integer", "udt_name": "int2"})
        assert parse_fit(table, col, boolean) == pytest.approx(fit)


def test_an_integer_fits_a_date_as_far_as_its_values_read_as_days() -> None:
    day = ColumnInfo(name="t", data_type="date", udt_name="date", nullable=True)
    for values, fit in ((["20180115", "20171231"], 1.0), (["1", "27", "300"], 0.0)):
        table, col = _text("n", values)
        col = col.model_copy(update={"data_type": "integer", "udt_name": "int4"})
        assert parse_fit(table, col, day) == pytest.approx(fit)


def _table(name: str, cols: dict[str, str], pk: list[str], defaults: frozenset[str] = frozenset()):
    return TableInfo(
        name=name,
        columns=[
            ColumnInfo(name=c, data_type=t, udt_name=t, nullable=True, has_default=c in defaults)
            for c, t in cols.items()
        ],
        primary_key=pk,
    )


def test_coverage_asks_no_source_for_a_default_and_finds_the_legacy_id_in_the_key() -> None:
    target = _table(
        "contacts",
        {"id": "uuid", "legacy_id": "integer", "email": "text", "created_at": "timestamp"},
        ["id"],
        defaults=frozenset({"created_at"}),
    )
    legacy = _table("staff", {"staff_no": "integer", "email": "text"}, ["staff_no"])
    # legacy_id <- the key by convention, email by name, created_at needs nothing: all of it.
    assert column_coverage(target, legacy) == 1.0
    keyless = _table("staff", {"staff_no": "integer", "email": "text"}, [])
    assert column_coverage(target, keyless) == 0.5


def test_a_column_stripped_of_its_tables_name_does_not_match_another_owners_column() -> None:
    assert column_name_similarity("name", "departments", "DEPARTMENT_NAME", "DEPARTMENTS") == 1.0
    # region_name names the region's name; the department's, its table stripped, is no match.
    assert (
        column_name_similarity("region_name", "departments", "DEPARTMENT_NAME", "DEPARTMENTS") < 0.6
    )
    # Words after what is left say more of the same thing.
    assert column_name_similarity("email_address", "customers", "cust_email", "customer") >= 0.85
    # Before an unstripped name, a word naming another table of the schemas names its owner.
    tables = frozenset({"city", "nation"})
    assert column_name_similarity("nation_name", "city", "name", "city", tables) < 0.6
    assert column_name_similarity("unit_price", "line", "price", "line", tables) >= 0.85


def test_kindred_words_are_weak_evidence_only_where_a_kinship_carries_it() -> None:
    assert kindred_similarity("town", "city") > 0.25  # both municipalities
    assert kindred_similarity("billing_location", "billing_address") > 0.5
    # The shared word alone is what the name match already weighed.
    assert kindred_similarity("billing_location", "billing_city") == 0.0
    assert kindred_similarity("notes", "address") == 0.0
    # Contained, as names are: season meets year (both time periods), and yearID adds an id.
    assert kindred_similarity("season", "yearID") >= KINDRED_MIN


def test_a_column_no_name_matched_takes_a_kindred_leftover_for_review() -> None:
    legacy = _table(
        "customer",
        {"customer_id": "integer", "name": "text", "city": "text", "address": "text"},
        ["customer_id"],
    )
    target = _table(
        "clients",
        {"id": "uuid", "name": "text", "town": "text", "location": "text", "notes": "text"},
        ["id"],
    )
    # A required column too: without a source every row would be rejected.
    target.columns[2] = target.columns[2].model_copy(update={"nullable": False})
    wanted = [c for c in target.columns if c.name != "id"]
    chosen = {"name": ("name", 1.0, 1.0, "name")}
    got = {
        t: (s, score) for t, s, score, _ in _kindred_guesses(legacy, target, wanted, chosen, set())
    }
    assert {t: s for t, (s, _) in got.items()} == {"town": "city", "location": "address"}
    # Below the match threshold: listed for review, never written as sure.
    assert all(score < MATCH_THRESHOLD for _, score in got.values())
    # A column the redesign added (notes) takes nothing: no near word is left for it.
    assert "notes" not in got


def test_a_code_with_a_digit_reads_as_initials_of_a_label_with_a_number() -> None:
    got = {c.value: c.label for c in classify_values(["N3", "N6"], ["net_30", "net_60", "cod"])}
    assert got == {"N3": "net_30", "N6": "net_60"}


def test_an_abbreviated_plural_in_ies_loses_it_as_english_does() -> None:
    assert words("ctries") == ("ctry",)
    assert name_similarity("ctries", "country", is_table=True) >= 0.85


def test_a_short_name_contained_in_a_long_one_is_no_sure_pick_beside_one_saying_more() -> None:
    # name is contained in location_street_name, address_street_name means two of its words:
    # each wins on its own terms, so a pick between them is at most even odds.
    target = "location_street_name"
    assert explained(target, "address_street_name") > explained(target, "name")
    assert calibration.bounded(0.99, {"outexplained": 1.0}) <= 0.5
