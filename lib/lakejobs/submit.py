"""Build the `spark-submit` command for a job file: master, jars, profile conf, shipped code.

`spark-submit.sh` is a thin wrapper around this module, so the command it runs is testable and
printable (`--dry-run`) without a cluster.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import zipfile
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from lakejobs.config import DEFAULT_JOBS_PACKAGE, Settings, config_path, load_settings, project_dir
from lakejobs.errors import UsageError
from lakejobs.session import LOG4J_CONF, local_jars, spark_conf

# Shipped with --py-files, from wherever they are imported (a checkout or site-packages).
PACKAGES = ("lakejobs", DEFAULT_JOBS_PACKAGE)
# An s3:// lake means EMR (EMRFS): the cluster brings its own S3 filesystem and AWS SDK, and
# shipping hadoop-aws for another Hadoop release would clash with it; only Delta (and lakejobs'
# own classes, which need nothing else) is shipped.
EMRFS_SHIPPED_JARS = ("delta-", "unitycatalog-", "lakejobs-")


def shipped_jars(settings: Settings) -> list[Path]:
    """The bootstrapped jars sent with --jars: all of them, or only Delta's for an s3:// lake."""
    jars = local_jars(settings)
    if settings.lake.startswith("s3://"):
        jars = [j for j in jars if j.name.startswith(EMRFS_SHIPPED_JARS)]
    return jars


def build_code_zip(target: Path | None = None) -> Path:
    """Zip the `lakejobs` and jobs packages for `--py-files` (pure Python only), by default into
    `.build/lakejobs.zip` of the project folder (`config.project_dir`)."""
    target = target or project_dir() / ".build" / "lakejobs.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in PACKAGES:
            root = Path(str(files(package)))
            for path in sorted(root.rglob("*.py")):
                archive.write(path, Path(package) / path.relative_to(root))
    return target


def shipped_files() -> list[Path]:
    """The files sent with --files into the driver's and executors' working folder: the
    lakejobs.toml in use (when there is one) and the log4j configuration."""
    config = config_path()
    return [*([config] if config is not None else []), LOG4J_CONF]


def driver_env(settings: Settings) -> dict[str, str]:
    """What the driver needs to find beyond its arguments: the --py-files zip holds no contract
    files, so it reads them from `settings.schemas_dir`, and the lakejobs.toml in use."""
    config = config_path()
    return {
        "LAKEJOBS_SCHEMAS": str(settings.schemas_dir),
        **({"LAKEJOBS_CONFIG": str(config.resolve())} if config is not None else {}),
    }


def submit_command(
    settings: Settings,
    job_file: Path,
    job_args: Sequence[str],
    code_zip: Path,
    deploy_mode: str = "client",
    extra_conf: Sequence[str] = (),
) -> list[str]:
    """The full spark-submit argument list for one job file; `extra_conf` (KEY=VALUE) come last,
    so they override the profile's settings."""
    if not job_file.is_file():
        raise UsageError(f"job file not found: {job_file}")
    spark_submit = Path(sys.executable).with_name("spark-submit")
    command = [str(spark_submit if spark_submit.exists() else "spark-submit")]
    command += ["--master", settings.master, "--deploy-mode", deploy_mode]
    command += ["--name", f"lakejobs:{job_file.stem}"]
    jars = shipped_jars(settings)
    if jars:
        command += ["--jars", ",".join(str(j) for j in jars)]
    command += ["--py-files", str(code_zip)]
    command += ["--files", ",".join(str(f) for f in shipped_files())]
    for key, value in spark_conf(settings, with_jars=False).items():
        command += ["--conf", f"{key}={value}"]
    for item in extra_conf:
        if "=" not in item or item.startswith("="):
            raise UsageError(f"--conf expects KEY=VALUE, got {item!r}")
        command += ["--conf", item]
    command += [str(job_file), "--lake", settings.lake, "--profile", settings.profile, *job_args]
    return command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spark-submit.sh",
        description="Submit a lakejobs job file with spark-submit: the profile's master, jars and "
        "Spark conf, the library shipped with --py-files. Arguments after the job file go to the "
        "job (e.g. --date 2026-11-20).",
    )
    parser.add_argument("--master", help="spark master (local[*], spark://host:port, yarn)")
    parser.add_argument("--profile", help="profile in lakejobs.toml (default: local)")
    parser.add_argument("--lake", help="lake root (default: the profile's)")
    parser.add_argument("--deploy-mode", default="client", choices=["client", "cluster"])
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting, after the profile's (e.g. spark.executor.memory=2g)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    parser.add_argument("job_file", type=Path, help="e.g. jobs/exams/grade.py")
    parser.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments for the job")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(profile=args.profile, lake=args.lake, master=args.master)
        code_zip = build_code_zip()
        command = submit_command(
            settings, args.job_file, args.job_args, code_zip, args.deploy_mode, args.conf
        )
    except UsageError as exc:
        print(f"spark-submit.sh: error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(shlex.join(command))
        return 0
    if settings.master == "yarn" and not (
        os.environ.get("HADOOP_CONF_DIR") or os.environ.get("YARN_CONF_DIR")
    ):
        print(
            f"spark-submit.sh: error: profile {settings.profile!r} submits to YARN: set "
            "HADOOP_CONF_DIR or YARN_CONF_DIR to the cluster's Hadoop configuration folder "
            "(docs/running-on-emr-and-yarn.md)",
            file=sys.stderr,
        )
        return 2
    env = {**driver_env(settings), **os.environ}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    if settings.master.startswith("local"):
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main())
