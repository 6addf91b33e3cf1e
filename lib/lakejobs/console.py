"""What every lakejobs command shares, the `lakejobs` CLI and a job file run directly alike:
one-line usage errors, progress lines on stderr, and the failure policy (one line and an exit
code; the Spark log file named when it holds the Java trace; tracebacks only with --debug).

A command's state lives on its parsed arguments, never in this module: `--debug`, and
`log_file` (the Spark/JVM log of the session `open_session` built, None before).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from lakejobs.config import Settings, load_settings
from lakejobs.errors import LakejobsError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class UsageParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_param(text: str) -> tuple[str, str]:
    """`--param KEY=VALUE` as a (key, value) pair."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """--lake, --profile and --debug, the same on every command."""
    parser.add_argument(
        "--lake",
        help="lake root: a path, hdfs://… or s3a://… (default: $LAKEJOBS_LAKE, then the profile's)",
    )
    parser.add_argument(
        "--profile", help="profile in lakejobs.toml (default: $LAKEJOBS_PROFILE or local)"
    )
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    parser.set_defaults(log_file=None)  # set by `open_session`


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of the profile and lake a command was given."""
    return load_settings(profile=args.profile, lake=args.lake)


def open_session(args: argparse.Namespace, settings: Settings) -> SparkSession:
    """The command's SparkSession; its JVM log file is kept in `args.log_file` (none under
    spark-submit, whose JVM logs as it was told), and `--debug` also shows that log."""
    from lakejobs.session import build_session, launched_by_spark_submit, new_log_file

    args.log_file = None if launched_by_spark_submit() else new_log_file(settings)
    return build_session(settings, log_file=args.log_file, debug=args.debug)


def echo(line: str) -> None:
    """The one progress logger of the commands that run jobs: plain lines on stderr."""
    print(line, file=sys.stderr, flush=True)


def print_log_file(log_file: Path | None) -> None:
    """Name the Spark log file (which holds the Java stack traces) when there is one."""
    if log_file is not None and log_file.is_file():
        echo(f"lakejobs: Spark log (Java stack traces): {log_file}")


def one_line(message: str) -> str:
    """A message on one line: a parser's multi-line detail (TOML, JSON) joined with spaces."""
    return " ".join(line.strip() for line in message.strip().splitlines() if line.strip())


def report_error(exc: BaseException, debug: bool, log_file: Path | None) -> int:
    """Print `exc` as one line (the traceback too with `debug`), log it to `log_file`, and
    return the exit code: 2 for a usage or config error, else 1."""
    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, UsageError):  # ConfigError too: a bad argument or a broken config file
        print(f"lakejobs: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, LakejobsError):
        message = f"{type(exc).__name__}: {message}"
    from lakejobs.session import log_exception

    log_exception(exc, log_file)
    if not isinstance(exc, LakejobsError):  # our own errors say all there is in their one line
        print_log_file(log_file)
    print(f"lakejobs: failed: {message}", file=sys.stderr)  # last: the line to read
    return 1
