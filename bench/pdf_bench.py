"""PDF tickets: `python -m bench.pdf_bench [--seconds 5]`.

Renders one-ticket PDFs (the download) and ten-ticket PDFs (a group order's e-mail attachment)
in a loop on one core, in process, for `--seconds` each, and prints PDFs and pages per second
with the mean time of one. Rendering is pure CPU: one worker thread does this much. Each size is
rendered twice: with Western European names (Helvetica, nothing embedded) and with names in
other scripts (DejaVu Sans embedded, see `ticketflow.lib.ticket_pdf`).
"""

from __future__ import annotations

import argparse
import platform
import time

from ticketflow.lib.ticket_codes import new_ticket_code
from ticketflow.lib.ticket_pdf import PrintedTicket, ticket_pdf

NAMES = {"western": "José Núñez", "other scripts": "Łukasz Żółć, Дмитрий"}
"""An attendee name of each kind of document."""


def order_of(count: int, name: str = NAMES["western"]) -> list[PrintedTicket]:
    return [
        PrintedTicket(
            ticket_id=1000 + number,
            code=new_ticket_code(),
            event_title="Noche de Flamenco en el Teatro Real",
            venue="Teatro Real, Plaza de Isabel II, Madrid",
            when="Saturday 14 March 2026, 20:00-23:00 (Europe/Madrid)",
            attendee_name=f"{name} {number}",
            order_id=77,
        )
        for number in range(count)
    ]


def measure(tickets: list[PrintedTicket], seconds: float) -> tuple[int, float, int]:
    """(documents rendered, elapsed seconds, bytes of the last one)"""
    ticket_pdf(tickets)  # warm-up: imports, font metrics
    rendered = 0
    size = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        size = len(ticket_pdf(tickets))
        rendered += 1
    return rendered, time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pdf_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement (default 5)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, one thread")
    for kind, name in NAMES.items():
        for count in (1, 10):
            rendered, elapsed, size = measure(order_of(count, name), args.seconds)
            print(
                f"{count:>2} ticket(s) a PDF, names {kind:<13}: {rendered / elapsed:7.1f} PDFs/s,"
                f" {rendered * count / elapsed:7.1f} pages/s, {1000 * elapsed / rendered:6.1f} ms a PDF,"
                f" {size / 1024:.1f} KiB"
            )


if __name__ == "__main__":
    main()
