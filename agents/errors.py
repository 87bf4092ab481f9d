"""One root error for the migration libraries, so callers can catch everything we raise.

Every message says what went wrong *and* what the user can do next; structured details ride along
as attributes so the CLI and the report can show them without parsing strings.
"""


class MigrationError(Exception):
    """Root of every error the migration libraries raise on purpose."""


class ConnectionConfigError(MigrationError):
    """A database could not be reached or the DSN is malformed (the DSN itself is never shown)."""


class SchemaAnalysisError(MigrationError):
    """The source or target schema could not be introspected."""


class PlanningError(MigrationError):
    """No workable plan: unpaired target tables, foreign-key cycles that cannot be broken, ..."""


class MappingError(MigrationError):
    """A mapping file is invalid or names something the schema does not have."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class OpenDecisionsError(MigrationError):
    """The run was asked to execute while decisions are still waiting for a human."""


class ExecutionError(MigrationError):
    """A table could not be migrated (too many rejects, target missing, ...)."""
