"""The entry point of a job file, run directly or by spark-submit: `job.py --date D [...]`.

Job files end with `if __name__ == "__main__": job_main(JOB)`; this module is all they need
from the command side, so a job depends on no CLI.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from lakejobs.console import (
    UsageParser,
    add_common_options,
    echo,
    open_session,
    parse_param,
    print_log_file,
    report_error,
    settings_from,
)
from lakejobs.lake import parse_date

if TYPE_CHECKING:
    import argparse

    from lakejobs.job import Job


def job_main(job: Job, argv: Sequence[str] | None = None) -> NoReturn:
    """Run `job` for the `--date` of `argv` (default: the process's arguments) and exit: 0 when
    it succeeded or was up to date, 1 when it failed, 2 on bad arguments."""
    parser = UsageParser(prog=Path(sys.argv[0]).name, description=job.description)
    parser.add_argument("--date", required=True, help="ingest date, YYYY-MM-DD")
    parser.add_argument("--param", action="append", type=parse_param, metavar="KEY=VALUE")
    parser.add_argument(
        "--force", action="store_true", help="re-run even if it succeeded on the same inputs"
    )
    add_common_options(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        code = _run(job, args)
    except Exception as exc:  # the same one-line policy as the `lakejobs` command
        code = report_error(exc, "--debug" in argv, args.log_file if args else None)
    sys.exit(code)


def _run(job: Job, args: argparse.Namespace) -> int:
    from lakejobs.pipeline import preflight, run_jobs

    settings = settings_from(args)
    run_date = parse_date(args.date)
    params = dict(args.param or [])
    preflight([job], params, settings)  # before the JVM starts
    spark = open_session(args, settings)
    result = run_jobs(
        spark, settings, [job], run_date, params, echo=echo, debug=args.debug, force=args.force
    )
    if result.failed:
        print_log_file(args.log_file)
    return 1 if result.failed else 0
