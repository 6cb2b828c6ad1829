"""Typed settings read from the environment (and an optional `.env` file), validated once."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from dotenv import dotenv_values

DEFAULT_JWT_SECRET = "change-me-development-only-secret"
DEFAULT_SESSION_SECRET = "change-me-development-only-session"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/ticketflow.db"

Environment = Literal["development", "test", "production"]


class SettingsError(ValueError):
    """Raised when the environment describes an unsafe or impossible configuration."""


def _as_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    msg = f"not a boolean: {value!r}"
    raise SettingsError(msg)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the application. Each field maps to an upper-case environment variable."""

    # runtime
    env: Environment = "development"
    debug: bool = False
    log_level: str = "INFO"
    log_json: bool = False
    public_base_url: str = "http://127.0.0.1:8000"
    # database
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    database_echo: bool = False
    database_pool_size: int = 10
    database_max_overflow: int = 20
    database_hot_pool_size: int = 10
    database_auto_migrate: bool = True
    # authentication
    jwt_secret: str = field(default=DEFAULT_JWT_SECRET, repr=False)
    jwt_ttl_seconds: int = 3600
    argon2_memory_kib: int = 19_456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    login_max_attempts_per_client: int = 20
    login_max_attempts_per_account: int = 5
    login_window_seconds: int = 60
    register_max_per_client: int = 10
    register_window_seconds: int = 3600
    password_hash_concurrency: int = 4
    """Password hashes computed at once per process (each takes ARGON2_MEMORY_KIB); more wait."""
    redis_url: str = field(default="", repr=False)
    """Shared store of every attempt limit (`redis://host:6379/0`); empty keeps them in memory."""
    # back office
    session_secret: str = field(default=DEFAULT_SESSION_SECRET, repr=False)
    # tickets
    reservation_ttl_seconds: int = 900
    ticket_signing_keys: str = field(default="", repr=False)
    """Keys of signed (`tf2.`) ticket codes: `kid:key` entries separated by commas, each kid a
    number from 1 to 255 and each key the unpadded base64url of a 32-byte Ed25519 private key
    (`ticketflow keys generate`). The first signs new codes; the others only verify until removed.
    Empty outside production: a fixed, public, development-only key (kid 0)."""
    max_held_seats_per_user: int = 0
    """Unpaid seats one user may hold for one event at a time; 0: the event's `max_per_order`."""
    max_transfers_per_ticket: int = 3
    """How many times a holder may pass one ticket on (`POST /tickets/{id}/transfer`); 0: holders
    may not transfer tickets. Admins are not limited."""
    # Apple Wallet passes: all of the first five, or none (then wallet.pkpass answers 503)
    wallet_pass_type_id: str = ""
    """The Pass Type ID registered with Apple, e.g. `pass.com.example.tickets`."""
    wallet_team_id: str = ""
    wallet_certificate: str = ""
    """Path of the Pass Type ID certificate (PEM or DER)."""
    wallet_private_key: str = field(default="", repr=False)
    """Path of the certificate's private key (PEM, optionally encrypted)."""
    wallet_wwdr_certificate: str = ""
    """Path of Apple's WWDR intermediate certificate (PEM or DER, as Apple hands it out)."""
    wallet_private_key_password: str = field(default="", repr=False)
    wallet_organization_name: str = "Ticket-Flow"
    # payments
    payment_provider: Literal["simulated", "stripe"] = "simulated"
    allow_simulated_payments_in_production: bool = False
    """A demo only: the simulated checkout's Pay button activates priced tickets for free."""
    late_payment_policy: Literal["accept_if_available", "refund"] = "accept_if_available"
    stripe_api_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = ""
    stripe_success_url: str = ""
    stripe_cancel_url: str = ""
    # e-mail
    mail_transport: Literal["file", "smtp"] = "file"
    mail_dir: str = "./var/mail"
    mail_from: str = "Ticket-Flow <tickets@example.com>"
    mail_subject_prefix: str = "[Ticket-Flow]"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    outbox_max_attempts: int = 8
    outbox_claim_timeout_seconds: int = 300
    # outbox retries: the n-th retry waits base * 2**(n-1) seconds (capped), with jitter
    outbox_retry_base_seconds: float = 60.0
    outbox_retry_max_seconds: float = 3600.0
    outbox_batch_size: int = 20
    worker_poll_seconds: float = 2.0
    worker_in_process: bool = True
    # serving
    server_workers: int = 1
    forwarded_allow_ips: str = "127.0.0.1"
    metrics_token: str = field(default="", repr=False)
    """When set, `GET /metrics` needs `Authorization: Bearer <token>`; empty leaves it public."""

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Build settings from `environ` (default: the process environment) over a `.env` file."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        hints = get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for spec in fields(cls):
            variable = environment_variable(spec.name)
            raw = values.get(variable)
            if raw is None:
                continue
            kwargs[spec.name] = _convert(variable, hints[spec.name], raw)
        settings = cls(**kwargs)
        settings.validate()
        return settings

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (used by tests and the CLI)."""
        settings = replace(self, **changes)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse configurations that are unsafe or cannot work; the message names the variable."""
        if self.env not in ("development", "test", "production"):
            msg = f"TICKETFLOW_ENV must be development, test or production, not {self.env!r}"
            raise SettingsError(msg)
        backend = database_backend(self.database_url)
        if backend not in SUPPORTED_BACKENDS:
            msg = "DATABASE_URL must start with sqlite+aiosqlite:// or mysql+asyncmy://"
            raise SettingsError(msg)
        if self.max_held_seats_per_user < 0:
            msg = "MAX_HELD_SEATS_PER_USER must be 0 (the event's max_per_order) or more"
            raise SettingsError(msg)
        if not 0 <= self.max_transfers_per_ticket <= MAX_TRANSFERS_LIMIT:
            msg = (
                f"MAX_TRANSFERS_PER_TICKET must be from 0 (no transfers by holders) to {MAX_TRANSFERS_LIMIT}"
            )
            raise SettingsError(msg)
        if self.jwt_ttl_seconds < 60:
            msg = "JWT_TTL_SECONDS must be at least 60"
            raise SettingsError(msg)
        for name in POSITIVE_FIELDS:
            if getattr(self, name) < 1:
                msg = f"{environment_variable(name)} must be at least 1"
                raise SettingsError(msg)
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            msg = "REDIS_URL must start with redis://, rediss:// or unix://"
            raise SettingsError(msg)
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            msg = "ARGON2_MEMORY_KIB must be at least 8 x ARGON2_PARALLELISM"
            raise SettingsError(msg)
        wallet = {name: getattr(self, name) for name in WALLET_REQUIRED_FIELDS}
        if any(wallet.values()) and not all(wallet.values()):
            missing = ", ".join(environment_variable(name) for name, value in wallet.items() if not value)
            msg = f"wallet passes need every WALLET_* setting; missing: {missing}"
            raise SettingsError(msg)
        signing_key_entries(self.ticket_signing_keys)  # refuses a malformed list
        if self.is_production:
            self._validate_production()

    def _validate_production(self) -> None:
        """Every unsafe production setting, all named in one message."""
        problems = [
            *secret_problems("JWT_SECRET", self.jwt_secret, DEFAULT_JWT_SECRET),
            *secret_problems("SESSION_SECRET", self.session_secret, DEFAULT_SESSION_SECRET),
            *secret_problems("METRICS_TOKEN", self.metrics_token, ""),
        ]
        if not self.ticket_signing_keys:
            problems.append(
                "TICKET_SIGNING_KEYS must hold at least one key (`ticketflow keys generate`):"
                " the development key is public, anyone could forge tickets with it"
            )
        if not is_https_or_loopback(self.public_base_url):
            problems.append(
                "PUBLIC_BASE_URL must be an https:// address (plain http only for localhost):"
                " the back office cookie and the links in e-mails travel over it"
            )
        if self.is_sqlite and is_in_memory_sqlite(self.database_url):
            problems.append(
                "DATABASE_URL: production refuses an in-memory SQLite database (its data would vanish)"
            )
        if self.debug:
            problems.append("DEBUG: production refuses DEBUG=1")
        if self.argon2_memory_kib * self.argon2_time_cost < OWASP_MIN_ARGON2_COST:
            problems.append(
                "ARGON2_MEMORY_KIB x ARGON2_TIME_COST must be at least"
                f" {OWASP_MIN_ARGON2_COST} (OWASP's weakest argon2id configuration, m=7168 t=5)"
            )
        if self.mail_transport == "smtp" and self.smtp_username and not (self.smtp_tls or self.smtp_starttls):
            problems.append(
                "SMTP_USERNAME needs SMTP_TLS=1 or SMTP_STARTTLS=1: the password and every ticket"
                " e-mail would otherwise cross the network unencrypted whenever the server does not"
                " offer STARTTLS (or someone in between strips the offer)"
            )
        if self.server_workers > 1 and not self.redis_url:
            problems.append(
                f"SERVER_WORKERS={self.server_workers} needs REDIS_URL: without it each process keeps"
                " its own attempt limits (login, sign-up, e-mail resend), and every allowance is"
                " multiplied by the number of processes (set REDIS_URL, or SERVER_WORKERS=1)"
            )
        if self.payment_provider == "simulated" and not self.allow_simulated_payments_in_production:
            problems.append(
                "PAYMENT_PROVIDER=simulated gives priced tickets away in production: use stripe, or"
                " set ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION=1 for a demo"
            )
        if self.payment_provider == "stripe":
            problems += [
                f"{variable} is required with PAYMENT_PROVIDER=stripe"
                for variable, value in (
                    ("STRIPE_API_KEY", self.stripe_api_key),
                    ("STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
                )
                if not value
            ]
        if problems:
            msg = "production refuses this configuration: " + "; ".join(problems)
            raise SettingsError(msg)


WALLET_REQUIRED_FIELDS = (
    "wallet_pass_type_id",
    "wallet_team_id",
    "wallet_certificate",
    "wallet_private_key",
    "wallet_wwdr_certificate",
)
SUPPORTED_BACKENDS = frozenset({"sqlite", "mysql", "mariadb"})
MIN_SECRET_LENGTH = 32
MIN_DISTINCT_SECRET_CHARACTERS = 10
"""A random 32-character secret has ~20 distinct characters even from hex digits (at least 10
in all but ~1e-9 of draws)."""
PLACEHOLDER_WORDS = ("change-me", "changeme", "secret", "password", "example")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
OWASP_MIN_ARGON2_COST = 7168 * 5
"""OWASP's argon2id minimums trade memory for passes (m=19456 t=2, m=12288 t=3, ... m=7168 t=5)."""
POSITIVE_FIELDS = (
    "database_hot_pool_size",
    "argon2_memory_kib",
    "argon2_time_cost",
    "argon2_parallelism",
    "login_max_attempts_per_client",
    "login_max_attempts_per_account",
    "login_window_seconds",
    "register_max_per_client",
    "register_window_seconds",
    "password_hash_concurrency",
)


MAX_TRANSFERS_LIMIT = 1000
"""A code version is 16 bits in a signed code: far more than any sensible limit."""
SIGNING_KID_RANGE = range(1, 256)
"""Kids of configured keys; 0 is the development key's."""
SIGNING_KEY_BYTES = 32
SIGNING_KEY_PATTERN = re.compile(r"^([0-9]{1,3}):([A-Za-z0-9_-]{43})$")
"""`kid:key`, the key the unpadded base64url of 32 bytes (43 characters)."""


def signing_key_entries(raw: str) -> tuple[tuple[int, bytes], ...]:
    """(kid, 32-byte private key) for each entry of TICKET_SIGNING_KEYS, the signing key first."""
    entries: list[tuple[int, bytes]] = []
    for number, entry in enumerate(filter(None, (part.strip() for part in raw.split(","))), start=1):
        match = SIGNING_KEY_PATTERN.fullmatch(entry)
        kid = int(match[1]) if match else 0
        if match is None or kid not in SIGNING_KID_RANGE:
            msg = (
                f"TICKET_SIGNING_KEYS entry {number} must be `kid:key` with a kid from 1 to 255 and"
                " the key as 43 base64url characters (`ticketflow keys generate`)"
            )
            raise SettingsError(msg)
        key = base64.urlsafe_b64decode(match[2] + "=")
        if base64.urlsafe_b64encode(key).rstrip(b"=").decode() != match[2]:
            msg = f"TICKET_SIGNING_KEYS entry {number}: the key is not canonical base64url"
            raise SettingsError(msg)
        if kid in (known for known, _ in entries):
            msg = f"TICKET_SIGNING_KEYS lists kid {kid} twice"
            raise SettingsError(msg)
        entries.append((kid, key))
    return tuple(entries)


def secret_problems(variable: str, value: str, default: str) -> list[str]:
    """Why `value` is no production secret (empty when it is one)."""
    if not value or value == default:
        return [f"{variable} must be set to a random value of at least {MIN_SECRET_LENGTH} characters"]
    if len(value) < MIN_SECRET_LENGTH:
        return [f"{variable} is shorter than {MIN_SECRET_LENGTH} characters"]
    if is_weak_secret(value):
        return [f"{variable} is guessable (too few different characters, or a short piece repeated)"]
    return []


def is_weak_secret(value: str) -> bool:
    """A secret anyone could guess: few distinct characters (`aaaa...`), a piece repeated
    (`0123456789` x 4), or a placeholder such as `change-me`."""
    if len(set(value)) < MIN_DISTINCT_SECRET_CHARACTERS:
        return True
    if any(value[size:] == value[:-size] for size in range(1, len(value) // 2 + 1)):
        return True
    lowered = value.lower()
    return any(word in lowered for word in PLACEHOLDER_WORDS)


def is_https_or_loopback(url: str) -> bool:
    """True for https:// addresses, and http:// ones whose host is this machine."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() == "https" and rest:
        return True
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    host = host[1 : host.index("]")] if host.startswith("[") and "]" in host else host.split(":", 1)[0]
    return scheme.lower() == "http" and host.lower() in LOOPBACK_HOSTS


def database_backend(url: str) -> str:
    """`sqlite`, `mysql`, ... for a database URL; empty when it cannot be parsed."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return scheme.split("+", 1)[0].lower()


def is_in_memory_sqlite(url: str) -> bool:
    """True for `sqlite://`, `sqlite:///:memory:`, `file::memory:` and `mode=memory` URLs."""
    rest = url.split("://", 1)[1] if "://" in url else url
    path, _, query = rest.partition("?")
    database = path.removeprefix("/")
    return database in ("", ":memory:") or ":memory:" in database or "mode=memory" in query


def environment_variable(field_name: str) -> str:
    """The environment variable that sets `field_name` (`env` is `TICKETFLOW_ENV`)."""
    return "TICKETFLOW_ENV" if field_name == "env" else field_name.upper()


def _convert(variable: str, annotation: Any, raw: str) -> Any:
    try:
        if annotation is bool:
            return _as_bool(raw)
        if annotation is int:
            return int(raw)
        if annotation is float:
            return float(raw)
    except ValueError as exc:
        msg = f"{variable}: {exc}"
        raise SettingsError(msg) from exc
    if get_origin(annotation) is Literal and raw not in get_args(annotation):
        allowed = ", ".join(get_args(annotation))
        msg = f"{variable} must be one of {allowed}, not {raw!r}"
        raise SettingsError(msg)
    return raw
