"""Cell by cell: every value a migration wrote against the value the truth says it must hold.

Why: column-level scores (was the right source proposed?) miss what an owner sees: wrong values
in the new database. Here each target row is paired with its legacy row through the key (the
UUID's entry in ``dbmigrate.migration_mappings``, the kept legacy key's value, or for a key made
of references or a 1:1 split child, the references decoded through their parents' mappings), and
each cell is compared with the truth's expected SQL evaluated on that legacy row, cast to the
target column's type on the legacy side, both compared as text. References are compared in
legacy-key space (a target UUID decoded through the referenced table's mappings). A legacy row
with no target row makes every scored cell of it wrong.

A wrong cell is *silent* when it was written (its row is in the target) and nothing asked a
reviewer to look at its rule: the rule's confidence
is at or above ``review_threshold`` (``plan.yaml``, default 0.9 while absent), no decision names
its column, and the table's pairing is at or above the threshold too. A column with no rule is
flagged only when a decision names it.

At most ``SAMPLE`` legacy rows per table are scored, picked deterministically by the md5 of the
key's text (the report says when a table was sampled).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import yaml

from bench.redesign import ColumnTruth, TableTruth, qi, ql

SAMPLE = 3000
DEFAULT_THRESHOLD = 0.9
_NO_ROW = "<no target row>"
_UNMAPPED = "<uuid not in migration_mappings>"


@dataclass
class ColumnScore:
    """One target column of one case."""

    table: str
    column: str
    kind: str  # the truth's kind
    cells: int = 0
    wrong: int = 0
    confidence: float | None = None  # the rule's; None when there is no rule
    rule_kind: str | None = None
    rule_source: str | None = None
    flagged: bool = False
    absent: int = 0  # of the wrong cells, those of legacy rows with no target row
    examples: list[str] = field(default_factory=list)  # a few "expected -> got"

    @property
    def silent(self) -> int:
        """Wrong values *written* under an unflagged rule. A legacy row with no target row was
        not written: the product reported it (rejected with its reason, or its table failed or
        was blocked, by name), so its cells count against cells right, not as silent."""
        return 0 if self.flagged else self.wrong - self.absent


@dataclass
class TableScore:
    table: str
    legacy_rows: int
    scored_rows: int
    missing_rows: int
    extra_rows: int
    sampled: bool
    columns: list[ColumnScore]
    error: str = ""


@dataclass
class Review:
    """What the project asks a reviewer to look at."""

    threshold: float
    pairing: dict[str, float]
    rules: dict[str, dict[str, dict[str, Any]]]  # target -> column -> rule
    decided: dict[str, set[str]]  # target -> columns with a decision

    @classmethod
    def load(cls, project: Path) -> Review:
        plan_path = project / "plan.yaml"
        plan = yaml.safe_load(plan_path.read_text()) if plan_path.exists() else {}
        plan = plan or {}
        threshold = float(plan.get("review_threshold", DEFAULT_THRESHOLD))
        pairing = {
            str(t["target"]): float(t.get("confidence") or 0.0) for t in plan.get("tables") or []
        }
        rules: dict[str, dict[str, dict[str, Any]]] = {}
        decided: dict[str, set[str]] = {}
        for path in sorted((project / "mappings").glob("*.yaml")):
            m = yaml.safe_load(path.read_text()) or {}
            target = str(m.get("target", path.stem))
            rules[target] = {str(r["target"]): r for r in m.get("columns") or []}
            rules[target]["__mapping__"] = m
            decided[target] = {
                str(d["column"]) for d in m.get("decisions") or [] if d.get("column")
            }
        return cls(threshold, pairing, rules, decided)

    def rule(self, table: str, column: str) -> dict[str, Any] | None:
        return self.rules.get(table, {}).get(column)

    def mapping(self, table: str) -> dict[str, Any]:
        return self.rules.get(table, {}).get("__mapping__") or {}

    def flagged(self, table: str, column: str) -> bool:
        if column in self.decided.get(table, set()):
            return True
        rule = self.rule(table, column)
        if rule is None:
            return False
        if float(rule.get("confidence", 1.0)) < self.threshold:
            return True
        return self.pairing.get(table, 0.0) < self.threshold


class _Mappings:
    """``dbmigrate.migration_mappings`` of the target, read once: (entity, uuid) -> legacy key."""

    def __init__(self, target_dsn: str) -> None:
        self.rows: dict[tuple[str, str], tuple[int | None, str | None]] = {}
        with psycopg.connect(target_dsn) as conn:
            exists = conn.execute(
                "SELECT to_regclass('dbmigrate.migration_mappings') IS NOT NULL"
            ).fetchone()
            if exists and exists[0]:
                for entity, new_id, legacy_id, legacy_key in conn.execute(
                    "SELECT entity_type, new_id::text, legacy_id, legacy_key "
                    "FROM dbmigrate.migration_mappings"
                ):
                    self.rows[(entity, new_id)] = (legacy_id, legacy_key)

    def decode(self, entity: str, new_id: str | None, parts: int) -> tuple[str | None, ...] | str:
        """The legacy key parts a UUID stands for (text), or a marker when it is unknown."""
        if new_id is None:
            return (None,) * parts
        hit = self.rows.get((entity, new_id))
        if hit is None and "." in entity:
            hit = self.rows.get((entity.split(".", 1)[1], new_id))
        if hit is None:
            return _UNMAPPED
        legacy_id, legacy_key = hit
        if legacy_key is None:
            return (str(legacy_id),)
        if parts > 1 or (legacy_key.startswith('["') and legacy_key.endswith('"]')):
            try:
                got = json.loads(legacy_key)
            except ValueError:
                return (legacy_key,)
            if isinstance(got, list) and (parts > 1 or len(got) == 1):
                return tuple(None if v is None else str(v) for v in got)
        return (legacy_key,)


def legacy_relation(tt: TableTruth) -> str:
    """What a target's legacy rows are read from: its table, or a merge's union (a subquery)."""
    return f"({tt.union})" if tt.union else _sql_name(tt.source)


def _sql_name(qualified: str) -> str:
    """A table name of the truth (``cd.members``, ``"HR"."EMPLOYEES"``, ``track``) as SQL."""
    parts = split_name(qualified)
    return ".".join(qi(p) for p in parts)


def split_name(qualified: str) -> list[str]:
    """Parts of a dotted name whose parts may be double-quoted."""
    return [
        a.replace('""', '"') if a else b
        for a, b in re.findall(r'"((?:[^"]|"")*)"|([^".]+)', qualified)
    ]


def _target_types(target_dsn: str) -> dict[tuple[str, str], tuple[str, bool]]:
    """(table, column) -> (format_type, builtin?) of every target column."""
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    with psycopg.connect(target_dsn) as conn:
        for schema, table, col, typ, builtin in conn.execute(
            """
            SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   tn.nspname = 'pg_catalog'
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
            WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbmigrate')
            """
        ):
            name = table if schema == "public" else f"{schema}.{table}"
            out[(name, col)] = (typ, builtin)
    return out


def score_tables(
    tables: list[TableTruth],
    legacy_dsn: str,
    target_dsn: str,
    project: Path,
    *,
    sample: int = SAMPLE,
    filters: dict[str, str] | None = None,
) -> list[TableScore]:
    """Score every cell the truth can score (see the module's docstring)."""
    review = Review.load(project)
    maps = _Mappings(target_dsn)
    types = _target_types(target_dsn)
    tables = _keyed_as_the_product(tables, review, legacy_dsn)
    by_name = {t.target: t for t in tables}
    return [
        _score_table(tt, by_name, legacy_dsn, target_dsn, review, maps, types, sample, filters)
        for tt in tables
    ]


def _product_key(mapping: dict[str, Any]) -> list[str]:
    got = mapping.get("key_source")
    if isinstance(got, str):
        return [got]
    return [str(k) for k in got] if isinstance(got, list) else []


def _keyed_as_the_product(
    tables: list[TableTruth], review: Review, legacy_dsn: str
) -> list[TableTruth]:
    """Rows paired by the key the product chose, where it chose another legacy key.

    A table with no declared key is identified by a column set unique in its data, and
    several may be: the truth names one (often every column), the product the smallest it
    found. Either identifies the same rows, so cells are paired through the product's, once
    the legacy data confirms it is unique there; references into the table are then expected
    as the referenced row's values of that key. Where it is not unique (rows the product
    would have collapsed), the truth's key stays, and the collapsed rows count as absent."""
    out: list[TableTruth] = []
    rekeyed: dict[str, tuple[TableTruth, list[str]]] = {}
    with psycopg.connect(legacy_dsn) as conn:
        for tt in tables:
            key = _product_key(review.mapping(tt.target))
            if (
                tt.key_kind != "uuid"
                or tt.union
                or tt.split_of
                or not key
                or [norm(k) for k in key] == [norm(k) for k in tt.legacy_key]
            ):
                out.append(tt)
                continue
            cols = ", ".join(f"l.{qi(k)}" for k in key)
            try:
                row = conn.execute(
                    f"SELECT count(*) = count(DISTINCT ({cols}, 0)) "  # type: ignore[arg-type]
                    f"FROM {_sql_name(tt.source)} l"
                ).fetchone()
            except psycopg.Error:
                conn.rollback()
                row = None
            if not row or not row[0]:
                out.append(tt)
                continue
            new = replace(tt, legacy_key=key)
            rekeyed[tt.target] = (tt, key)
            out.append(new)
    if not rekeyed:
        return out
    return [_references_rekeyed(tt, rekeyed) for tt in out]


def _references_rekeyed(
    tt: TableTruth, rekeyed: dict[str, tuple[TableTruth, list[str]]]
) -> TableTruth:
    """A reference into a re-keyed table is expected as its row's values of the new key."""
    columns = []
    for c in tt.columns:
        hit = rekeyed.get(c.references or "") if c.kind == "fk" else None
        if hit is None or not c.expected:
            columns.append(c)
            continue
        parent, key = hit
        if len(parent.legacy_key) != len(c.expected):
            columns.append(c)
            continue
        match = _parent_match(parent.legacy_key, c.expected)
        source = _sql_name(parent.source)
        expected = [f"(SELECT p.{qi(k)} FROM {source} p WHERE {match} LIMIT 1)" for k in key]
        columns.append(replace(c, expected=expected))
    return replace(tt, columns=columns)


def _score_table(
    tt: TableTruth,
    by_name: dict[str, TableTruth],
    legacy_dsn: str,
    target_dsn: str,
    review: Review,
    maps: _Mappings,
    types: dict[tuple[str, str], tuple[str, bool]],
    sample: int,
    filters: dict[str, str] | None,
) -> TableScore:
    scored = [c for c in tt.columns if c.expected is not None and c.kind != "key_uuid"]
    scored = [c for c in scored if not (c.kind == "key" and c.sql_type == "uuid")]
    scores = {c.target: ColumnScore(tt.target, c.target, c.kind) for c in scored}
    for c in scored:
        rule = review.rule(tt.target, c.target)
        s = scores[c.target]
        s.flagged = review.flagged(tt.target, c.target)
        if rule is not None:
            s.confidence = float(rule.get("confidence", 1.0))
            s.rule_kind = str(rule.get("kind"))
            s.rule_source = rule_source(review.mapping(tt.target), rule)
    # Legacy side: key parts, then each expected value cast to the target's type.
    key_sql = [f"l.{qi(k)}::text" for k in tt.legacy_key]
    key_text = key_sql[0] if len(key_sql) == 1 else f"json_build_array({', '.join(key_sql)})::text"
    select = list(key_sql)
    for c in scored:
        exprs = c.expected or []
        if c.kind == "fk":
            select += _reference_exprs(c, exprs, by_name.get(c.references or ""))
            continue
        typ, builtin = types.get((tt.target, c.target), ("text", True))
        cast = typ if builtin and typ != "uuid" else "text"
        select.append(f"(({exprs[0]})::{cast})::text")
    where = f" WHERE {filters[tt.target]}" if filters and tt.target in filters else ""
    source = legacy_relation(tt)
    with psycopg.connect(legacy_dsn) as conn:
        try:
            total_row = conn.execute(f"SELECT count(*) FROM {source} l{where}").fetchone()  # type: ignore[arg-type]
            total = int(total_row[0]) if total_row else 0
            limit = f" ORDER BY md5({key_text}) LIMIT {sample}" if total > sample else ""
            legacy_rows = conn.execute(
                f"SELECT {', '.join(select)} FROM {source} l{where}{limit}"  # type: ignore[arg-type]
            ).fetchall()
            all_keys = (
                {
                    tuple(r)
                    for r in conn.execute(
                        f"SELECT {', '.join(key_sql)} FROM {source} l{where}"  # type: ignore[arg-type]
                    )
                }
                if limit
                else set()
            )
        except psycopg.Error as exc:
            return TableScore(
                tt.target, 0, 0, 0, 0, False, [], f"expected values: {str(exc).splitlines()[0]}"
            )
    # Target side: the pairing key decoded to legacy key text, then each column as text.
    tsql = _sql_name(tt.target)
    kparts = len(tt.legacy_key)
    try:
        with psycopg.connect(target_dsn) as conn:
            tcols = [f"t.{qi(k)}::text" for k in tt.key_columns] + [
                f"t.{qi(c.target)}::text" for c in scored
            ]
            target_rows = conn.execute(f"SELECT {', '.join(tcols)} FROM {tsql} t").fetchall()  # type: ignore[arg-type]
    except psycopg.Error as exc:
        target_rows = []
        error = f"target: {str(exc).splitlines()[0]}"
    else:
        error = ""
    nk = len(tt.key_columns)
    got: dict[tuple[str | None, ...], tuple[Any, ...]] = {}
    extra = 0
    for row in target_rows:
        key = _pair_key(tt, by_name, maps, row[:nk], kparts)
        if key is None or key in got:
            extra += 1
            continue
        got[key] = row[nk:]
    missing = 0
    for lrow in legacy_rows:
        key = tuple(lrow[:kparts])
        trow = got.pop(key, None)
        if trow is None:
            missing += 1
        i = kparts
        for j, c in enumerate(scored):
            s = scores[c.target]
            if c.kind == "fk":
                n = len(c.expected or [])
                want: Any = tuple(lrow[i : i + n])
                i += n
                if all(v is None for v in want):
                    want = None
                have: Any = _NO_ROW if trow is None else _decode_ref(c, by_name, maps, trow[j], n)
            else:
                want = lrow[i]
                i += 1
                have = _NO_ROW if trow is None else trow[j]
            s.cells += 1
            if want != have:
                s.wrong += 1
                s.absent += trow is None
                if len(s.examples) < 3:
                    s.examples.append(f"{want!r} -> {have!r}")
    extra += sum(k not in all_keys for k in got)  # unsampled legacy rows are not extra
    return TableScore(
        tt.target,
        total,
        len(legacy_rows),
        missing,
        extra,
        total > sample,
        list(scores.values()),
        error,
    )


def _parent_match(key: list[str], exprs: list[str]) -> str:
    """SQL: the parent row (alias p) whose key parts equal a reference's expressions."""
    return " AND ".join(f"p.{qi(k)} = ({e})" for k, e in zip(key, exprs, strict=True))


def _reference_exprs(c: ColumnTruth, exprs: list[str], parent: TableTruth | None) -> list[str]:
    """A reference's expected parts. A link the legacy data leaves dangling (a constraint never
    enforced) cannot stand in the redesign, whose constraint refuses it: in a column that may
    be empty its truth is NULL (in a required one the row cannot be migrated at all)."""
    plain = [f"({e})::text" for e in exprs]
    if parent is None or not c.nullable or len(parent.legacy_key) != len(exprs):
        return plain
    match = _parent_match(parent.legacy_key, exprs)
    there = f"EXISTS (SELECT 1 FROM {_sql_name(parent.source)} p WHERE {match})"
    return [f"CASE WHEN {there} THEN {e} END" for e in plain]


def _decode_ref(
    c: ColumnTruth, by_name: dict[str, TableTruth], maps: _Mappings, value: str | None, n: int
) -> Any:
    if value is None:
        return None
    parent = by_name.get(c.references or "")
    if parent is not None and parent.key_kind == "kept":
        return (value,)
    got = maps.decode(c.references or "", value, n)
    return got


def _pair_key(
    tt: TableTruth,
    by_name: dict[str, TableTruth],
    maps: _Mappings,
    values: tuple[Any, ...],
    parts: int,
) -> tuple[str | None, ...] | None:
    """The legacy key a target row stands for, or None when it cannot be told."""
    if tt.key_kind == "kept":
        return tuple(values)
    if tt.key_kind == "uuid":
        got = maps.decode(tt.target, values[0], parts)
        return None if isinstance(got, str) else got
    out: list[str | None] = []
    for k, v in zip(tt.key_columns, values, strict=False):
        col = tt.column(k)
        n = len(col.expected or []) or 1
        dec = _decode_ref(col, by_name, maps, v, n)
        if dec is None or isinstance(dec, str):
            return None
        out += list(dec)
    return tuple(out)


def rule_source(mapping: dict[str, Any], rule: dict[str, Any]) -> str | None:
    """``table.column`` a rule reads: the last hop's table for a fold, else the mapping's
    source (for a merge, the first part whose column map names the source)."""
    if not rule.get("source"):
        return None
    via = rule.get("via") or []
    if not via:
        for part in mapping.get("merge") or []:
            if rule["source"] in part.get("columns", {}):
                return f"{part['table']}.{part['columns'][rule['source']]}"
    where = via[-1]["table"] if via else mapping.get("source", "")
    return f"{where}.{rule['source']}"


def norm(name: str) -> str:
    return name.replace('"', "").lower()


def source_matches(got: str | None, want: str | None) -> bool:
    return got is not None and want is not None and norm(got).endswith(norm(want))


@dataclass
class MappingScore:
    columns_right: int = 0
    columns_proposed: int = 0  # rules with a source, on columns the truth knows
    columns_truth: int = 0  # truth columns with a source
    values_right: int = 0  # truth value-map entries proposed right
    values_truth: int = 0
    values_proposed_right: int = 0
    values_proposed: int = 0  # proposed entries on columns the truth gives a value map
    misses: list[str] = field(default_factory=list)
    # (confidence, right) of every proposed value-map entry the truth gives, where the rule
    # says how sure it was of that value (enum rules: ColumnRule.value_confidence)
    values: list[tuple[float, bool]] = field(default_factory=list)


def _same(a: object, b: object) -> bool:
    return a is not None and b is not None and str(a).lower() == str(b).lower()


def score_mappings(tables: list[TableTruth], project: Path) -> MappingScore:
    """Column sources and value-map entries proposed against the truth (precision over what
    was proposed, recall over what the truth has)."""
    review = Review.load(project)
    out = MappingScore()
    for tt in tables:
        mapping = review.mapping(tt.target)
        for c in tt.columns:
            if c.kind == "key" and c.sql_type == "uuid":
                continue
            rule = review.rule(tt.target, c.target)
            got = rule_source(mapping, rule) if rule else None
            ok = source_matches(got, c.source)
            if got is not None:
                out.columns_proposed += 1
                out.columns_right += ok
            if c.source is not None:
                out.columns_truth += 1
                if not ok:
                    out.misses.append(f"{tt.target}.{c.target}: {got} instead of {c.source}")
            elif got is not None:
                out.misses.append(f"{tt.target}.{c.target}: {got} proposed, truth has no source")
            if not c.value_map:
                continue
            proposed = {str(k): v for k, v in ((rule or {}).get("value_map") or {}).items()}
            sure = {
                str(k): float(v) for k, v in ((rule or {}).get("value_confidence") or {}).items()
            }
            for legacy, label in c.value_map.items():
                out.values_truth += 1
                p = proposed.get(legacy)
                if _same(p, label):
                    out.values_right += 1
                else:
                    out.misses.append(f"{tt.target}.{c.target}[{legacy!r}]: {p} not {label}")
                if p is not None and legacy in sure:
                    out.values.append((sure[legacy], _same(p, label)))
            for legacy, p in proposed.items():
                out.values_proposed += 1
                out.values_proposed_right += _same(p, c.value_map.get(legacy))
    return out


def reference_migration(tables: list[TableTruth], legacy_dsn: str, target_dsn: str) -> None:
    """Migrate by the truth itself: every target row inserted with its expected values, UUIDs
    recorded in ``dbmigrate.migration_mappings`` as the product records them. Scoring this
    must give 100% (the scorer's own check)."""
    import uuid

    ids: dict[tuple[str, tuple[str | None, ...]], str] = {}
    rows: dict[str, list[tuple[Any, ...]]] = {}
    kinds: dict[str, str] = {}
    with psycopg.connect(legacy_dsn) as conn:
        for tt in tables:
            key = ", ".join(f"l.{qi(k)}::text" for k in tt.legacy_key)
            first = qi(tt.legacy_key[0])
            kind_row = conn.execute(
                f"SELECT pg_typeof(l.{first})::text FROM {legacy_relation(tt)} l LIMIT 1"  # type: ignore[arg-type]
            ).fetchone()
            kinds[tt.target] = str(kind_row[0]) if kind_row else "text"
            exprs = [f"({e})::text" for c in tt.columns for e in (c.expected or [])]
            rows[tt.target] = conn.execute(
                f"SELECT {', '.join([key, *exprs])} FROM {legacy_relation(tt)} l"  # type: ignore[arg-type]
            ).fetchall()
            if tt.key_kind in ("uuid", "split"):
                for r in rows[tt.target]:
                    ids[(tt.target, tuple(r[: len(tt.legacy_key)]))] = str(uuid.uuid4())
    types = _target_types(target_dsn)
    by_name = {t.target: t for t in tables}
    with psycopg.connect(target_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA IF NOT EXISTS dbmigrate; CREATE TABLE IF NOT EXISTS "
            "dbmigrate.migration_mappings (entity_type text, legacy_id bigint, new_id uuid, "
            "legacy_key text)"
        )
        conn.execute("SET session_replication_role = replica")
        for tt in tables:
            n = len(tt.legacy_key)
            names = [
                c.target
                for c in tt.columns
                if c.expected is not None or (c.kind == "key" and c.sql_type == "uuid")
            ]
            casts = [types[(tt.target, c)][0] for c in names]
            q = (
                f"INSERT INTO {_sql_name(tt.target)} ({', '.join(qi(c) for c in names)}) "
                f"VALUES ({', '.join(f'%s::{t}' for t in casts)})"
            )
            for number, r in enumerate(rows[tt.target]):
                legacy = tuple(r[:n])
                values: list[Any] = []
                i = n
                for c in tt.columns:
                    if c.kind == "key" and c.sql_type == "uuid":
                        values.append(
                            ids[(tt.target, legacy)] if tt.key_kind == "uuid" else str(uuid.uuid4())
                        )
                        continue
                    if c.expected is None:
                        continue
                    k = len(c.expected)
                    part = tuple(r[i : i + k])
                    i += k
                    if c.kind != "fk":
                        values.append(part[0])
                    elif all(v is None for v in part):
                        values.append(None)
                    elif by_name[c.references or ""].key_kind == "kept":
                        values.append(part[0])
                    else:
                        values.append(ids[(c.references or "", part)])
                conn.execute(q, values)  # type: ignore[arg-type]
                if tt.key_kind == "uuid":
                    integer = n == 1 and kinds[tt.target] in ("integer", "bigint", "smallint")
                    conn.execute(
                        "INSERT INTO dbmigrate.migration_mappings VALUES (%s, %s, %s, %s)",
                        (
                            tt.target,
                            int(legacy[0]) if integer and legacy[0] is not None else number,
                            ids[(tt.target, legacy)],
                            None if integer else legacy[0] if n == 1 else json.dumps(list(legacy)),
                        ),
                    )


# ----------------------------------------------------------------------------- hand-written
_CAST_OK = re.compile(r"unchanged|cut to its date|rounded to|widened|as is", re.IGNORECASE)


def truth_from_corpus(truth: dict[str, Any]) -> tuple[list[TableTruth], dict[str, str], list[str]]:
    """A hand-written ``truth.yaml`` as the scorer's tables, where its kinds allow: copies,
    legacy keys, references, folds, enums with a value map and casts whose rule is a plain
    cast. Returns (tables, row filters, what could not be scored)."""
    tables: list[TableTruth] = []
    filters: dict[str, str] = {}
    unscored: list[str] = []
    for t in truth["tables"]:
        target = str(t["target"])
        sources = t.get("sources") or []
        key = t.get("legacy_key")
        if len(sources) != 1 or not isinstance(key, list):
            unscored.append(f"{target}: merged from {len(sources)} tables (not scored)")
            continue
        src = str(sources[0])
        cols_spec: dict[str, Any] = t.get("columns") or {}
        cols: list[ColumnTruth] = []
        key_kind, key_columns = "kept", []
        if t.get("filter"):
            filters[target] = str(t["filter"])
        for name, spec in cols_spec.items():
            spec = spec or {}
            kind = str(spec.get("kind"))
            frm = spec.get("from")
            if kind == "uuid_key":
                key_kind, key_columns = "uuid", [name]
                cols.append(ColumnTruth(name, "uuid", "key", nullable=False))
                continue
            if not isinstance(frm, str):
                if frm is not None:
                    unscored.append(f"{target}.{name}: several sources")
                cols.append(ColumnTruth(name, "", kind, source=None))
                continue
            parts = split_name(frm)
            col = parts[-1]
            lc = f"l.{qi(col)}"
            via_spec = spec.get("via") or []
            expr: str | None = lc
            via: list[dict[str, Any]] = []
            if via_spec:
                expr, via = _fold_sql(src, via_spec, col)
            value_map = {str(k): str(v) for k, v in (spec.get("value_map") or {}).items()}
            if kind == "enum" and value_map and expr is not None:
                case = " ".join(f"WHEN {ql(k)} THEN {ql(v)}" for k, v in value_map.items())
                expr = f"CASE ({expr})::text {case} END"
            elif kind == "cast" and not _CAST_OK.search(str(spec.get("rule") or "")):
                unscored.append(f"{target}.{name}: cast '{spec.get('rule')}'")
                expr = None
            elif kind not in ("copy", "legacy_key", "fk", "fold", "cast", "enum"):
                unscored.append(f"{target}.{name}: kind {kind}")
                expr = None
            if kind == "fk" and spec.get("rule"):
                unscored.append(f"{target}.{name}: reference '{spec.get('rule')}'")
                expr = None
            refs = spec.get("references")
            cols.append(
                ColumnTruth(
                    name,
                    "",
                    "fk" if kind == "fk" else kind,
                    source=frm,
                    via=via,
                    value_map=value_map,
                    expected=None if expr is None else [expr],
                    references=str(refs) if refs else None,
                )
            )
        if key_kind == "kept":
            pk = [
                c for c in cols if c.source and split_name(c.source)[-1] in key and c.kind != "fk"
            ]
            fks = [
                c for c in cols if c.kind == "fk" and c.source and split_name(c.source)[-1] in key
            ]
            if len(key) == 1 and pk:
                key_columns = [pk[0].target]
            elif len(fks) == len(key):
                key_kind = "refs"
                order = {c.target: key.index(split_name(c.source or "")[-1]) for c in fks}
                key_columns = sorted(order, key=order.__getitem__)
            else:
                unscored.append(f"{target}: rows cannot be paired (no uuid key, no kept key)")
                continue
        elif (
            len(key) == 1
            and any(
                c.kind == "fk" and c.source and split_name(c.source)[-1] == key[0] for c in cols
            )
            and any(o.get("sources") == sources and o["target"] != target for o in truth["tables"])
        ):
            # A 1:1 split child: its own UUID is new, its reference to the parent pairs it.
            ref = next(
                c
                for c in cols
                if c.kind == "fk" and c.source and split_name(c.source)[-1] == key[0]
            )
            key_kind, key_columns = "split", [ref.target]
        tables.append(TableTruth(target, src, list(key), key_kind, key_columns, cols))
    return tables, filters, unscored


def _fold_sql(src: str, via: list[str], col: str) -> tuple[str | None, list[dict[str, Any]]]:
    """A scalar subquery following ``a.x -> b.y`` hops from the legacy row to ``col``."""
    hops: list[dict[str, Any]] = []
    prev = "l"
    joins: list[str] = []
    first = ""
    for i, hop in enumerate(via):
        left, _, right = (h.strip() for h in str(hop).partition("->"))
        lp, rp = split_name(left), split_name(right)
        table = ".".join(qi(p) for p in rp[:-1])
        alias = f"h{i}"
        cond = f"{alias}.{qi(rp[-1])} = {prev}.{qi(lp[-1])}"
        if i == 0:
            first = f"{table} {alias}"
            where = cond
        else:
            joins.append(f"JOIN {table} {alias} ON {cond}")
        hops.append({"table": ".".join(rp[:-1]), "link": {lp[-1]: rp[-1]}})
        prev = alias
    sub = f"(SELECT {prev}.{qi(col)} FROM {first} {' '.join(joins)} WHERE {where} LIMIT 1)"
    return sub, hops


def counts(scores: list[TableScore]) -> tuple[int, int, int]:
    """(cells, wrong cells, silent wrong cells)."""
    cells = sum(c.cells for t in scores for c in t.columns)
    wrong = sum(c.wrong for t in scores for c in t.columns)
    silent = sum(c.silent for t in scores for c in t.columns)
    return cells, wrong, silent


def miss_kinds(scores: list[TableScore]) -> Counter[str]:
    """Wrong cells by the truth's kind of column."""
    out: Counter[str] = Counter()
    for t in scores:
        for c in t.columns:
            if c.wrong:
                out[c.kind] += c.wrong
    return out
