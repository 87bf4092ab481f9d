"""The migration project a Dagster deployment serves."""

from pathlib import Path

import dagster as dg

from agents.project import Project
from agents.workflow import RunInputs, load_run_inputs


class MigrationProject(dg.ConfigurableResource):
    """Where the reviewed mapping files live, and whether unreviewed proposals may run."""

    directory: str
    accept_proposals: bool = False

    def inputs(self) -> RunInputs:
        return load_run_inputs(
            Project.load(Path(self.directory)), accept_proposals=self.accept_proposals
        )
