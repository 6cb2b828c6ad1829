"""Password hashing, attempt limiting and event date rules, without a database."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import msgspec
import pytest
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketflow.domain.accounts import auth
from ticketflow.domain.accounts.auth import UserTokens
from ticketflow.domain.accounts.schemas import UserCreate
from ticketflow.domain.events.service import check_event_rules, escape_like
from ticketflow.domain.notifications.service import RESEND_PER_TICKET, RESEND_PER_USER, ResendLimits
from ticketflow.lib.errors import RuleViolation, TooManyAttempts
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import AttemptLimiter, MemoryLimitStore, client_address
from ticketflow.settings import Settings

NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def cheap_passwords() -> Passwords:
    return Passwords(memory_kib=1024, time_cost=1, parallelism=1)


async def test_hash_is_argon2id_with_the_configured_parameters() -> None:
    defaults = Settings()
    passwords = Passwords(defaults.argon2_memory_kib, defaults.argon2_time_cost, defaults.argon2_parallelism)
    hashed = await passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "correct horse battery" not in hashed
    assert await passwords.verify(hashed, "correct horse battery")
    assert not await passwords.verify(hashed, "correct horse batterY")


async def test_same_password_hashes_differently(cheap_passwords: Passwords) -> None:
    first, second = await cheap_passwords.hash("same password"), await cheap_passwords.hash("same password")
    assert first != second


async def test_verify_without_a_hash_is_false(cheap_passwords: Passwords) -> None:
    # The dummy hash's own password must not open an unknown account.
    assert not await cheap_passwords.verify(None, "ticketflow-timing-equaliser")
    assert not await cheap_passwords.verify(None, "anything")


async def test_garbage_hash_is_a_mismatch_not_an_error(cheap_passwords: Passwords) -> None:
    assert not await cheap_passwords.verify("not-a-hash", "password")


async def test_weaker_hash_needs_rehash() -> None:
    weak = await Passwords(1024, 1, 1).hash("pw-123456")
    strong = Passwords(19_456, 2, 1)
    assert strong.needs_rehash(weak)
    assert not strong.needs_rehash(await strong.hash("pw-123456"))


async def test_limiter_refuses_after_the_limit_with_retry_after() -> None:
    limiter = AttemptLimiter(MemoryLimitStore(), limit=3, window_seconds=60, namespace="t")
    for _ in range(3):
        await limiter.acquire("k")
    with pytest.raises(TooManyAttempts) as raised:
        await limiter.acquire("k")
    assert 1 <= raised.value.retry_after <= 60
    await limiter.acquire("other-key")  # keys are counted apart
    await limiter.reset("k")
    await limiter.acquire("k")


def rules(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "starts_at": NOW + dt.timedelta(days=10),
        "timezone": "Europe/Paris",
    }
    return base | values


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (rules(starts_at=NOW - dt.timedelta(seconds=1)), "starts_at"),
        (rules(ends_at=NOW + dt.timedelta(days=9)), "ends_at"),
        (rules(ends_at=NOW + dt.timedelta(days=10)), "ends_at"),
        (rules(timezone="Mars/Olympus_Mons"), "timezone"),
        (rules(timezone="../../etc/passwd"), "timezone"),
        (rules(timezone="/etc/localtime"), "timezone"),
        (rules(timezone="Europe/Paris\x00"), "timezone"),
        (
            rules(starts_at=dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5)))),
            "starts_at",
        ),
        (rules(starts_at=dt.datetime(3000, 1, 1, tzinfo=dt.UTC)), "starts_at"),
        (rules(sales_start_at=NOW + dt.timedelta(days=11)), "sales_start_at"),
        (rules(sales_end_at=NOW + dt.timedelta(days=11)), "sales_end_at"),
        (
            rules(sales_start_at=NOW + dt.timedelta(days=2), sales_end_at=NOW + dt.timedelta(days=1)),
            "sales_end_at",
        ),
        (
            rules(sales_start_at=dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
            "sales_start_at",
        ),
    ],
)
def test_event_rules(values: dict[str, object], field: str) -> None:
    with pytest.raises(RuleViolation) as raised:
        check_event_rules(values, now=NOW, starts_at_changed=True)
    assert raised.value.extra["field"] == field


def test_event_rules_accept_a_sound_event() -> None:
    check_event_rules(
        rules(ends_at=NOW + dt.timedelta(days=10, hours=3), sales_start_at=NOW - dt.timedelta(days=1)),
        now=NOW,
        starts_at_changed=True,
    )


def test_a_started_event_may_keep_its_start() -> None:
    check_event_rules(rules(starts_at=NOW - dt.timedelta(days=1)), now=NOW, starts_at_changed=False)


def test_escape_like_makes_wildcards_literal() -> None:
    assert escape_like(r"50%_off\now") == r"50\%\_off\\now"


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("Ada Lovelace", True),
        ("élève 😀", True),
        ("O'Brien <b>", True),
        ("", False),
        ("   ", False),
        ("\x00", False),
        ("ok\n", False),
        ("a\r\nBcc: victim@example.com", False),
        ("tab\there", False),
    ],
)
def test_names_have_a_visible_character_and_no_control_character(name: str, accepted: bool) -> None:
    body = {"name": name, "email": "ada@example.com", "password": "long enough"}
    if accepted:
        assert msgspec.convert(body, UserCreate).name == name
    else:
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(body, UserCreate)


@pytest.mark.parametrize(
    ("email", "accepted"),
    [
        ("ada@example.com", True),
        ("a.b+tag@sub.example.co.uk", True),
        ("ada@example.com\n", False),
        ("ada@example", False),
        ("ada@@example.com", False),
        ("ada @example.com", False),
        ("ada@exa\x00mple.com", False),
    ],
)
def test_email_shape(email: str, accepted: bool) -> None:
    body = {"name": "Ada", "email": email, "password": "long enough"}
    if accepted:
        assert msgspec.convert(body, UserCreate).email == email
    else:
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(body, UserCreate)


async def test_acquire_counts_before_the_work_and_release_gives_back() -> None:
    limiter = AttemptLimiter(MemoryLimitStore(), limit=2, window_seconds=60, namespace="t")
    await limiter.acquire("k")
    taken = await limiter.acquire("k")
    with pytest.raises(TooManyAttempts):
        await limiter.acquire("k")
    await limiter.release(taken)
    await limiter.acquire("k")
    with pytest.raises(TooManyAttempts):
        await limiter.acquire("k")


async def test_parallel_acquires_never_pass_the_limit() -> None:
    limiter = AttemptLimiter(MemoryLimitStore(), limit=5, window_seconds=60, namespace="t")
    results = await asyncio.gather(*(limiter.acquire("k") for _ in range(50)), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 5
    assert all(isinstance(r, TooManyAttempts) for r in results if isinstance(r, BaseException))


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(jwt_secret="remembered-token-secret-" + "r" * 20)
    tokens = UserTokens(settings, async_sessionmaker())
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=5)
    encoded = Token(exp=expires, sub="42").encode(settings.jwt_secret, "HS256")
    assert tokens.verify(encoded).subject == 42
    monkeypatch.setattr(Token, "decode", None)  # the second time from the verified tokens
    assert tokens.verify(encoded).subject == 42
    monkeypatch.setattr(auth, "utc_now", lambda: expires)  # the moment it expires
    with pytest.raises(NotAuthorizedException, match="expired"):
        tokens.verify(encoded)


def test_a_token_signed_with_another_secret_is_refused_even_after_a_valid_use() -> None:
    settings = Settings(jwt_secret="first-secret-" + "a" * 30)
    other = Settings(jwt_secret="second-secret-" + "b" * 30)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    encoded = Token(exp=expires, sub="7").encode(settings.jwt_secret, "HS256")
    assert UserTokens(settings, async_sessionmaker()).verify(encoded).subject == 7
    with pytest.raises(NotAuthorizedException):
        UserTokens(other, async_sessionmaker()).verify(encoded)
    with pytest.raises(NotAuthorizedException):
        UserTokens(settings, async_sessionmaker()).verify(f"{encoded[:-2]}xx")


async def test_parallel_resends_never_pass_the_limits_and_a_refusal_gives_the_other_back() -> None:
    limits = ResendLimits(MemoryLimitStore())
    results = await asyncio.gather(*(limits.take(1, 9) for _ in range(12)), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == RESEND_PER_TICKET
    assert all(isinstance(r, TooManyAttempts) for r in results if isinstance(r, BaseException))
    # The user's own allowance was only used by the resends that went through.
    for ticket_id in range(2, 2 + RESEND_PER_USER - RESEND_PER_TICKET):
        await limits.take(ticket_id, 9)
    with pytest.raises(TooManyAttempts):
        await limits.take(99, 9)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),  # the same /64: one client
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket
        ("testclient", "testclient"),  # not an address (a test client): itself
        (None, "unknown"),
    ],
)
def test_attempt_limits_count_an_ipv6_client_by_its_64(host: str | None, key: str) -> None:
    request = SimpleNamespace(client=None if host is None else SimpleNamespace(host=host))
    assert client_address(request) == key
