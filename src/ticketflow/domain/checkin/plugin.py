"""How the check-in context plugs into the app: the door's validation route, gates,
scanner devices, the scan log, offline scanning and the scanner page."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide

from ticketflow.domain.accounts.plugin import AccountsPlugin
from ticketflow.domain.checkin.controller import CheckInController
from ticketflow.domain.checkin.door_controller import GateController, ScanLogController, ScannerController
from ticketflow.domain.checkin.offline_controller import OfflineController
from ticketflow.domain.checkin.scanner_page import scanner_page_handlers
from ticketflow.domain.checkin.scanner_tokens import ScannerTokens
from ticketflow.domain.checkin.service import GateRuleCache
from ticketflow.lib.plugins import ContextPlugin


class CheckInPlugin(ContextPlugin):
    def __init__(self, accounts: AccountsPlugin) -> None:
        accounts.token_kinds.insert(0, ScannerTokens())  # before user tokens, which take any token
        self.gate_rules = GateRuleCache()
        """The door's gate rules, held for the app's process (see `GateRuleCache`)."""

    def current_gate_rules(self) -> GateRuleCache:
        return self.gate_rules

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.dependencies["gate_rules"] = Provide(self.current_gate_rules, sync_to_thread=False)
        app_config.route_handlers += [
            CheckInController,
            GateController,
            ScannerController,
            ScanLogController,
            OfflineController,
            *scanner_page_handlers(),
        ]
        return app_config
