"""What the deployment tests share: the repository's files and the start script as a module."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import fields
from functools import cache
from pathlib import Path
from types import ModuleType

from ticketflow.settings import Settings, environment_variable

ROOT = Path(__file__).resolve().parents[2]
START_SCRIPT = ROOT / "deploy" / "start.py"
CONTAINER_ONLY_VARIABLES = frozenset({"MYSQL_ROOT_PASSWORD"})
"""Read by the MySQL container, never by Ticket-Flow."""


@cache
def start_module() -> ModuleType:
    """`deploy/start.py`, imported (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("ticketflow_deploy_start", START_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def setting_variables() -> set[str]:
    return {environment_variable(spec.name) for spec in fields(Settings)}


def known_variables() -> set[str]:
    """Every variable the application, the start script or the MySQL container reads."""
    start_variables: tuple[str, ...] = start_module().START_VARIABLES
    return setting_variables() | set(start_variables) | CONTAINER_ONLY_VARIABLES
