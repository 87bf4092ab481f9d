"""Asset keys say where data lives: legacy/<table>, mapping/<table>, target/<table>.

Table names may hold anything PostgreSQL allows (spaces, quotes, ``;``, Unicode, a schema);
Dagster's key components may not. A schema-qualified name becomes two components, and a
component with characters Dagster refuses is spelled with them replaced and a short hash of the
real name appended, so that two names never share a key. The real name stays in each asset's
description and metadata.
"""

import hashlib
import re

import dagster as dg

REPORT_KEY = dg.AssetKey(["migration_report"])
_REFUSED = re.compile(r"[^A-Za-z0-9_]")


def key_component(name: str) -> str:
    """A Dagster-safe, unique spelling of one name.

    >>> key_component("track")
    'track'
    >>> key_component("order details")
    'order_details_4e07e0b8'
    """
    if not _REFUSED.search(name) and name:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{_REFUSED.sub('_', name).strip('_')[:40]}_{digest}".lstrip("_")


def table_path(table: str, prefix: str = "") -> list[str]:
    """Key components of a project table name: a schema-qualified name gets the schema as a
    folder, and the last component (the UI's label for the node) carries the stage and the
    schema, so that no two nodes of the graph read alike: ``legacy_brackets``,
    ``mapping_brackets``, ``brackets``; ``legacy_HR_EMPLOYEES`` beside ``legacy_CO_EMPLOYEES``.

    >>> table_path("brackets", "legacy_")
    ['legacy_brackets']
    >>> table_path("hr.employees")
    ['hr', 'hr_employees']
    """
    schema, dot, rest = table.partition(".")
    label = f"{schema}_{rest}" if dot else table
    return [*([key_component(schema)] if dot else []), key_component(prefix + label)]


def legacy_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["legacy", *table_path(table, "legacy_")])


def mapping_key(target: str) -> dg.AssetKey:
    return dg.AssetKey(["mapping", *table_path(target, "mapping_")])


def target_key(target: str) -> dg.AssetKey:
    return dg.AssetKey(["target", *table_path(target)])


def validation_key(target: str) -> dg.AssetKey:
    """Whole-table validation of a target validated after its load (partitions, cycles)."""
    return dg.AssetKey(["validation", *table_path(target, "validation_")])
