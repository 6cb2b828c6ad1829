"""`ticketflow` / `python -m ticketflow`: Litestar's CLI with the app preset, plus our commands.

* `ticketflow run [--host H] [--port P]` serves the API with uvicorn
* `ticketflow database upgrade` applies the migrations (advanced-alchemy's alembic commands)
* `ticketflow users create ...` creates a user
* `ticketflow worker` runs background jobs
"""

from __future__ import annotations

import os
import sys

APP_PRESET = "ticketflow.app:create_app_from_env"


def main() -> None:
    os.environ.setdefault("LITESTAR_APP", APP_PRESET)
    from litestar.cli.main import litestar_group  # noqa: PLC0415 - keeps `import ticketflow` light

    from ticketflow.cli import register_commands  # noqa: PLC0415
    from ticketflow.settings import SettingsError  # noqa: PLC0415

    register_commands(litestar_group)
    try:
        sys.exit(litestar_group.main(prog_name="ticketflow"))
    except SettingsError as exc:
        sys.exit(f"ticketflow: {exc}")


if __name__ == "__main__":
    main()
