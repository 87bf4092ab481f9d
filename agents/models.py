"""Typed contracts between the agent roles.

They double as the JSON schema given to an LLM backend, so each field says what it means. All are
frozen and refuse unknown keys: a reply or a hand-edited file with a typo fails loudly instead of
being half-applied.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- schema analysis
class ColumnInfo(Model):
    name: str = Field(description="Column name as stored in the database")
    data_type: str = Field(description="PostgreSQL type name, e.g. integer, text, uuid, numeric")
    udt_name: str = Field(description="Underlying type name; for enums the enum type's name")
    nullable: bool = Field(description="Whether NULL is allowed")
    has_default: bool = Field(default=False, description="Whether the column has a default")
    enum_labels: list[str] | None = Field(default=None, description="Labels if an enum type")
    max_length: int | None = Field(default=None, description="Character limit, if any")
    numeric_scale: int | None = Field(
        default=None, description="numeric(p, s): s; None when unconstrained or not numeric"
    )
    numeric_precision: int | None = Field(default=None, description="numeric(p, s): p")
    domain: str | None = Field(
        default=None, description="The domain the column is declared with, if any"
    )
    sql_type: str | None = Field(
        default=None, description="The type as PostgreSQL prints it (format_type), domains resolved"
    )


class ForeignKeyInfo(Model):
    columns: list[str] = Field(description="Referencing columns in this table")
    ref_table: str = Field(description="Referenced table")
    ref_columns: list[str] = Field(description="Referenced columns")
    declared: bool = Field(description="True if a constraint exists; False if inferred from data")
    confidence: float = Field(default=1.0, description="1.0 for declared keys")
    rationale: str = Field(default="declared constraint", description="Why we believe it")
    dangling: int = Field(
        default=0,
        description="Legacy rows whose reference finds no parent row (a constraint declared "
        "NOT VALID, an engine that never enforced it, or a key inferred from the data)",
    )


class ColumnProfile(Model):
    name: str = Field(description="Column name")
    rows_sampled: int = Field(description="Rows looked at")
    null_count: int = Field(description="NULLs among sampled rows")
    distinct_count: int = Field(description="Distinct non-null values among sampled rows")
    top_values: list[tuple[str, int]] = Field(
        default_factory=list, description="Most frequent values with counts (text form)"
    )
    min_value: str | None = Field(default=None, description="Smallest value (text form)")
    max_value: str | None = Field(default=None, description="Largest value (text form)")


class TableInfo(Model):
    name: str = Field(description="Table name")
    columns: list[ColumnInfo] = Field(description="Columns in ordinal order")
    primary_key: list[str] = Field(default_factory=list, description="Primary key columns")
    key_inferred: bool = Field(
        default=False, description="The key was found in the data, not declared"
    )
    foreign_keys: list[ForeignKeyInfo] = Field(default_factory=list, description="FKs")
    unique: list[list[str]] = Field(default_factory=list, description="Unique constraints")
    row_count: int = Field(default=0, description="Exact row count at analysis time")
    profiles: dict[str, ColumnProfile] = Field(default_factory=dict, description="By column")

    def column(self, name: str) -> ColumnInfo:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def foreign_key_on(self, column: str) -> ForeignKeyInfo | None:
        """The single-column foreign key declared on ``column``, if any."""
        return next((f for f in self.foreign_keys if f.columns == [column]), None)


class DatabaseSchema(Model):
    schema_name: str = Field(default="public", description="PostgreSQL schema analysed")
    tables: list[TableInfo] = Field(description="Tables in name order")

    def table(self, name: str) -> TableInfo:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"no table {name}")

    def has_table(self, name: str) -> bool:
        return any(t.name == name for t in self.tables)


# --------------------------------------------------------------------------- mapping
RuleKind = Literal[
    "copy",
    "uuid_key",
    "fk",
    "enum",
    "boolean",
    "date",
    "timestamp",
    "numeric",
    "constant",
    "code",
    "expression",
]


class Filter(Model):
    column: str = Field(description="Source column the row filter tests")
    op: Literal["eq", "ne", "in", "not_in", "is_null", "not_null"] = Field(description="Operator")
    value: str | int | float | bool | list[str | int | float] | None = Field(
        default=None, description="Operand; a list for in/not_in"
    )


class Hop(Model):
    """One step of a lookup fold: from the previous table to ``table`` through ``link``
    (not ``on``, which YAML reads as the boolean true)."""

    table: str = Field(description="Legacy table reached (schema.table outside the default)")
    link: dict[str, str] = Field(
        description="Columns of the previous table (the mapping's source for the first hop) "
        "-> the columns of this table they reference"
    )


def _text_or_none(value: object) -> str | None:
    """YAML reads 0, true and 1.5 as numbers and booleans; legacy values are text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ColumnRule(Model):
    target: str = Field(description="Target column")
    kind: RuleKind = Field(description="How the value is produced")
    source: str | None = Field(default=None, description="Source column (None for constant)")
    value_map: dict[str, str | None] = Field(
        default_factory=dict,
        description="enum/boolean: source value -> target value; for every kind, a value "
        "mapped to null means 'no value' (a sentinel such as 0, '' or 'NA')",
    )
    value: str | None = Field(default=None, description="constant: the value to write")
    expression: str | None = Field(
        default=None,
        description="expression: one PostgreSQL expression over the legacy row's columns "
        "(e.g. country || '-' || code, lpad(id::text, 3, '0'), slots * 30); parsed before it "
        "runs: no subquery, no statement, only columns of the source",
    )
    if_null: str | None = Field(
        default=None, description="The value written when the legacy value is NULL"
    )
    on_orphan: Literal["reject", "set_null"] = Field(
        default="reject",
        description="fk: a reference to a row that was not migrated rejects its row (default) "
        "or, where the reviewer says the link is optional, is written NULL (set_null) and "
        "counted",
    )
    ref_expressions: list[str] = Field(
        default_factory=list,
        description="fk to a composite legacy key whose parts the row holds in another shape "
        "(a code glued from two): one checked SQL expression per part of the parent's key, in "
        "its order (e.g. left(capital, length(capital) - 3), right(capital, 3))",
    )
    ref_part: str | None = Field(
        default=None,
        description="fk into a merged target: the legacy table (merge part) the reference "
        "points into; its key is then (part, referencing columns)",
    )
    fk_target: str | None = Field(default=None, description="fk: referenced target table")
    ref_sources: list[str] = Field(
        default_factory=list,
        description="fk to a composite legacy key: the referencing legacy columns, in the "
        "order of the parent's key (source is then the first of them)",
    )
    ref_kind: Literal["integer", "natural"] = Field(
        default="integer",
        description="fk: integer when the parent's legacy key is one integer column, natural "
        "when it is text, a UUID or several columns (then hashed to a stable id)",
    )
    defer: bool = Field(
        default=False,
        description="fk: written after the rows load (insert, then set): self-references and "
        "the nullable side of a foreign-key cycle",
    )
    formats: list[str] = Field(default_factory=list, description="date/timestamp input formats")
    timezone: str | None = Field(default=None, description="timestamp: zone of naive values")
    code: str | None = Field(default=None, description="code: Python defining transform(df)")
    confidence: float = Field(default=1.0, description="0..1, how sure the agent is")
    value_confidence: dict[str, float] = Field(
        default_factory=dict,
        description="enum: how sure each legacy value's label is, 0..1 (the rule's confidence "
        "is the least of them; a value below the review threshold is asked)",
    )
    rationale: str = Field(default="", description="Evidence behind the rule")
    evidence: dict[str, float] = Field(
        default_factory=dict,
        description="The scores behind the confidence (name, type fit, margin over the next "
        "candidate, ...): what agents.matching.calibration turns into a probability",
    )
    via: list[Hop] = Field(
        default_factory=list,
        description="A lookup fold: the value is the source column of the last table reached "
        "through these foreign-key hops (a lookup's label, also two or more hops away)",
    )
    cast: str | None = Field(
        default=None,
        description="copy: the target's SQL type the legacy value is cast to in the source query "
        "(a narrowing cast; the plan says how many values lose information); must equal the "
        "target column's type",
    )
    source_type: str | None = Field(
        default=None, description="copy with cast: the legacy column's SQL type"
    )
    reject_lossy: bool = Field(
        default=False,
        description="copy with cast: reject the rows whose value the cast would change",
    )
    unanswered: str | None = Field(
        default=None,
        description="Set by a run with --yes for a required column whose decision nobody "
        "answered: every row is rejected with this question as its reason",
    )

    @field_validator("value_map", mode="before")
    @classmethod
    def _texts(cls, value: object) -> object:
        if isinstance(value, dict):
            return {_text_or_none(k) or "": _text_or_none(v) for k, v in value.items()}
        return value

    @field_validator("value", "if_null", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return _text_or_none(value)

    @field_validator("on_orphan", mode="before")
    @classmethod
    def _orphans(cls, value: object) -> object:
        # `on_orphan: null` in YAML is None: what the reviewer meant is "set it NULL".
        return "set_null" if value is None or value == "null" else value


DecisionAbout = Literal[
    "value", "source", "constant", "format", "pairing", "cast", "key", "orphans"
]


class Decision(Model):
    id: str = Field(description="Stable identifier, e.g. technician_roles.role_type=Supervisor")
    about: DecisionAbout = Field(description="What the answer sets")
    column: str | None = Field(default=None, description="Target column concerned")
    key: str | None = Field(default=None, description="about=value: the source value concerned")
    question: str = Field(description="Plain-language question for the owner")
    options: list[str] = Field(default_factory=list, description="Allowed answers, if closed")
    proposed: str | None = Field(default=None, description="The agent's best guess, if any")
    confidence: float = Field(default=0.0, description="Confidence in the proposal")
    rationale: str = Field(default="", description="Why the agent is unsure")
    answer: str | None = Field(default=None, description="The reviewer's answer")


class MergePart(Model):
    """One legacy table of a merge and how its columns read as the merged relation's."""

    table: str = Field(description="Legacy table (schema.table outside the default schema)")
    columns: dict[str, str] = Field(
        description="Merged column name -> this table's column; a merged column this table "
        "lacks is NULL for its rows"
    )
    filters: list["Filter"] = Field(default_factory=list, description="Rows of this part (AND)")


class TableMapping(Model):
    target: str = Field(description="Target table")
    source: str = Field(description="Primary source table")
    key_source: str | list[str] | None = Field(
        default=None, description="Legacy key column in the source, or its columns if composite"
    )
    key_kind: Literal["integer", "natural"] = Field(
        default="integer",
        description="integer: one integer column, its value is the legacy id; natural: text, "
        "UUID or composite keys, hashed to a stable 48-bit legacy id",
    )
    key_target: str | list[str] | None = Field(
        default=None,
        description="Target primary key column; its columns when composite (a join table "
        "keyed by two references: re-runs upsert on them, no mapping rows are kept)",
    )
    filters: list[Filter] = Field(default_factory=list, description="Rows to migrate (AND)")
    merge: list[MergePart] = Field(
        default_factory=list,
        description="Several legacy tables feeding one target: the rules read the merged "
        "relation (their UNION ALL, with __dbm_part naming each row's table); the key is "
        "then (__dbm_part, key columns)",
    )
    columns: list[ColumnRule] = Field(description="One rule per target column that is written")
    decisions: list[Decision] = Field(default_factory=list, description="Questions for a human")
    confidence: float = Field(default=1.0, description="Confidence in the table pairing")
    rationale: str = Field(default="", description="Why this source feeds this target")

    @property
    def key_columns(self) -> list[str]:
        """The legacy key's columns, whatever its kind."""
        if self.key_source is None:
            return []
        return [self.key_source] if isinstance(self.key_source, str) else list(self.key_source)

    @property
    def target_key_columns(self) -> list[str]:
        if self.key_target is None:
            return []
        return [self.key_target] if isinstance(self.key_target, str) else list(self.key_target)

    @property
    def uuid_target(self) -> str | None:
        """The single target key column the legacy key's UUID goes to, if there is one (a
        key the redesign keeps as it was is copied, and has no UUID to record)."""
        if not isinstance(self.key_target, str):
            return None
        kept = any(r.target == self.key_target and r.kind != "uuid_key" for r in self.columns)
        return None if kept else self.key_target

    @property
    def integer_key(self) -> str | None:
        """The key column when the legacy key is one integer column (the fast path's case)."""
        cols = self.key_columns
        return cols[0] if self.key_kind == "integer" and len(cols) == 1 else None

    def feeds(self) -> list[str]:
        """Every legacy table this mapping reads: its source (or the tables it merges) and the
        tables folds reach."""
        out = [p.table for p in self.merge] or [self.source]
        for rule in self.columns:
            out += [h.table for h in rule.via if h.table not in out]
        return out

    def fk_targets(self) -> list[str]:
        return sorted({r.fk_target for r in self.columns if r.kind == "fk" and r.fk_target})


class TablePlan(Model):
    target: str = Field(description="Target table")
    source: str | None = Field(description="Primary source table, None if unpaired")
    depends_on: list[str] = Field(default_factory=list, description="Targets loaded before")
    set_after: list[str] = Field(
        default_factory=list,
        description="Targets of a foreign-key cycle loaded after this one: references to them "
        "are set once they are in (insert, then set)",
    )
    rows_estimate: int = Field(default=0, description="Source rows")
    batch_size: int = Field(default=50_000, description="Rows per committed batch")
    partitions: list[str] = Field(
        default_factory=list,
        description="Key ranges 'lo:hi' (hi exclusive) loaded as parallel partitions",
    )
    confidence: float = Field(default=0.0, description="Pairing confidence")
    rationale: str = Field(default="", description="Pairing evidence")
    evidence: dict[str, float] = Field(
        default_factory=dict,
        description="The scores behind the pairing's confidence (see agents.matching.calibration)",
    )
    merge: dict[str, str] = Field(
        default_factory=dict,
        description="A merge: every legacy table whose rows this target unites (source among "
        "them) -> the label its rows take in merge_column",
    )
    merge_column: str | None = Field(
        default=None, description="A merge: the target column that says which table a row is from"
    )


class MigrationPlan(Model):
    order: list[str] = Field(description="Target tables in load order (FK parents first)")
    tables: list[TablePlan] = Field(description="Per target table")
    unmapped_sources: list[str] = Field(default_factory=list, description="Sources nobody uses")
    warnings: list[str] = Field(default_factory=list, description="Things a human should read")
    review_threshold: float = Field(
        default=0.9,
        description="Rules and pairings below this confidence are listed for review; set from "
        "the benchmark so that every wrong proposal there fell below it",
    )


# --------------------------------------------------------------------------- validation
class CheckOutcome(Model):
    name: str = Field(description="Check name")
    passed: bool = Field(description="Whether it passed")
    detail: str = Field(description="One-line explanation with numbers")


class TableReport(Model):
    target: str
    sources: list[str]
    rows_source: int
    rows_migrated: int
    rows_rejected: int
    checks: list[CheckOutcome]
    reject_samples: list[dict[str, str]] = Field(default_factory=list)
    seconds: float | None = None
    rows_excluded: int = Field(default=0, description="Legacy rows the filters left out")
    excluded_by: str = Field(default="", description="The filters, in words")
    run_id: str = Field(default="", description="The run these numbers belong to")
    finished_at: str = Field(default="", description="When that run finished this table")
    blocked_by: str = Field(default="", description="For a table not run: what stopped it")
    notes: str = Field(default="", description="What the load changed on purpose, in words")


class LegacyTableLeft(Model):
    """A legacy table no mapping reads: left out of the migration, with its size."""

    table: str
    rows: int


class MigrationReport(Model):
    passed: bool
    tables: list[TableReport]
    not_migrated: list[LegacyTableLeft] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    generated_at: str = ""


# --------------------------------------------------------------------------- LLM replies
class ValueLabel(Model):
    value: str = Field(description="The legacy value, exactly as given")
    label: str | None = Field(description="One of the enum labels, or null if unclear")
    confidence: float = Field(ge=0, le=1, description="0..1")
    rationale: str = Field(default="", description="The evidence, briefly")


class ValueLabels(Model):
    items: list[ValueLabel] = Field(description="One item per legacy value")


class ColumnMatch(Model):
    target: str = Field(description="Target column name, exactly as given")
    source: str | None = Field(description="Legacy column name as given, or null")
    confidence: float = Field(ge=0, le=1, description="0..1")
    rationale: str = Field(default="", description="The evidence, briefly")


class ColumnMatches(Model):
    items: list[ColumnMatch] = Field(description="One item per unmatched target column")


class GeneratedCode(Model):
    code: str = Field(description="Python source defining transform(df) -> DataFrame")
    rationale: str = Field(default="", description="What the code does, briefly")
