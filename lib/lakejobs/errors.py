"""Named errors whose messages tell the user what to fix.

The CLI maps `UsageError` to exit code 2 and every other `LakejobsError` to exit code 1, printing
the message on one line (no traceback unless --debug).
"""

from __future__ import annotations


class LakejobsError(Exception):
    """Base class of every error lakejobs raises on purpose."""


class UsageError(LakejobsError):
    """A bad argument or setting: a date, a profile, a path, a job name."""


class DataQualityError(LakejobsError):
    """A table-level expectation failed; nothing was written."""


class AccountingError(LakejobsError):
    """Rows in != rows written + quarantined + duplicates dropped."""
