"""SQLAdmin's own texts (its buttons, list, pagination, filters, modals), for the catalogues.

SQLAdmin writes them in its templates with `_()`, which the back office's template environment
answers from Ticket-Flow's catalogues (`install_i18n` in `mount.py`). `make catalogues` reads
only this package, so they are listed here once; `tests/unit/test_sqladmin_texts.py` fails
when an SQLAdmin release shows a text this list lacks. Its login page is replaced by ours.
"""

from __future__ import annotations

from ticketflow.lib.i18n import N_

SAVE_BUTTONS = (
    N_("Save"),
    N_("Save and continue editing"),
    N_("Save and add another"),
    N_("Save as new"),
)
"""SQLAdmin tells its save buttons apart by the label posted (see `BackOffice`)."""

SQLADMIN_TEXTS = (
    *SAVE_BUTTONS,
    N_("New %(name)s"),
    N_("Edit %(name)s"),
    N_("Cancel"),
    N_("Column"),
    N_("Value"),
    N_("Go Back"),
    N_("Delete"),
    N_("Edit"),
    N_("Logout"),
    N_("Language"),
    N_("Export"),
    N_("Import CSV"),
    N_("You are not authorized to view these records."),
    N_("Actions"),
    N_("Delete selected items"),
    N_("Search"),
    N_("Select all"),
    N_("Select item"),
    N_("View"),
    N_("Showing %(start)s to %(end)s of %(count)s items"),
    N_("prev"),
    N_("next"),
    N_("Show"),
    N_("%(size)s / Page"),
    N_("Filters"),
    N_("Close"),
    N_("Done"),
    N_("Clear filter"),
    N_("Apply Filter"),
    N_("Please confirm"),
    N_("Yes"),
    N_("Choose CSV file"),
    N_("No file selected"),
    N_("Skip invalid rows and continue import"),
    N_("Import progress"),
    N_("%(processed)s/%(total)s rows processed"),
    N_("%(imported)s imported, %(skipped)s skipped, %(processed)s/%(total)s rows processed"),
    N_(
        "%(imported)s imported, %(skipped)s skipped, %(processed)s/%(total)s rows processed"
        " - saving valid rows... (%(seconds)ss)"
    ),
    N_("Import"),
    N_("Import result"),
    N_("Missed rows"),
    N_("Download CSV"),
    N_("Download TXT"),
    N_("Refresh list"),
    # its error page's messages when it refuses without a text of its own: HTTP's reason phrases
    N_("Bad Request"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    # and its own refusals of a hand-edited address
    N_("Invalid page or pageSize parameter"),
    N_("Invalid sortBy parameter"),
    N_("Object not found"),
)
