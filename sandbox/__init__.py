"""Secure code interpreter for generated transforms (bubblewrap locally, Docker where available).

Plain library: it never imports Dagster or the agents.
"""

from sandbox.api import AuditRecord, SandboxRun, execute_transform, run_transform
from sandbox.errors import SandboxError
from sandbox.limits import Limits

__all__ = [
    "AuditRecord",
    "Limits",
    "SandboxError",
    "SandboxRun",
    "execute_transform",
    "run_transform",
]
