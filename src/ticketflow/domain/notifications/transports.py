"""Where composed messages go: an SMTP server, or `.eml` files in a folder.

A transport lives for one worker pass: the SMTP transport opens one connection on the first
message, reuses it for the rest of the pass, drops it after an error (the next message reconnects)
and closes it at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from ticketflow.settings import Settings

PERMANENT_REPLY_CODES = range(500, 600)
"""SMTP's permanent negative replies (RFC 5321 4.2.1): the same message would be refused again.
A 4xx reply is temporary and the message is retried."""


class PermanentFailure(Exception):
    """Retrying cannot help (the server refused the recipient, the sender or the message for good):
    the message fails now."""


class MailTransport(Protocol):
    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        """Deliver `message` to `recipient`; raise on failure (`PermanentFailure` if final)."""

    async def close(self) -> None:
        """Release what the transport holds (connections)."""


class SmtpTransport:
    """SMTP with optional implicit TLS (`SMTP_TLS`, port 465) or STARTTLS (`SMTP_STARTTLS`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_tls,
            # STARTTLS required when asked for; else taken whenever the server offers it (None),
            # opportunistically (RFC 7435): its certificate is then not checked, so a relay with
            # a self-signed one (a stock Postfix) still takes mail, encrypted
            start_tls=True if settings.smtp_starttls and not settings.smtp_tls else None,
            validate_certs=settings.smtp_tls or settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        await client.connect()
        self._client = client
        return client

    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        client = await self._connected()
        try:
            await client.send_message(message, sender=sender, recipients=[recipient])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self._reset_or_close()
            if all(refusal.code in PERMANENT_REPLY_CODES for refusal in exc.recipients):
                raise PermanentFailure(f"recipient refused: {exc}") from exc
            raise
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            # a reply to MAIL FROM or DATA is about this message (its sender, size or content);
            # replies about the session (greeting, AUTH, STARTTLS) stay temporary: fixing the
            # server or the settings lets every message through
            await self._reset_or_close()
            if exc.code in PERMANENT_REPLY_CODES:
                stage = "sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "message"
                raise PermanentFailure(f"{stage} refused: {exc.code} {exc.message}") from exc
            raise
        except Exception:
            await self.close()
            raise

    async def _reset_or_close(self) -> None:
        """After a refused recipient, sender or message the session is still good once reset."""
        if self._client is None:
            return
        try:
            await self._client.rset()
        except aiosmtplib.SMTPException:
            await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()


class FileTransport:
    """Writes each message as `<kind>-<id>.eml` in `MAIL_DIR` (any mail client opens it).

    The name comes from the Message-ID, so delivering a message again replaces its file.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / eml_file_name(message)
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(message.as_bytes())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    async def close(self) -> None:
        return None


def eml_file_name(message: EmailMessage) -> str:
    token = re.sub(r"[^A-Za-z0-9]+", "", str(message["Message-ID"]).split("@", 1)[0])[:40]
    kind = re.sub(r"[^a-z_]+", "", str(message.get("X-Ticketflow-Kind", "message")))[:20]
    return f"{kind}-{token}.eml"


def build_transport(settings: Settings) -> MailTransport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(settings)
    return FileTransport(settings.mail_dir)
