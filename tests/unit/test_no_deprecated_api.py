"""Our code calls no API its libraries have deprecated: importing every module of the app,
building it and its OpenAPI document raise no deprecation warning of our making.

Warnings the libraries raise about themselves while they are imported are not ours: they are
imported first, outside the recording.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import pkgutil, importlib, warnings
import advanced_alchemy.base, advanced_alchemy.mixins, advanced_alchemy.extensions.litestar
import litestar, sqladmin, sqlalchemy
import ticketflow
from tests.support.databases import settings_for_tests

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for module in pkgutil.walk_packages(ticketflow.__path__, "ticketflow."):
        if module.name != "ticketflow.__main__":
            importlib.import_module(module.name)
    from ticketflow.app import create_app
    app = create_app(settings_for_tests("sqlite+aiosqlite:///:memory:"))
    app.openapi_schema
for w in caught:
    if issubclass(w.category, DeprecationWarning):
        print(w.category.__name__, str(w.message).splitlines()[0])
"""


def test_the_app_uses_no_deprecated_api() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert done.stdout == "", done.stdout
