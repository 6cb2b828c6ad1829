"""Importing a module does nothing: listeners are installed by the plugin that needs them."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from sqlalchemy import event
from ticketflow.db.models.events import Event
from ticketflow.domain.notifications import outbox

def installed():
    return [event.contains(getattr(Event, name), "set", outbox.remember_previous_value)
            for name in outbox.REMEMBERED_FIELDS]

before = installed()
outbox.remember_previous_values()
outbox.remember_previous_values()
print(before, installed(), [len(list(getattr(Event, n).dispatch.set)) for n in outbox.REMEMBERED_FIELDS])
"""


def test_importing_the_outbox_installs_no_listener_and_installing_twice_is_once() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [
        "[False,",
        "False,",
        "False]",
        "[True,",
        "True,",
        "True]",
        "[1,",
        "1,",
        "1]",
    ]
