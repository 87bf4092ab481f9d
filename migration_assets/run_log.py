"""The project's run log: every Dagster event of a run, tracebacks included, in one file.

A person at the terminal reads one paragraph per failure; an engineer reads this file (its path
is printed), or passes ``--verbose`` to see the events as they happen.
"""

import logging
from pathlib import Path

import dagster as dg

LOG_NAME = "dbmigrate.log"


def log_path(project_root: Path) -> Path:
    return project_root / "logs" / LOG_NAME


@dg.logger(
    config_schema={"path": dg.Field(str), "log_level": dg.Field(str, default_value="DEBUG")},
    description="Every event of the run, with tracebacks, appended to the project's log file.",
)
def project_file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(init_context.logger_config["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.Logger("dbmigrate_run", level=init_context.logger_config["log_level"])
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger
