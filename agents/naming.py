"""Name evidence: turning legacy identifiers into comparable word lists.

Legacy schemas abbreviate (``cust_nm``), prefix (``tbl_customer``), pluralise inconsistently and mix
case styles. Comparing raw strings misses most true pairs, so both sides are first normalised into
canonical words; only then does fuzzy matching (rapidfuzz) score them.
"""

import re
from functools import lru_cache

from rapidfuzz import fuzz

# Abbreviations seen in legacy schemas, mapped to the word a redesign would spell out.
ABBREVIATIONS: dict[str, str] = {
    "addr": "address",
    "adr": "address",
    "amt": "amount",
    "acct": "account",
    "bal": "balance",
    "cat": "category",
    "cd": "code",
    "cnt": "count",
    "co": "company",
    "cust": "customer",
    "ctry": "country",
    "cntry": "country",
    "dept": "department",
    "desc": "description",
    "descr": "description",
    "dob": "birth date",
    "dt": "date",
    "emp": "employee",
    "fname": "first name",
    "lname": "last name",
    "flg": "flag",
    "flag": "flag",
    "grp": "group",
    "id": "id",
    "inv": "invoice",
    "ln": "line",
    "loc": "location",
    "mfr": "manufacturer",
    "mfg": "manufacturer",
    "msg": "message",
    "nm": "name",
    "nbr": "number",
    "no": "number",
    "num": "number",
    "ord": "order",
    "pct": "percent",
    "ph": "phone",
    "phn": "phone",
    "tel": "phone",
    "prc": "price",
    "prod": "product",
    "qty": "quantity",
    "ref": "reference",
    "st": "state",
    "stat": "status",
    "sts": "status",
    "tech": "technician",
    "ts": "timestamp",
    "tm": "time",
    "txt": "text",
    "typ": "type",
    "upd": "updated",
    "usr": "user",
    "val": "value",
    "zip": "postal code",
    "postcode": "postal code",
    "wo": "work order",
    "crt": "created",
    "cre": "created",
    "mod": "modified",
    "pmt": "payment",
    "pay": "payment",
    "sku": "sku",
    "lvl": "level",
    "yr": "year",
    "svc": "service",
    "srv": "service",
    "cmt": "comment",
    "hr": "hour",
    "min": "minute",
    "wt": "weight",
    "ht": "height",
    "sz": "size",
    "img": "image",
    "pwd": "password",
    "tkt": "ticket",
    "veh": "vehicle",
    "doc": "document",
    "pt": "patient",
    "dr": "doctor",
    "appt": "appointment",
    "med": "medication",
    "rx": "prescription",
    "mgr": "manager",
    "sup": "supplier",
    "supp": "supplier",
    "whs": "warehouse",
    "wh": "warehouse",
}

# Words that mean the same thing in table and column names.
SYNONYMS: dict[str, str] = {
    "client": "customer",
    "clients": "customer",
    "purchaser": "customer",
    "staff": "employee",
    "worker": "employee",
    "personnel": "employee",
    "item": "product",
    "article": "product",
    "vendor": "supplier",
    "mail": "email",
    "e": "",
    "surname": "last name",
    "forename": "first name",
    "given": "first",
    "family": "last",
    "telephone": "phone",
    "mobile": "phone",
    "cell": "phone",
    "modified": "updated",
    "changed": "updated",
    "inserted": "created",
    "added": "created",
    "remarks": "note",
    "comment": "note",
    "notes": "note",
    "comments": "note",
    "memo": "note",
    "cost": "price",
    "rate": "price",
    "enabled": "active",
    "deleted": "deleted",
    "kind": "type",
    "profile": "",
    "profiles": "",
    "catalog": "",
    "master": "",
    "data": "",
    "info": "",
    "person": "people",
    "persons": "people",
    "dob": "birth date",
    "born": "birth",
    # Point-in-time suffixes all mean "when": created_ts / created_at / created_on / created_dt.
    "timestamp": "time",
    "date": "time",
    "at": "time",
    "on": "time",
    "datetime": "time",
    "dttm": "time",
}

# Words that carry no identity of their own (is_active / active_flg / active_yn).
NOISE_WORDS = frozenset({"is", "has", "flag", "ind", "yn"})

TABLE_PREFIXES = ("tbl_", "tb_", "t_", "legacy_", "old_", "src_", "dim_", "fact_", "lk_", "ref_")

# Suffix conventions: the suffix says what the column holds and what a redesign calls it.
SUFFIX_HINTS: dict[str, str] = {
    "ts": "at",
    "dttm": "at",
    "datetime": "at",
    "dt": "date",
    "date": "date",
    "on": "date",
    "flg": "flag",
    "flag": "flag",
    "yn": "flag",
    "ind": "flag",
    "cd": "code",
    "code": "code",
    "no": "number",
    "nbr": "number",
    "num": "number",
    "id": "id",
    "key": "id",
    "at": "at",
}


def split_words(name: str) -> list[str]:
    """Split any case style into lower-case words: ``CustNm`` / ``cust_nm`` / ``cust-nm``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def singular(word: str) -> str:
    """A plural-insensitive stem, good enough for identifiers (not a general lemmatiser)."""
    if len(word) <= 3 or word.endswith("ss") or word.endswith("us") or word.endswith("is"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def canonical_words(name: str, *, is_table: bool = False) -> tuple[str, ...]:
    """Normalise an identifier into canonical words (abbreviations expanded, synonyms folded)."""
    lowered = name.lower()
    if is_table:
        for prefix in TABLE_PREFIXES:
            if lowered.startswith(prefix) and len(lowered) > len(prefix) + 2:
                name = name[len(prefix) :]
                break
    out: list[str] = []
    for word in split_words(name):
        expanded = ABBREVIATIONS.get(word, word)
        for part in expanded.split():
            part = singular(part)
            folded = SYNONYMS.get(part, part)
            out.extend(singular(w) for w in folded.split())
    meaningful = [w for w in out if w not in NOISE_WORDS]
    return tuple(meaningful or out)


def strip_table_words(column: str, table: str) -> str:
    """``bracket_nm`` in table ``brackets`` is just ``nm``: columns often repeat their table."""
    table_words = set(canonical_words(table, is_table=True))
    words = split_words(column)
    kept = [w for w in words if singular(ABBREVIATIONS.get(w, w)) not in table_words]
    return "_".join(kept) if kept and len(kept) < len(words) else column


def name_similarity(a: str, b: str, *, is_table: bool = False) -> float:
    """0..1 similarity of two identifiers after normalisation."""
    wa = canonical_words(a, is_table=is_table)
    wb = canonical_words(b, is_table=is_table)
    if not wa or not wb:
        return 0.0
    if wa == wb:
        return 1.0
    sa, sb = " ".join(wa), " ".join(wb)
    score = max(fuzz.token_sort_ratio(sa, sb), fuzz.token_set_ratio(sa, sb) * 0.9) / 100.0
    # Compact forms (``firstname`` vs ``first name``) are the same name.
    if "".join(wa) == "".join(wb):
        score = max(score, 0.97)
    return float(score)


def stem_matches(word: str, label: str) -> bool:
    """True when ``word`` and ``label`` share a stem: designing/design, remotely/remote."""
    word, label = word.lower(), label.lower()
    if word == label:
        return True
    n = min(len(word), len(label))
    if n < 4:
        return False
    common = 0
    for x, y in zip(word, label, strict=False):
        if x != y:
            break
        common += 1
    return common >= max(4, min(len(word), len(label)) - 3)
