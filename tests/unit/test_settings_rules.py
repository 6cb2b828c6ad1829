"""Settings: read from the environment, validated once, production refuses unsafe values."""

from __future__ import annotations

import pytest

from tests.support.production import STRONG_PRODUCTION
from ticketflow.settings import (
    DEFAULT_JWT_SECRET,
    DEFAULT_SESSION_SECRET,
    Settings,
    SettingsError,
    is_in_memory_sqlite,
)

PRODUCTION = {
    **STRONG_PRODUCTION,
    "DATABASE_URL": "mysql+asyncmy://ticketflow:db-password-123@db.internal:3306/ticketflow",
}


def production(**changes: str) -> dict[str, str]:
    return {**PRODUCTION, **changes}


def test_production_with_strong_secrets_starts() -> None:
    settings = Settings.from_env(production(), env_file=None)
    assert settings.is_production
    assert settings.database_url == PRODUCTION["DATABASE_URL"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"JWT_SECRET": DEFAULT_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": "short-secret"}, "JWT_SECRET"),
        ({"SESSION_SECRET": DEFAULT_SESSION_SECRET}, "SESSION_SECRET"),
        ({"SESSION_SECRET": "x" * 31}, "SESSION_SECRET"),
        ({"SESSION_SECRET": "Zq8" * 10}, "SESSION_SECRET"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, "in-memory SQLite"),
        ({"DATABASE_URL": "sqlite+aiosqlite://"}, "in-memory SQLite"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///file::memory:?cache=shared"}, "in-memory SQLite"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///x.db?mode=memory"}, "in-memory SQLite"),
        ({"DEBUG": "1"}, "DEBUG"),
        ({"ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME_COST": "1"}, "ARGON2_MEMORY_KIB"),
        ({"METRICS_TOKEN": ""}, "METRICS_TOKEN"),
        ({"METRICS_TOKEN": "0123456789abcdef"}, "METRICS_TOKEN"),
        ({"JWT_SECRET": "x" * 64}, "JWT_SECRET is guessable"),
        ({"SESSION_SECRET": "abcd" * 16}, "SESSION_SECRET is guessable"),
        ({"METRICS_TOKEN": "0123456789" * 4}, "METRICS_TOKEN is guessable"),
        ({"JWT_SECRET": "change-me-in-production-please-now!"}, "JWT_SECRET is guessable"),
        ({"PUBLIC_BASE_URL": "http://tickets.example.org"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "http://localhost.example.org"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "tickets.example.org"}, "PUBLIC_BASE_URL"),
        ({"PAYMENT_PROVIDER": "simulated"}, "ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION"),
        ({"STRIPE_API_KEY": ""}, "STRIPE_API_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({"TICKET_SIGNING_KEYS": ""}, "TICKET_SIGNING_KEYS must hold at least one key"),
        ({"TICKET_SIGNING_KEYS": "1:not-a-key"}, "TICKET_SIGNING_KEYS entry 1"),
        (
            {"MAIL_TRANSPORT": "smtp", "SMTP_USERNAME": "tickets", "SMTP_PASSWORD": "pw"},
            "SMTP_USERNAME needs",
        ),
        # each process would count the attempt limits apart: every allowance times the processes
        ({"SERVER_WORKERS": "2"}, "SERVER_WORKERS=2 needs REDIS_URL"),
        ({"SERVER_WORKERS": "4", "REDIS_URL": ""}, "SERVER_WORKERS=4 needs REDIS_URL"),
    ],
)
def test_production_refuses_unsafe_settings(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(production(**changes), env_file=None)


def test_default_jwt_secret_is_refused_without_any_other_variable() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        Settings.from_env({"TICKETFLOW_ENV": "production"}, env_file=None)


def test_every_offending_variable_is_named_in_one_message() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            {
                "TICKETFLOW_ENV": "production",
                "JWT_SECRET": "a" * 40,
                "SESSION_SECRET": "short",
                "PUBLIC_BASE_URL": "http://tickets.example.org",
                "DEBUG": "1",
            },
            env_file=None,
        )
    message = str(refused.value)
    for variable in (
        "JWT_SECRET",
        "SESSION_SECRET",
        "METRICS_TOKEN",
        "PUBLIC_BASE_URL",
        "DEBUG",
        "PAYMENT_PROVIDER",
    ):
        assert variable in message
    assert "a" * 40 not in message  # a refused secret is named, never shown


@pytest.mark.parametrize(
    "changes",
    [
        {"PUBLIC_BASE_URL": "http://localhost:8000"},  # docker compose on one's own machine
        {"PUBLIC_BASE_URL": "http://127.0.0.1:8000/"},
        {"PAYMENT_PROVIDER": "simulated", "ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION": "1"},
        {"METRICS_TOKEN": "0f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a"},  # a hex token
        {"MAIL_TRANSPORT": "smtp", "SMTP_USERNAME": "tickets", "SMTP_STARTTLS": "1"},
        {"MAIL_TRANSPORT": "smtp", "SMTP_USERNAME": "tickets", "SMTP_TLS": "1"},
        {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "mailpit"},  # no login: the compose file's catcher
        {"SERVER_WORKERS": "2", "REDIS_URL": "redis://limits:6379/0"},  # one shared limit store
        {"SERVER_WORKERS": "1"},  # one process: its memory is the only store
    ],
)
def test_production_accepts_the_deliberate_exceptions(changes: dict[str, str]) -> None:
    assert Settings.from_env(production(**changes), env_file=None).is_production


def test_several_workers_without_redis_are_fine_outside_production() -> None:
    settings = Settings.from_env({"SERVER_WORKERS": "3"}, env_file=None)
    assert (settings.server_workers, settings.redis_url) == (3, "")


def test_development_accepts_the_defaults() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert not is_in_memory_sqlite(settings.database_url)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TICKETFLOW_ENV", "staging", "TICKETFLOW_ENV"),
        ("JWT_TTL_SECONDS", "10", "JWT_TTL_SECONDS"),
        ("JWT_TTL_SECONDS", "soon", "JWT_TTL_SECONDS"),
        ("DEBUG", "perhaps", "boolean"),
        ("DATABASE_URL", "postgresql://x/y", "DATABASE_URL"),
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
        ("LOGIN_WINDOW_SECONDS", "0", "LOGIN_WINDOW_SECONDS"),
        ("ARGON2_PARALLELISM", "0", "ARGON2_PARALLELISM"),
        ("PAYMENT_PROVIDER", "paypal", "PAYMENT_PROVIDER"),
    ],
)
def test_impossible_values_are_refused_with_the_variable_named(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value}, env_file=None)


def test_env_file_is_read_and_environment_wins(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("JWT_TTL_SECONDS=120\nLOG_LEVEL=WARNING\n")
    settings = Settings.from_env({"LOG_LEVEL": "ERROR"}, env_file=env_file)
    assert settings.jwt_ttl_seconds == 120
    assert settings.log_level == "ERROR"


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings.from_env(
        production(SMTP_PASSWORD="smtp-password-value", STRIPE_API_KEY="sk_test_stripe-key-value"),
        env_file=None,
    )
    shown = repr(settings) + str(settings)
    for secret in (
        PRODUCTION["JWT_SECRET"],
        PRODUCTION["SESSION_SECRET"],
        "db-password-123",
        "smtp-password-value",
        "stripe-key-value",
    ):
        assert secret not in shown
    assert "production" in shown  # the repr still shows the harmless settings


@pytest.mark.parametrize(
    ("url", "in_memory"),
    [
        ("sqlite+aiosqlite://", True),
        ("sqlite+aiosqlite:///:memory:", True),
        ("sqlite+aiosqlite:///file::memory:?cache=shared&uri=true", True),
        ("sqlite+aiosqlite:///./var/ticketflow.db", False),
        ("sqlite+aiosqlite:////srv/ticketflow/data.db", False),
        ("sqlite+aiosqlite:///memory.db", False),
    ],
)
def test_in_memory_sqlite_detection(url: str, in_memory: bool) -> None:
    assert is_in_memory_sqlite(url) is in_memory
