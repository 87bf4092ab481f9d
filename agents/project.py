"""A migration project on disk: reviewable YAML that a person edits and the runner trusts.

Layout of ``DIR``::

    project.yaml            namespace (UUID seed), schemas, settings; DSNs shown redacted
    .env                    the DSNs themselves (mode 0600, never printed)
    plan.yaml               pairing and load order, with warnings
    mappings/<target>.yaml  one TableMapping per target table, decisions included
    analysis/*.json         the schemas the proposals were made from
    report.md, report.json  written by ``run``

Mapping files are validated on load; errors point at the file and line of the offending key.
"""

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from agents.db import redact
from agents.errors import MappingError
from agents.models import ColumnRule, DatabaseSchema, Decision, MigrationPlan, Model, TableMapping

MAPPING_HEADER = """\
# Mapping for target table {target} (from legacy {source}).
# Review, edit and save; `dbmigrate run` validates this file before anything is written.
#   columns[].kind: copy | uuid_key | fk | enum | boolean | date | timestamp | numeric
#                   | constant | code
#   columns[].value_map: legacy value -> target value (enum/boolean)
#   filters: rows to migrate, e.g. {{column: group_id, op: eq, value: 11}}
#   decisions[].answer: fill in to decide; an open decision blocks `run` unless --yes is given,
#   which accepts `proposed` where there is one.
"""

M = TypeVar("M", bound=BaseModel)

SOURCE_ENV = "DBMIGRATE_SOURCE_DSN"
TARGET_ENV = "DBMIGRATE_TARGET_DSN"


class ProjectSettings(Model):
    namespace: str = Field(description="Seed of the stable legacy-id -> UUID function")
    source_schema: str = Field(default="public", description="Legacy schema")
    target_schema: str = Field(default="public", description="Target schema")
    bookkeeping_schema: str = Field(
        default="dbmigrate",
        description="The target's schema for the migration_* tables: never one Supabase's API "
        "exposes (public); created with no privilege for the anon and authenticated roles",
    )
    source_display: str = Field(default="", description="Source DSN, password redacted")
    target_display: str = Field(default="", description="Target DSN, password redacted")
    target_role: str | None = Field(default=None, description="SET ROLE for writes (RLS)")
    max_reject_ratio: float = Field(default=0.05, description="Fail a table above this share")
    embedded: bool = Field(default=False, description="Databases live in the embedded server")
    partition_rows: int = Field(
        default=20_000_000,
        description="Tables with more legacy rows are split into key-range partitions",
    )
    delete_policy: Literal["keep", "delete"] = Field(
        default="keep",
        description="Legacy rows deleted after migration: keep their target rows, or delete them",
    )


class Project(BaseModel):
    """A loaded project directory (mutable: the planner fills it in)."""

    root: Path
    settings: ProjectSettings

    # ----------------------------------------------------------------- paths
    @property
    def mappings_dir(self) -> Path:
        return self.root / "mappings"

    def mapping_path(self, target: str) -> Path:
        return self.mappings_dir / f"{target}.yaml"

    # ----------------------------------------------------------------- creation / loading
    @classmethod
    def create(
        cls,
        root: Path,
        *,
        source_dsn: str,
        target_dsn: str,
        source_schema: str = "public",
        target_schema: str = "public",
        embedded: bool = False,
    ) -> "Project":
        root.mkdir(parents=True, exist_ok=True)
        existing = root / "project.yaml"

        def display(dsn: str) -> str:
            if embedded:  # a socket path in a temp dir says nothing to a reader
                return f"embedded PostgreSQL, database {dsn.rsplit('/', 1)[-1].split('?')[0]}"
            return redact(dsn)

        fresh: dict[str, Any] = {
            "source_schema": source_schema,
            "target_schema": target_schema,
            "source_display": display(source_dsn),
            "target_display": display(target_dsn),
            "embedded": embedded,
        }
        if existing.exists():
            # A re-plan keeps the namespace (UUIDs must not change) and every setting the owner
            # edited (reject threshold, partition size, delete policy, role).
            kept = ProjectSettings.model_validate(yaml.safe_load(existing.read_text()))
            settings = kept.model_copy(update=fresh)
        else:
            settings = ProjectSettings.model_validate({"namespace": str(uuid.uuid4()), **fresh})
        project = cls(root=root, settings=settings)
        project.save_settings()
        project.save_dsns(source_dsn, target_dsn)
        return project

    @classmethod
    def load(cls, root: Path) -> "Project":
        path = root / "project.yaml"
        if not path.exists():
            raise MappingError(
                f"{root} is not a migration project (no project.yaml); "
                "create one with `dbmigrate plan --source ... --target ... "
                f"--project {root}`"
            )
        data = _load_yaml(path)
        return cls(root=root, settings=_validate(ProjectSettings, data, path))

    def save_settings(self) -> None:
        (self.root / "project.yaml").write_text(
            yaml.safe_dump(self.settings.model_dump(), sort_keys=False)
        )

    def save_dsns(self, source_dsn: str, target_dsn: str) -> None:
        env = self.root / ".env"
        fd = os.open(env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{SOURCE_ENV}={source_dsn}\n{TARGET_ENV}={target_dsn}\n")

    def dsns(self) -> tuple[str, str]:
        """Source and target DSN: the project's private .env file, else the environment."""
        values = {}
        env = self.root / ".env"
        if env.exists():
            for line in env.read_text().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    values[k.strip()] = v.strip()
        src = values.get(SOURCE_ENV) or os.environ.get(SOURCE_ENV)
        tgt = values.get(TARGET_ENV) or os.environ.get(TARGET_ENV)
        if not src or not tgt:
            raise MappingError(
                f"no DSNs for project {self.root}: set {SOURCE_ENV} and "
                f"{TARGET_ENV}, or re-run `dbmigrate plan` for this project"
            )
        return src, tgt

    # ----------------------------------------------------------------- artefacts
    def save_schema(self, which: str, schema: DatabaseSchema) -> None:
        d = self.root / "analysis"
        d.mkdir(exist_ok=True)
        (d / f"{which}.json").write_text(schema.model_dump_json(indent=1))

    def load_schema(self, which: str) -> DatabaseSchema:
        path = self.root / "analysis" / f"{which}.json"
        if not path.exists():
            raise MappingError(f"{path} is missing; run `dbmigrate plan` for this project first")
        return DatabaseSchema.model_validate_json(path.read_text())

    def save_plan(self, plan: MigrationPlan) -> None:
        (self.root / "plan.yaml").write_text(
            "# Load order and pairing proposed by the planning agent.\n"
            + yaml.safe_dump(plan.model_dump(), sort_keys=False, width=100)
        )

    def load_plan(self) -> MigrationPlan:
        path = self.root / "plan.yaml"
        if not path.exists():
            raise MappingError(f"{path} is missing; run `dbmigrate plan` for this project first")
        return _validate(MigrationPlan, _load_yaml(path), path)

    def save_mapping(self, mapping: TableMapping) -> None:
        self.mappings_dir.mkdir(exist_ok=True)
        body = yaml.safe_dump(
            mapping.model_dump(exclude_defaults=True),
            sort_keys=False,
            width=100,
            allow_unicode=True,
        )
        self.mapping_path(mapping.target).write_text(
            MAPPING_HEADER.format(target=mapping.target, source=mapping.source) + body
        )

    def load_mapping(self, target: str) -> TableMapping:
        path = self.mapping_path(target)
        if not path.exists():
            raise MappingError(f"no mapping for {target}", path=str(path))
        mapping = _validate(TableMapping, _load_yaml(path), path)
        if mapping.target != target:
            raise MappingError(
                f"the file maps '{mapping.target}' but is named for '{target}'", path=str(path)
            )
        return mapping

    def load_mappings(self) -> list[TableMapping]:
        plan = self.load_plan()
        return [self.load_mapping(t) for t in plan.order if self.mapping_path(t).exists()]


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MappingError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            path=str(path),
            line=mark.line + 1 if mark else None,
        ) from None


def _validate(model: type[M], data: Any, path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"]]
        where = ".".join(str(p) for p in loc) or "(top level)"
        raise MappingError(
            f"{where}: {err['msg']}", path=str(path), line=_line_of(path, loc)
        ) from None


def _line_of(path: Path, loc: Sequence[Any]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or its nearest existing ancestor)."""
    try:
        node = yaml.compose(path.read_text())
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, v in node.value if k.value == part), None)
            if nxt is None:
                return line
            line = (key.start_mark.line if key else nxt.start_mark.line) + 1
            node = nxt
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# --------------------------------------------------------------------------- decisions
def open_decisions(mapping: TableMapping, *, accept_proposals: bool) -> list[Decision]:
    """Decisions that still block a run.

    With ``--yes`` nothing blocks: proposals are taken, and where the agents had none the affected
    rows go to the rejects table with the open question as their reason (never a guess).
    """
    if accept_proposals:
        return []
    return [d for d in mapping.decisions if d.answer is None]


def effective_mapping(mapping: TableMapping, *, accept_proposals: bool) -> TableMapping:
    """Fold answered (and, with ``--yes``, proposed) decisions into the rules."""
    rules = {r.target: r for r in mapping.columns}
    order = [r.target for r in mapping.columns]
    key_update: dict[str, object] = {}
    for d in mapping.decisions:
        answer = d.answer if d.answer is not None else (d.proposed if accept_proposals else None)
        if d.column is None:
            continue
        if answer is None:
            if accept_proposals and d.about in ("source", "constant") and d.column not in rules:
                # Never a guess: the rows this column needs are rejected, with the question.
                rules[d.column] = ColumnRule(
                    target=d.column,
                    kind="constant",
                    value=None,
                    rationale=f"open decision {d.id}",
                    unanswered=f"open decision {d.id}: {d.question} (answer it in "
                    f"mappings/{mapping.target}.yaml and re-run)",
                )
                order.append(d.column)
            continue
        if (
            d.options
            and answer not in d.options
            and d.about in ("value", "format", "cast", "orphans")
        ):
            raise MappingError(f"decision {d.id}: answer '{answer}' is not one of {d.options}")
        rule = rules.get(d.column)
        if d.about == "value" and rule is not None and d.key is not None:
            rules[d.column] = rule.model_copy(
                update={"value_map": {**rule.value_map, d.key: answer}}
            )
        elif d.about == "key":
            columns = [c.strip() for c in answer.split(",") if c.strip()]
            rules[d.column] = ColumnRule(
                target=d.column,
                kind="uuid_key",
                source=columns[0],
                rationale=f"legacy key ({', '.join(columns)}) named by the reviewer ({d.id})",
            )
            if d.column not in order:
                order.append(d.column)
            key_update = {
                "key_source": columns[0] if len(columns) == 1 else columns,
                "key_kind": "natural",
                "key_target": d.column,
            }
        elif d.about == "orphans" and rule is not None:
            rules[d.column] = rule.model_copy(update={"on_orphan": answer})
        elif d.about == "cast" and rule is not None:
            rules[d.column] = rule.model_copy(update={"reject_lossy": answer == "reject"})
        elif d.about == "format" and rule is not None:
            rules[d.column] = rule.model_copy(
                update={"formats": [answer] + [f for f in rule.formats if f != answer]}
            )
        elif d.about == "source":
            # For a foreign-key column, ``key`` names the referenced target table.
            rules[d.column] = ColumnRule(
                target=d.column,
                kind="fk" if d.key else "copy",
                source=answer,
                fk_target=d.key,
                rationale=f"answered by reviewer ({d.id})",
            )
            if d.column not in order:
                order.append(d.column)
        elif d.about == "constant":
            rules[d.column] = ColumnRule(
                target=d.column,
                kind="constant",
                value=answer,
                rationale=f"answered by reviewer ({d.id})",
            )
            if d.column not in order:
                order.append(d.column)
    return mapping.model_copy(update={"columns": [rules[t] for t in order], **key_update})


def report_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str))
