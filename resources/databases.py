"""Database resources. DSNs arrive through ``dg.EnvVar`` so they never sit in run config, and
Dagster masks them in the UI."""

import dagster as dg


class LegacyDatabase(dg.ConfigurableResource):
    """The legacy source: only ever read, inside read-only transactions."""

    dsn: str


class TargetDatabase(dg.ConfigurableResource):
    """The redesigned target; ``role`` (optional) is assumed with SET ROLE so RLS applies."""

    dsn: str
    role: str | None = None
