"""Named errors whose messages tell the user what to fix.

The CLI maps `UsageError` (and so `ConfigError`) to exit code 2 and every other `LakejobsError` to
exit code 1, printing the message on one line (no traceback unless --debug).
"""

from __future__ import annotations


class LakejobsError(Exception):
    """Base class of every error lakejobs raises on purpose."""


class UsageError(LakejobsError):
    """A bad argument or value: a date, a profile, a lake path, a job name, a param."""


class ConfigError(UsageError):
    """A broken configuration or contract file (lakejobs.toml, schemas/), or a missing secret.

    The message names the file (or the environment variable) and the key. A `UsageError` too:
    it is also something the user fixes before running again (exit code 2), and code that
    catches `UsageError` keeps working.
    """


class DataQualityError(LakejobsError):
    """A table-level expectation failed; nothing was written."""


class AccountingError(LakejobsError):
    """Rows in != rows written + quarantined + duplicates dropped."""


class SchemaDriftError(LakejobsError):
    """A DataFrame or an existing table does not match its table contract."""
