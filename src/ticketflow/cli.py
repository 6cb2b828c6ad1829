"""Our own command groups for the `ticketflow` console script."""

from __future__ import annotations

import asyncio
import logging.config
import signal

import click
import msgspec
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.users import Language, Role
from ticketflow.domain.accounts.schemas import UserCreate
from ticketflow.domain.accounts.service import AccountService
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.outbox import OutboxNotifier
from ticketflow.domain.tickets.reissue import REISSUE_BATCH, CodeReissue, ReissueCount
from ticketflow.lib.errors import DomainError, EmailTaken, RuleViolation
from ticketflow.lib.logs import process_logging_config
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.signed_codes import TicketSigner, generate_signing_key
from ticketflow.plugins import assemble
from ticketflow.settings import Settings
from ticketflow.worker import run_worker


async def _create_user(
    settings: Settings, name: str, email: str, password: str, role: Role, locale: Language
) -> int:
    if settings.is_sqlite and settings.database_auto_migrate:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
    engine = create_engine(settings, null_pool=True)
    try:
        passwords = Passwords(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            user = await AccountService(session, passwords).create_user(
                name=name, email=email, password=password, role=role, locale=locale
            )
            return user.id
    finally:
        await engine.dispose()


def database_problem(exc: SQLAlchemyError) -> click.ClickException:
    """A database error as one sentence for the user, without a traceback."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    hint = "Is it running and migrated (ticketflow database upgrade)?"
    return click.ClickException(f"the database cannot be used: {reason}. {hint}")


FIELD_RULES = {
    "name": "--name needs a visible character and no control characters (120 at most)",
    "email": "--email must be an e-mail address such as ada@example.com",
    "password": "--password needs 8 to 1024 characters",
}


def invalid_field_message(error: str) -> str:
    """A sentence about the option at fault instead of msgspec's regular expression."""
    for name, rule in FIELD_RULES.items():
        if error.endswith(f"`$.{name}`"):
            return rule
    return error


@click.group(name="users", help="Manage user accounts.")
def users_group() -> None:
    """Manage user accounts."""


@users_group.command(name="create", help="Create a user (e.g. the first admin).")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.ATTENDEE.value,
    show_default=True,
)
@click.option(
    "--locale",
    type=click.Choice([language.value for language in Language]),
    default=Language.EN.value,
    show_default=True,
    help="The language of the user's e-mails and pages.",
)
def create_user_command(email: str, name: str, password: str, role: str, locale: str) -> None:
    try:
        data = msgspec.convert(
            {"name": name, "email": email, "password": password, "role": role, "locale": locale}, UserCreate
        )
        settings = Settings.from_env()
        user_id = asyncio.run(
            _create_user(settings, data.name, data.email, data.password, data.role, Language(locale))
        )
    except msgspec.ValidationError as exc:
        raise click.ClickException(f"invalid input: {invalid_field_message(str(exc))}") from exc
    except EmailTaken as exc:
        raise click.ClickException(f"a user with the e-mail {email.lower()!r} already exists") from exc
    except RuleViolation as exc:
        raise click.ClickException(f"invalid input: email: {exc.detail}") from exc
    except SQLAlchemyError as exc:
        raise database_problem(exc) from exc
    click.echo(f"created {role} {data.email.lower()} (id {user_id})")


async def _run_worker_until_signalled(settings: Settings) -> None:
    engine = create_engine(settings)
    context, plugins = assemble(settings, engine)
    jobs = plugins.background_jobs
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_worker(context, jobs, stop)
    finally:
        await context.drivers.close()
        await context.store.close()
        await engine.dispose()


@click.command(name="worker", help="Run background jobs (e-mail outbox, reservation expiry) until stopped.")
def worker_command() -> None:
    settings = Settings.from_env()  # a refused setting is reported by `ticketflow.__main__`
    logging.config.dictConfig(process_logging_config(settings))
    asyncio.run(_run_worker_until_signalled(settings))


@click.group(name="keys", help="Manage the keys of signed ticket codes.")
def keys_group() -> None:
    """Manage the keys of signed ticket codes."""


@keys_group.command(
    name="generate",
    help="Print a new `kid:key` entry for TICKET_SIGNING_KEYS (put it first to sign with it).",
)
@click.option("--kid", type=click.IntRange(1, 255), required=True, help="A key id (1-255) not used before.")
def generate_key_command(kid: int) -> None:
    click.echo(generate_signing_key(kid))


async def _reissue_signed_by(settings: Settings, signer: TicketSigner, kid: int, batch: int) -> ReissueCount:
    engine = create_engine(settings, null_pool=True)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            notifier = OutboxNotifier(MailIdentity.from_settings(settings))
            return await CodeReissue(session, notifier, signer).reissue_signed_by(kid, batch)
    finally:
        await engine.dispose()


@keys_group.command(
    name="reissue",
    help=(
        "Give every unpaid or active ticket whose code key KID signed a new code from the first key"
        " of TICKET_SIGNING_KEYS, and e-mail the holders: after a key leaked, rotate (a new key"
        " first), reissue, then remove the leaked key. Safe to run again: re-signed tickets are"
        " skipped."
    ),
)
@click.option("--kid", type=click.IntRange(0, 255), required=True, help="The leaked key's id.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=REISSUE_BATCH,
    show_default=True,
    help="Tickets read and changed per transaction.",
)
def reissue_keys_command(kid: int, batch_size: int) -> None:
    settings = Settings.from_env()  # a refused setting is reported by `ticketflow.__main__`
    signer = TicketSigner.from_settings(settings)
    try:
        count = asyncio.run(_reissue_signed_by(settings, signer, kid, batch_size))
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    except SQLAlchemyError as exc:
        raise database_problem(exc) from exc
    click.echo(
        f"checked {count.checked} tickets with signed codes; key {kid} had signed"
        f" {count.active + count.unpaid + count.changed} of them"
    )
    click.echo(
        f"new codes from key {signer.signing_kid}: {count.active} active tickets ({count.mailed} e-mailed"
        f" to their holders), {count.unpaid} unpaid tickets (no e-mail)"
    )
    if count.changed:
        click.echo(f"{count.changed} tickets changed meanwhile and keep their codes: run the command again")


def register_commands(group: click.Group) -> None:
    group.add_command(users_group)
    group.add_command(keys_group)
    group.add_command(worker_command)
