"""Seeded random redesigns of a legacy database, each with its ground truth.

Why: the nine hand-written redesigns in ``tests/corpus`` are few and their authors knew the
product, so figures on them alone overstate it. This module makes any number of redesigns from
the changes real teams make when they rebuild a legacy schema (renames by case style,
abbreviations and synonyms, table prefixes and plurals, UUID keys, enums from code columns,
lookup folds, 1:1 splits, text dates/money/flags parsed into types, dropped and added columns),
and writes down, for every target column, where its value comes from and a SQL expression over
the legacy row that gives it, so that the cells a migration writes can be scored one by one.

It is written from general redesign practice, never from the product's matching code: the
abbreviation and synonym tables are small common-English lists of its own.

A case is deterministic for (database, seed): the random choices come from ``random.Random``
seeded with the seed only, and the catalog is read in name order.

Use::

    case = generate(legacy_dsn, seed, database="chinook")
    materialize(admin_dsn, base_db, case, legacy_db, target_db)   # legacier copy + target
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

# Tables larger than this are left out, so that a case plans and runs in well under a minute.
MAX_ROWS = 12_000
MAX_TABLES = 7

# Common English abbreviations (full word -> abbreviation), used both ways: a legacy name using
# the abbreviation gets it expanded, a legacy name using the word sometimes gets it shortened.
ABBREVIATIONS: dict[str, str] = {
    "customer": "cust",
    "number": "num",
    "name": "nm",
    "description": "desc",
    "address": "addr",
    "quantity": "qty",
    "amount": "amt",
    "department": "dept",
    "employee": "emp",
    "telephone": "tel",
    "date": "dt",
    "category": "cat",
    "account": "acct",
    "manager": "mgr",
    "organization": "org",
    "product": "prod",
    "total": "tot",
    "code": "cd",
    "average": "avg",
    "maximum": "max",
    "minimum": "min",
    "count": "cnt",
    "reference": "ref",
    "information": "info",
    "message": "msg",
    "position": "pos",
    "country": "ctry",
    "invoice": "inv",
    "transaction": "txn",
    "year": "yr",
    "identifier": "ident",
    "person": "prsn",
    "company": "co",
    "street": "st",
    "price": "prc",
    "payment": "pmt",
    "percent": "pct",
    "salary": "sal",
    "location": "loc",
    "commission": "comm",
    "status": "stat",
    "first": "fst",
    "last": "lst",
    "middle": "mid",
    "title": "ttl",
    "region": "rgn",
    "member": "mbr",
    "order": "ord",
    "postal": "pstl",
    "facility": "fac",
}
_EXPANSIONS = {v: k for k, v in ABBREVIATIONS.items()}
# A few more abbreviations seen in legacy names, expanded only.
_EXPANSIONS.update({"no": "number", "nbr": "number", "qty": "quantity", "au": "author"})

# Small general synonym list (word -> alternatives), used one way per token.
SYNONYMS: dict[str, list[str]] = {
    "customer": ["client"],
    "client": ["customer"],
    "employee": ["staff", "worker"],
    "phone": ["telephone"],
    "telephone": ["phone"],
    "city": ["town"],
    "town": ["city"],
    "country": ["nation"],
    "price": ["cost"],
    "cost": ["price"],
    "begin": ["start"],
    "start": ["begin"],
    "end": ["finish"],
    "description": ["details"],
    "comment": ["remark"],
    "comments": ["remarks"],
    "note": ["remark"],
    "notes": ["remarks"],
    "company": ["firm"],
    "surname": ["family_name"],
    "lastname": ["family_name"],
    "firstname": ["given_name"],
    "zipcode": ["postal_code"],
    "zip": ["postcode"],
    "salary": ["pay"],
    "job": ["occupation"],
    "created": ["added"],
    "quantity": ["count"],
    "total": ["sum"],
    "state": ["province"],
    "address": ["location"],
    "photo": ["picture"],
    "picture": ["image"],
    "author": ["writer"],
    "sales": ["revenue"],
    "store": ["shop"],
    "shop": ["store"],
    "supplier": ["vendor"],
    "vendor": ["supplier"],
    "purchase": ["buy"],
    "hire": ["start"],
    "birth": ["born"],
}

_TEXT_HINTS = ("name", "title", "label", "description", "desc", "nm")


# ----------------------------------------------------------------------------- legacy catalog
def _spelled(name: str) -> str:
    """A name as its letters and digits: ``Notes``, ``notes`` and ``NOTES`` are one name."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass
class LegacyColumn:
    name: str
    sql_type: str  # format_type of the column, domains resolved to their base type
    category: str  # pg typcategory of the base type: N, S, D, B, E, U, A, ...
    builtin: bool  # the base type lives in pg_catalog (so the target has it too)
    nullable: bool
    typname: str


@dataclass
class LegacyForeignKey:
    columns: list[str]
    ref_table: str  # qualified legacy name
    ref_columns: list[str]


@dataclass
class LegacyTable:
    schema: str
    name: str
    columns: list[LegacyColumn]
    pk: list[str]
    fks: list[LegacyForeignKey]
    rows: int

    @property
    def qname(self) -> str:
        """The name the truth uses: ``schema.table`` outside public, else the table alone."""
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return f"{qi(self.schema)}.{qi(self.name)}"

    def column(self, name: str) -> LegacyColumn:
        return next(c for c in self.columns if c.name == name)


def qi(name: str) -> str:
    """A quoted SQL identifier (legacy and target names may be mixed case)."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def read_catalog(dsn: str) -> dict[str, LegacyTable]:
    """Every ordinary or partitioned table outside the system schemas, with its declared keys
    and exact row count; partitions are read through their parent."""
    tables: dict[str, LegacyTable] = {}
    with psycopg.connect(dsn) as conn:
        rels = conn.execute(
            """
            SELECT c.oid, n.nspname, c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbmigrate')
              AND n.nspname NOT LIKE 'pg_toast%%'
            ORDER BY n.nspname, c.relname
            """
        ).fetchall()
        oid_name: dict[int, str] = {}
        for oid, schema, name in rels:
            cols = conn.execute(
                """
                SELECT a.attname, format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid),
                         CASE WHEN t.typbasetype <> 0 THEN t.typtypmod ELSE a.atttypmod END),
                       bt.typcategory, bn.nspname = 'pg_catalog', NOT a.attnotnull, bt.typname
                FROM pg_attribute a
                JOIN pg_type t ON t.oid = a.atttypid
                JOIN pg_type bt ON bt.oid = coalesce(nullif(t.typbasetype, 0), a.atttypid)
                JOIN pg_namespace bn ON bn.oid = bt.typnamespace
                WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
                  AND a.attgenerated = ''
                ORDER BY a.attnum
                """,
                (oid,),
            ).fetchall()
            pk_row = conn.execute(
                """
                SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_constraint c
                CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                WHERE c.conrelid = %s AND c.contype = 'p'
                """,
                (oid,),
            ).fetchone()
            rows = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            ).fetchone()
            t = LegacyTable(
                schema=schema,
                name=name,
                columns=[LegacyColumn(c[0], c[1], c[2], c[3], c[4], c[5]) for c in cols],
                pk=list(pk_row[0]) if pk_row and pk_row[0] else [],
                fks=[],
                rows=int(rows[0]) if rows else 0,
            )
            tables[t.qname] = t
            oid_name[oid] = t.qname
        for oid, _, _ in rels:
            fks = conn.execute(
                """
                SELECT c.confrelid,
                  (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(c.conkey)
                     WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a
                     ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                  (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(c.confkey)
                     WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a
                     ON a.attrelid = c.confrelid AND a.attnum = k.attnum)
                FROM pg_constraint c WHERE c.conrelid = %s AND c.contype = 'f'
                ORDER BY c.conname
                """,
                (oid,),
            ).fetchall()
            for ref, cols, ref_cols in fks:
                if ref in oid_name:
                    tables[oid_name[oid]].fks.append(
                        LegacyForeignKey(list(cols), oid_name[ref], list(ref_cols))
                    )
    return tables


def _distinct(dsn: str, table: LegacyTable, col: str, limit: int = 12) -> list[str] | None:
    """The distinct non-null values of a column when there are at most ``limit``, else None."""
    with psycopg.connect(dsn) as conn:
        got = conn.execute(
            sql.SQL(
                "SELECT DISTINCT {c}::text FROM {t} WHERE {c} IS NOT NULL ORDER BY 1 LIMIT %s"
            ).format(c=sql.Identifier(col), t=sql.SQL(table.sql)),
            (limit + 1,),
        ).fetchall()
    values = [str(r[0]) for r in got]
    return values if len(values) <= limit else None


def _scalar(dsn: str, q: str) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(q).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


# ----------------------------------------------------------------------------- names
def tokens(name: str) -> list[str]:
    """Words of an identifier in any case style: ``CustomerID``, ``cust_nm``, ``EMPLOYEE_ID``."""
    out: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        if not part:
            continue
        if part.isupper() or part.islower():
            out.append(part.lower())
            continue
        out += [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part)]
    return out or [name.lower()]


def styled(words: list[str], style: str) -> str:
    """Join words in a case style: snake, camel or pascal."""
    parts = [p for w in words for p in w.split("_") if p]
    if style == "snake":
        return "_".join(parts)
    caps = [p[:1].upper() + p[1:] for p in parts]
    if style == "camel":
        return parts[0] + "".join(caps[1:])
    return "".join(caps)


def plural(word: str) -> str:
    if word.endswith("s"):
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("x", "ch", "sh")):
        return word + "es"
    return word + "s"


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def rename_words(words: list[str], rng: random.Random) -> list[str]:
    """Words as a redesign renames them: abbreviations expanded (mostly) or introduced
    (sometimes), and synonyms swapped in (sometimes)."""
    out: list[str] = []
    for w in words:
        if w in _EXPANSIONS and rng.random() < 0.8:
            w = _EXPANSIONS[w]
        elif w in ABBREVIATIONS and rng.random() < 0.2:
            w = ABBREVIATIONS[w]
        elif w in SYNONYMS and rng.random() < 0.35:
            w = rng.choice(SYNONYMS[w])
        out.append(w)
    return out


# ----------------------------------------------------------------------------- truth
@dataclass
class ColumnTruth:
    """One target column: where it comes from and what its value must be."""

    target: str
    sql_type: str  # as declared in the target DDL
    kind: str  # key, copy, legacy_id, fk, fold, enum, date, timestamp, boolean, numeric, added
    source: str | None = None  # legacy "table.column" (the last hop's table for folds)
    via: list[dict[str, Any]] = field(default_factory=list)  # [{table, link: {col: col}}]
    value_map: dict[str, str] = field(default_factory=dict)  # legacy value -> target value
    # SQL over the legacy row (alias l) giving the expected value; for fk columns the legacy
    # key of the referenced row, one expression per part; None when not scorable.
    expected: list[str] | None = None
    compare_as: str = "text"  # the type the expected value is cast to before comparing text
    references: str | None = None  # fk: the referenced target table
    nullable: bool = True


@dataclass
class TableTruth:
    """One target table: its legacy source and how its rows pair with legacy rows."""

    target: str
    source: str  # qualified legacy table
    legacy_key: list[str]
    # uuid: a UUID key mapped in migration_mappings; kept: the legacy key's values kept;
    # refs: a composite key of references; split: a 1:1 child paired through its parent ref
    key_kind: str
    key_columns: list[str]
    columns: list[ColumnTruth]
    split_of: str | None = None
    rows: int = 0
    # A merge: the SQL of its legacy tables' union, each row's table in column __part (then
    # the first part of legacy_key); the scorer reads it in place of the source.
    union: str | None = None

    def column(self, name: str) -> ColumnTruth:
        return next(c for c in self.columns if c.target == name)


@dataclass
class Case:
    """A generated redesign: the legacier edits, the target DDL and the truth."""

    name: str
    database: str
    seed: int
    legacy_edits: list[str]
    target_ddl: str
    tables: list[TableTruth]
    changes: list[str]  # what the redesign did, in words

    def table(self, target: str) -> TableTruth:
        return next(t for t in self.tables if t.target == target)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


# ----------------------------------------------------------------------------- generator
PART = "__part"  # a merge truth's column naming each legacy row's table
# Why one table's rows live in two: the words the two tables are named with.
MERGE_WORDS = [("active", "archived"), ("current", "closed"), ("domestic", "foreign")]
DATE_FORMATS = ["YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY", "YYYYMMDD", "DD.MM.YYYY", "DD-Mon-YYYY"]
TIMESTAMP_FORMATS = ["YYYY-MM-DD HH24:MI:SS", "DD/MM/YYYY HH24:MI:SS", "YYYYMMDDHH24MISS"]
FLAG_STYLES = [("Y", "N"), ("T", "F"), ("1", "0"), ("yes", "no")]


def _code_for(value: str) -> str:
    """A short legacy code for a label: the initials of its words (``Credit Card`` -> ``CC``),
    or its first three letters for a single word."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", value) if w]
    if len(words) >= 2:
        return "".join(w[0] for w in words).upper()
    return (words[0][:3] if words else "X").upper()


def _label_for(value: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    return label[:50] or "blank"


class _Gen:
    def __init__(self, dsn: str, database: str, seed: int) -> None:
        self.dsn = dsn
        self.database = database
        self.seed = seed
        self.rng = random.Random(seed)
        self.catalog = read_catalog(dsn)
        self.edits: list[str] = []
        self.changes: list[str] = []
        self.style = self.rng.choices(["snake", "camel", "pascal"], [6, 2.5, 1.5])[0]
        self.plural = self.rng.random() < 0.5
        self.prefix = "tbl_" if self.rng.random() < 0.15 else ""
        self.master = self.rng.random() < 0.2
        self.edited_tables: set[str] = set()

    # --- selection
    def candidates(self) -> list[str]:
        return [q for q, t in self.catalog.items() if t.pk and 0 < t.rows <= MAX_ROWS]

    def select(self) -> tuple[list[str], dict[tuple[str, int], str]]:
        """Tables of the case, closed under the foreign keys kept, and what becomes of every
        foreign key (keep, fold or drop)."""
        cands = self.candidates()
        if not cands:
            raise ValueError(f"{self.database}: no table with a primary key of at most {MAX_ROWS}")
        chosen: list[str] = []
        fate: dict[tuple[str, int], str] = {}
        todo = self.rng.sample(cands, min(len(cands), self.rng.randint(2, 4)))
        while todo:
            q = todo.pop(0)
            if q in chosen:
                continue
            if len(chosen) >= MAX_TABLES:
                break
            chosen.append(q)
            t = self.catalog[q]
            for i, fk in enumerate(t.fks):
                parent = self.catalog[fk.ref_table]
                keyed = parent.pk == fk.ref_columns and fk.ref_table in cands
                foldable = self._fold_column(parent) is not None and fk.ref_table != q
                r = self.rng.random()
                if keyed and (r < 0.75 or not foldable):
                    fate[(q, i)] = "keep"
                    if fk.ref_table not in chosen:
                        todo.append(fk.ref_table)
                elif foldable and parent.rows <= MAX_ROWS * 4:
                    fate[(q, i)] = "fold"
                else:
                    fate[(q, i)] = "drop"
        # Tables added after the cap could leave dangling keeps: drop those references.
        for (q, i), f in list(fate.items()):
            if f == "keep" and self.catalog[q].fks[i].ref_table not in chosen:
                fate[(q, i)] = "drop"
        return sorted(chosen), fate

    def _fold_column(self, parent: LegacyTable) -> str | None:
        keyed = {c for fk in parent.fks for c in fk.columns} | set(parent.pk)
        texts = [c.name for c in parent.columns if c.category == "S" and c.name not in keyed]
        hinted = [c for c in texts if any(h in c.lower() for h in _TEXT_HINTS)]
        found = hinted or texts
        return found[0] if found else None

    # --- names
    def table_name(self, t: LegacyTable, is_parent: bool, taken: set[str]) -> str:
        words = rename_words(tokens(t.name), self.rng)
        last = words[-1]
        words[-1] = plural(last) if self.plural else singular(last)
        if self.master and is_parent:
            words.append("master")
        name = styled(words, self.style)
        if self.prefix:
            name = self.prefix + name
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}{n}", n + 1
        taken.add(name.lower())
        return name

    def column_name(self, words: list[str], taken: set[str]) -> str:
        name = styled(words, self.style)
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}{n}", n + 1
        taken.add(name.lower())
        return name

    # --- legacy edits (the "legacier" copy)
    def _editable(self, t: LegacyTable, col: str) -> bool:
        keyed = set(t.pk) | {c for fk in t.fks for c in fk.columns}
        for other in self.catalog.values():
            for fk in other.fks:
                if fk.ref_table == t.qname and col in fk.ref_columns:
                    return False
        return col not in keyed

    def _prepare_edit(self, t: LegacyTable) -> None:
        if t.qname in self.edited_tables:
            return
        self.edited_tables.add(t.qname)
        # CHECK constraints and views would refuse the type changes of a legacier copy.
        self.edits.append(
            "DO $$DECLARE r record; BEGIN FOR r IN SELECT conname FROM pg_constraint "
            f"WHERE conrelid = {ql(t.sql)}::regclass AND contype = 'c' LOOP EXECUTE "
            f"format('ALTER TABLE {t.sql.replace(chr(39), chr(39) * 2)} DROP CONSTRAINT %I', "
            "r.conname); END LOOP; END$$"
        )

    def _retype(self, t: LegacyTable, col: str, using: str) -> None:
        """Turn a legacy column into text in the legacier copy (its default dropped first:
        a typed default would refuse the new type)."""
        self._prepare_edit(t)
        self.edits.append(f"ALTER TABLE {t.sql} ALTER COLUMN {qi(col)} DROP DEFAULT")
        self.edits.append(f"ALTER TABLE {t.sql} ALTER COLUMN {qi(col)} TYPE text USING {using}")

    # --- columns
    def build(self) -> Case:
        chosen, fate = self.select()
        referenced = {self.catalog[q].fks[i].ref_table for (q, i), f in fate.items() if f == "keep"}
        composite_refd = {
            self.catalog[q].fks[i].ref_table
            for (q, i), f in fate.items()
            if f == "keep" and len(self.catalog[q].fks[i].columns) > 1
        }
        taken: set[str] = set()
        names = {q: self.table_name(self.catalog[q], q in referenced, taken) for q in chosen}
        # Key decisions first: references follow them.
        key_kind: dict[str, str] = {}
        for q in chosen:
            t = self.catalog[q]
            if len(t.pk) == 1:
                integer = t.column(t.pk[0]).category == "N" and "int" in t.column(t.pk[0]).typname
                keep_p = 0.25 if integer else 0.3
                key_kind[q] = "kept" if self.rng.random() < keep_p else "uuid"
            else:
                refs_all = all(
                    any(
                        fate.get((q, i)) == "keep" and len(fk.columns) == 1 and fk.columns[0] == c
                        for i, fk in enumerate(t.fks)
                    )
                    for c in t.pk
                )
                key_kind[q] = (
                    "refs"
                    if refs_all and q not in composite_refd and self.rng.random() < 0.7
                    else "uuid"
                )
        ddl_types: list[str] = []
        ddl_tables: list[str] = []
        ddl_fks: list[str] = []
        truths: list[TableTruth] = []
        target_key_col: dict[str, str] = {}
        for q in chosen:
            if key_kind[q] == "uuid":
                target_key_col[q] = (
                    "id"
                    if self.rng.random() < 0.7
                    else styled([*tokens(singular(self.catalog[q].name)), "id"], self.style)
                )
        for q in chosen:
            t = self.catalog[q]
            tt = self._table(t, names, key_kind, target_key_col, fate, ddl_types, ddl_fks)
            truths.append(tt)
        merged = self._maybe_merge(truths, fate, ddl_types)
        if not merged:
            truths += self._maybe_split(truths, names, ddl_fks)
        ddl_tables += [_create_table(tt) for tt in truths]
        ddl = "\n".join(ddl_types + ddl_tables + ddl_fks) + "\n"
        return Case(
            name=f"{self.database}-s{self.seed}",
            database=self.database,
            seed=self.seed,
            legacy_edits=self.edits,
            target_ddl=ddl,
            tables=truths,
            changes=self.changes,
        )

    def _table(
        self,
        t: LegacyTable,
        names: dict[str, str],
        key_kind: dict[str, str],
        key_col: dict[str, str],
        fate: dict[tuple[str, int], str],
        ddl_types: list[str],
        ddl_fks: list[str],
    ) -> TableTruth:
        rng = self.rng
        target = names[t.qname]
        cols: list[ColumnTruth] = []
        taken: set[str] = set()
        kind = key_kind[t.qname]
        fk_of: dict[str, tuple[int, LegacyForeignKey]] = {}
        for i, fk in enumerate(t.fks):
            for name in fk.columns:
                fk_of.setdefault(name, (i, fk))
        done_fk: set[int] = set()
        if kind == "uuid":
            kc = key_col[t.qname]
            taken.add(kc.lower())
            cols.append(ColumnTruth(kc, "uuid", "key", nullable=False))
            key_columns = [kc]
            if len(t.pk) == 1 and rng.random() < 0.3:
                name = self.column_name(["legacy", "id"], taken)
                cols.append(_key_copy(t, name, "legacy_id"))
        elif kind == "kept":
            name = self.column_name(rename_words(tokens(t.pk[0]), rng), taken)
            cols.append(_key_copy(t, name, "key"))
            key_columns = [name]
        else:
            key_columns = []
        for c in t.columns:
            if kind == "kept" and c.name == t.pk[0]:
                continue
            if c.name in fk_of:
                i, fk = fk_of[c.name]
                if i in done_fk:
                    continue
                done_fk.add(i)
                col = self._reference(t, i, fk, fate[(t.qname, i)], names, key_kind, key_col, taken)
                if col is None:
                    continue
                cols.append(col)
                if col.kind == "fk":
                    ref = names[fk.ref_table]
                    ddl_fks.append(
                        f"ALTER TABLE {qi(target)} ADD FOREIGN KEY ({qi(col.target)}) "
                        f"REFERENCES {qi(ref)};"
                    )
                    if kind == "refs" and fk.columns[0] in t.pk:
                        key_columns.append(col.target)
                continue
            if kind == "uuid" and c.name in t.pk and len(t.pk) == 1:
                continue  # the integer key itself: its value lives in migration_mappings
            if c.name not in t.pk and rng.random() < 0.12:
                self.changes.append(f"dropped {t.qname}.{c.name}")
                continue
            col = self._plain(t, c, taken, ddl_types, target)
            if col is not None:
                cols.append(col)
        if kind == "refs":
            if len(key_columns) != len(t.pk):
                raise AssertionError(f"{t.qname}: composite key of references incomplete")
            order = {
                col.target: t.pk.index(
                    next(
                        fk.columns[0]
                        for fk in t.fks
                        if fk.columns[0] in t.pk
                        and names[fk.ref_table] == col.references
                        and col.source == f"{t.qname}.{fk.columns[0]}"
                    )
                )
                for col in cols
                if col.target in key_columns
            }
            key_columns.sort(key=order.__getitem__)
        if rng.random() < 0.35:
            added = self._added(taken)
            # A new column named as a legacy one of the table (``notes`` beside a ``notes``
            # renamed ``remarks``) is that column to any reader: its truth would be unknowable.
            if _spelled(added.target) not in {_spelled(c.name) for c in t.columns}:
                cols.append(added)
        return TableTruth(
            target=target,
            source=t.qname,
            legacy_key=list(t.pk),
            key_kind=kind,
            key_columns=key_columns,
            columns=cols,
            rows=t.rows,
        )

    def _reference(
        self,
        t: LegacyTable,
        i: int,
        fk: LegacyForeignKey,
        fate: str,
        names: dict[str, str],
        key_kind: dict[str, str],
        key_col: dict[str, str],
        taken: set[str],
    ) -> ColumnTruth | None:
        parent = self.catalog[fk.ref_table]
        nullable = any(t.column(c).nullable for c in fk.columns)
        if fate == "drop":
            self.changes.append(f"dropped reference {t.qname}.{','.join(fk.columns)}")
            return None
        if fate == "fold":
            src = self._fold_column(parent)
            assert src is not None
            words = rename_words(tokens(singular(parent.name)), self.rng) + tokens(src)
            name = self.column_name(words, taken)
            cond = " AND ".join(
                f"p.{qi(r)} = l.{qi(c)}" for c, r in zip(fk.columns, fk.ref_columns, strict=False)
            )
            self.changes.append(f"folded {parent.qname}.{src} into {name}")
            pc = parent.column(src)
            return ColumnTruth(
                name,
                pc.sql_type if pc.builtin else "text",
                "fold",
                source=f"{parent.qname}.{src}",
                via=[
                    {
                        "table": parent.qname,
                        "link": dict(zip(fk.columns, fk.ref_columns, strict=False)),
                    }
                ],
                expected=[f"(SELECT p.{qi(src)} FROM {parent.sql} p WHERE {cond})"],
                compare_as=pc.sql_type if pc.builtin else "text",
            )
        base = tokens(fk.columns[0]) if len(fk.columns) == 1 else tokens(singular(parent.name))
        if base[-1] not in ("id", "key", "code", "no", "num", "cd"):
            base = [*base, "id"]
        name = self.column_name(rename_words(base, self.rng), taken)
        ref_kind = key_kind[fk.ref_table]
        if ref_kind == "kept":
            pkc = parent.column(parent.pk[0])
            sql_type = pkc.sql_type
        else:
            sql_type = "uuid"
        return ColumnTruth(
            name,
            sql_type,
            "fk",
            source=f"{t.qname}.{fk.columns[0]}",
            expected=[f"l.{qi(c)}" for c in fk.columns],
            references=names[fk.ref_table],
            nullable=nullable,
        )

    def _plain(
        self, t: LegacyTable, c: LegacyColumn, taken: set[str], ddl_types: list[str], target: str
    ) -> ColumnTruth | None:
        rng = self.rng
        name = self.column_name(rename_words(tokens(c.name), rng), taken)
        src = f"{t.qname}.{c.name}"
        lc = f"l.{qi(c.name)}"
        editable = self._editable(t, c.name)
        if c.category == "S" and editable and t.rows >= 10:
            values = _distinct(self.dsn, t, c.name, 10)
            if values and 2 <= len(values) and len(values) < t.rows and rng.random() < 0.5:
                labels = [_label_for(v) for v in values]
                if len(set(labels)) == len(labels) and all(len(v) <= 60 for v in values):
                    legacy = values
                    if rng.random() < 0.4:
                        codes = [_code_for(v) for v in values]
                        if len(set(codes)) == len(codes) and codes != values:
                            case = " ".join(
                                f"WHEN {ql(v)} THEN {ql(k)}"
                                for v, k in zip(values, codes, strict=False)
                            )
                            self._retype(t, c.name, f"CASE {qi(c.name)}::text {case} END")
                            legacy = codes
                            self.changes.append(f"{src}: labels recoded as short codes")
                    type_name = styled(tokens(target) + tokens(name), "snake")[:60]
                    listed = ", ".join(ql(x) for x in labels)
                    # A third of the redesigns list the labels in a CHECK on a text column, as
                    # Supabase schemas often do. Drawn from its own generator, so that every
                    # other draw of the seed stays what it was.
                    if random.Random(f"{self.seed}:{src}:check").random() < 1 / 3:
                        sql_type = f"text CHECK ({qi(name)} IN ({listed}))"
                        self.changes.append(f"{src} -> text with CHECK labels")
                    else:
                        ddl_types.append(f"CREATE TYPE {qi(type_name)} AS ENUM ({listed});")
                        sql_type = qi(type_name)
                        self.changes.append(f"{src} -> enum {type_name}")
                    vmap = dict(zip(legacy, labels, strict=False))
                    case = " ".join(f"WHEN {ql(k)} THEN {ql(v)}" for k, v in vmap.items())
                    return ColumnTruth(
                        name,
                        sql_type,
                        "enum",
                        source=src,
                        value_map=vmap,
                        expected=[f"CASE {lc}::text {case} END"],
                        nullable=c.nullable,
                    )
        if c.category == "D" and editable and c.typname in ("date", "timestamp"):
            if rng.random() < 0.4:
                is_date = c.typname == "date"
                fmt = rng.choice(DATE_FORMATS if is_date else TIMESTAMP_FORMATS)
                self._retype(t, c.name, f"to_char({qi(c.name)}, {ql(fmt)})")
                self.changes.append(f"{src}: legacy text date '{fmt}'")
                parse = (
                    f"to_date({lc}, {ql(fmt)})"
                    if is_date
                    else f"to_timestamp({lc}, {ql(fmt)})::timestamp"
                )
                typ = "date" if is_date else "timestamp"
                return ColumnTruth(
                    name,
                    typ,
                    "date" if is_date else "timestamp",
                    source=src,
                    expected=[parse],
                    compare_as=typ,
                    nullable=c.nullable,
                )
        if c.category == "B" and editable and rng.random() < 0.7:
            yes, no = rng.choice(FLAG_STYLES)
            self._retype(
                t,
                c.name,
                f"CASE WHEN {qi(c.name)} THEN {ql(yes)} WHEN NOT {qi(c.name)} THEN {ql(no)} END",
            )
            self.changes.append(f"{src}: legacy flag {yes}/{no}")
            return ColumnTruth(
                name,
                "boolean",
                "boolean",
                source=src,
                value_map={yes: "true", no: "false"},
                expected=[f"CASE {lc} WHEN {ql(yes)} THEN true WHEN {ql(no)} THEN false END"],
                compare_as="boolean",
                nullable=c.nullable,
            )
        money = c.typname == "money" or (c.typname == "numeric" and not c.sql_type.endswith(",0)"))
        if money and editable and rng.random() < 0.45:
            big = _scalar(
                self.dsn,
                f"SELECT coalesce(max(abs({qi(c.name)}::numeric)), 0) < 1e9 FROM {t.sql}",
            )
            if big:
                dollar = rng.random() < 0.5
                fmt = "FM999,999,990.00" if dollar else "FM999999990.00"
                prefix = "'$' || " if dollar else ""
                self._retype(t, c.name, f"{prefix}to_char({qi(c.name)}::numeric, {ql(fmt)})")
                self.changes.append(
                    f"{src}: legacy money text ({'$1,234.50' if dollar else '1234.50'})"
                )
                return ColumnTruth(
                    name,
                    "numeric(14,2)",
                    "numeric",
                    source=src,
                    expected=[f"replace(replace({lc}, '$', ''), ',', '')::numeric"],
                    compare_as="numeric(14,2)",
                    nullable=c.nullable,
                )
        if c.typname == "money":
            typ = "numeric(14,2)"
            return ColumnTruth(
                name,
                typ,
                "numeric",
                source=src,
                expected=[f"{lc}::numeric"],
                compare_as=typ,
                nullable=c.nullable,
            )
        if not c.builtin or c.category in ("E", "C"):
            return ColumnTruth(
                name, "text", "copy", source=src, expected=[f"{lc}::text"], nullable=c.nullable
            )
        typ = c.sql_type
        if c.typname == "int4" and rng.random() < 0.1:
            typ = "bigint"
        return ColumnTruth(
            name, typ, "copy", source=src, expected=[lc], compare_as=typ, nullable=c.nullable
        )

    def _added(self, taken: set[str]) -> ColumnTruth:
        choice = self.rng.randrange(4)
        if choice == 0:
            return ColumnTruth(
                self.column_name(["notes"], taken), "text", "added", expected=["NULL"]
            )
        if choice == 1:
            return ColumnTruth(
                self.column_name(["is", "active"], taken) + "",
                "boolean NOT NULL DEFAULT true",
                "added",
                expected=["true"],
                compare_as="boolean",
                nullable=False,
            )
        if choice == 2:
            return ColumnTruth(
                self.column_name(["created", "at"], taken),
                "timestamptz NOT NULL DEFAULT now()",
                "added",
                expected=None,
                nullable=False,
            )
        return ColumnTruth(
            self.column_name(["row", "version"], taken),
            "integer NOT NULL DEFAULT 1",
            "added",
            expected=["1"],
            compare_as="integer",
            nullable=False,
        )

    def _maybe_merge(
        self,
        truths: list[TableTruth],
        fate: dict[tuple[str, int], str],
        ddl_types: list[str],
    ) -> bool:
        """Rows of one UUID-keyed legacy table kept in two tables of the same shape (active and
        archived, say), one with a column or two renamed; the redesign unites them with an
        enum column saying which table a row came from (a quarter of the cases)."""
        if self.rng.random() >= 0.25:
            return False
        kept_refs = {self.catalog[q].fks[i].ref_table for (q, i), f in fate.items() if f != "drop"}
        options = [
            tt
            for tt in truths
            if tt.key_kind == "uuid"
            and len(tt.legacy_key) == 1
            and tt.source not in kept_refs
            and self.catalog[tt.source].rows >= 4
        ]
        if not options:
            return False
        tt = self.rng.choice(sorted(options, key=lambda x: x.target))
        t = self.catalog[tt.source]
        a, b = self.rng.choice(MERGE_WORDS)
        style = "pascal" if t.name[:1].isupper() else "snake"
        name_a, name_b = (styled([*tokens(t.name), w], style) for w in (a, b))
        part_a, part_b = (
            n if t.schema == "public" else f"{t.schema}.{n}" for n in (name_a, name_b)
        )
        sql_a, sql_b = (f"{qi(t.schema)}.{qi(n)}" for n in (name_a, name_b))
        key = qi(t.pk[0])
        moved = f"md5({key}::text) < '8'"
        with psycopg.connect(self.dsn) as conn:
            refs = conn.execute(
                "SELECT conrelid::regclass::text, quote_ident(conname) FROM pg_constraint "
                "WHERE contype = 'f' AND confrelid = %s::regclass",
                (t.sql,),
            ).fetchall()
        edits = [f"ALTER TABLE {child} DROP CONSTRAINT {con};" for child, con in refs]
        edits += [
            f"ALTER TABLE {t.sql} RENAME TO {qi(name_a)};",
            f"CREATE TABLE {sql_b} (LIKE {sql_a} INCLUDING ALL);",
            f"INSERT INTO {sql_b} SELECT * FROM {sql_a} WHERE {moved};",
            f"DELETE FROM {sql_a} WHERE {moved};",
        ]
        edits += [
            f"ALTER TABLE {sql_b} ADD FOREIGN KEY ({', '.join(map(qi, fk.columns))}) "
            f"REFERENCES {self.catalog[fk.ref_table].sql} ({', '.join(map(qi, fk.ref_columns))})"
            " NOT VALID;"  # as the legacy data holds it: some keep links that dangle
            for fk in t.fks
        ]
        # The second table's keeper named a column or two their own way.
        plain = [
            c
            for c in t.columns
            if c.name not in t.pk and not any(c.name in fk.columns for fk in t.fks)
        ]
        renamed: dict[str, str] = {}
        for c in self.rng.sample(plain, min(len(plain), self.rng.randint(0, 2))):
            new = styled(rename_words(tokens(c.name), self.rng), style)
            if new.lower() not in {x.name.lower() for x in t.columns} | {
                n.lower() for n in renamed.values()
            }:
                renamed[c.name] = new
                edits.append(f"ALTER TABLE {sql_b} RENAME COLUMN {qi(c.name)} TO {qi(new)};")
        self.edits += edits
        cols_b = ", ".join(
            f"{qi(renamed[c.name])} AS {qi(c.name)}" if c.name in renamed else qi(c.name)
            for c in t.columns
        )
        tt.union = (
            f"SELECT {ql(part_a)} AS {qi(PART)}, * FROM {sql_a} UNION ALL "
            f"SELECT {ql(part_b)}, {cols_b} FROM {sql_b}"
        )
        tt.source = part_a
        tt.legacy_key = [PART, *tt.legacy_key]
        taken = {c.target.lower() for c in tt.columns}
        column = self.column_name(
            [self.rng.choice(["status", "kind", "category", "origin"])], taken
        )
        enum = styled([*tokens(tt.target), column, "type"], "snake")
        ddl_types.append(f"CREATE TYPE {qi(enum)} AS ENUM ({ql(a)}, {ql(b)});")
        tt.columns.append(
            ColumnTruth(
                column,
                qi(enum),
                "enum",
                expected=[f"CASE l.{qi(PART)} WHEN {ql(part_a)} THEN {ql(a)} ELSE {ql(b)} END"],
                compare_as="text",
                nullable=False,
            )
        )
        self.changes.append(
            f"merged {part_a} and {part_b} (one table's rows kept in two"
            + (f", {', '.join(f'{k} renamed {v}' for k, v in renamed.items())}" if renamed else "")
            + f") into {tt.target}, {column} telling them apart"
        )
        return True

    def _maybe_split(
        self, truths: list[TableTruth], names: dict[str, str], ddl_fks: list[str]
    ) -> list[TableTruth]:
        """A 1:1 child table taking some columns of one UUID-keyed table (half the cases)."""
        if self.rng.random() >= 0.5:
            return []
        movable = {
            tt.target: [c for c in tt.columns if c.kind in ("copy", "date", "numeric", "boolean")]
            for tt in truths
            if tt.key_kind == "uuid"
        }
        options = [k for k, v in movable.items() if len(v) >= 4]
        if not options:
            return []
        pick = self.rng.choice(sorted(options))
        parent = next(tt for tt in truths if tt.target == pick)
        moved = self.rng.sample(
            movable[parent.target], self.rng.randint(2, min(4, len(movable[parent.target]) - 2))
        )
        suffix = self.rng.choice(["details", "profile", "extra", "info"])
        taken = {n.lower() for n in names.values()} | {t.target.lower() for t in truths}
        child = styled([*tokens(parent.target), suffix], self.style)
        while child.lower() in taken:
            child += "2"
        ptoks = tokens(parent.target)
        ptoks[-1] = singular(ptoks[-1])
        ctaken: set[str] = {"id"}
        ref = self.column_name([*[w for w in ptoks if w != "tbl"], "id"], ctaken)
        for c in moved:
            ctaken.add(c.target.lower())
        parent.columns = [c for c in parent.columns if c not in moved]
        src = next(c for c in self.catalog.values() if c.qname == parent.source)
        self.changes.append(
            f"split {parent.source}: {', '.join(c.target for c in moved)} moved to {child}"
        )
        ddl_fks.append(
            f"ALTER TABLE {qi(child)} ADD FOREIGN KEY ({qi(ref)}) REFERENCES {qi(parent.target)};"
        )
        cols = [
            ColumnTruth("id", "uuid", "key", nullable=False),
            ColumnTruth(
                ref,
                "uuid NOT NULL UNIQUE",
                "fk",
                source=f"{parent.source}.{src.pk[0]}",
                expected=[f"l.{qi(k)}" for k in src.pk],
                references=parent.target,
                nullable=False,
            ),
            *moved,
        ]
        return [
            TableTruth(
                target=child,
                source=parent.source,
                legacy_key=list(parent.legacy_key),
                key_kind="split",
                key_columns=[ref],
                columns=cols,
                split_of=parent.target,
                rows=parent.rows,
            )
        ]


def _key_copy(t: LegacyTable, name: str, kind: str) -> ColumnTruth:
    """A target column holding the legacy key's value (the kept key, or a legacy_id next to
    a UUID key)."""
    pkc = t.column(t.pk[0])
    return ColumnTruth(
        name,
        pkc.sql_type,
        kind,
        source=f"{t.qname}.{pkc.name}",
        expected=[f"l.{qi(pkc.name)}"],
        compare_as=pkc.sql_type,
        nullable=False,
    )


def _create_table(tt: TableTruth) -> str:
    lines = []
    for c in tt.columns:
        decl = f"    {qi(c.target)} {c.sql_type}"
        if c.kind == "key" and tt.key_kind in ("uuid", "kept", "split"):
            decl += " PRIMARY KEY"
        elif not c.nullable and "NOT NULL" not in c.sql_type:
            decl += " NOT NULL"
        lines.append(decl)
    if tt.key_kind == "refs":
        lines.append(f"    PRIMARY KEY ({', '.join(qi(k) for k in tt.key_columns)})")
    return f"CREATE TABLE {qi(tt.target)} (\n" + ",\n".join(lines) + "\n);"


def generate(dsn: str, seed: int, *, database: str) -> Case:
    """A seeded redesign of the legacy database at ``dsn`` (not modified: the legacier edits
    are returned, to be applied to a copy by :func:`materialize`)."""
    return _Gen(dsn, database, seed).build()


def with_database(dsn: str, database: str) -> str:
    """The same server's URI with another database."""
    base, sep, query = dsn.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{database}{sep}{query}"


def materialize(admin_dsn: str, base_db: str, case: Case, legacy_db: str, target_db: str) -> None:
    """Create ``legacy_db`` as a copy of ``base_db`` with the case's legacier edits (views
    dropped: they would pin the columns whose type changes) and ``target_db`` with its DDL."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for db in (legacy_db, target_db):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(legacy_db), sql.Identifier(base_db)
            )
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target_db)))
    with psycopg.connect(with_database(admin_dsn, legacy_db), autocommit=True) as conn:
        if case.legacy_edits:
            views = conn.execute(
                "SELECT format('DROP %s IF EXISTS %I.%I CASCADE', CASE c.relkind WHEN 'm' "
                "THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, n.nspname, c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            for (stmt,) in views:
                conn.execute(stmt)
        for stmt in case.legacy_edits:
            conn.execute(stmt)  # type: ignore[arg-type]
    with psycopg.connect(with_database(admin_dsn, target_db), autocommit=True) as conn:
        conn.execute(case.target_ddl)  # type: ignore[arg-type]
