"""The seed's setup, reproduced: the grading query on MariaDB, in a private throw-away server.

The bench starts its own `mariadbd` (fresh datadir under the data folder, bound to 127.0.0.1 on a
free port, socket beside it), loads the scores with LOAD DATA LOCAL INFILE, runs the window SQL
of `gradesql`, and stops the server. A system-wide MariaDB is never touched. The timed part is
load + grading, under one deadline: when it passes, the server is killed and the result is
`timeout` (a killed CREATE TABLE ... AS would otherwise roll back for as long as it ran).
"""

from __future__ import annotations

import getpass
import importlib.util
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from benchkit import PeakRss
from gradesql import SCORE_COLUMNS, check_sql, graded_sql

from jobs.exams.grading import GradingScheme

MAX_ROWS = 10**7
START_TIMEOUT_S = 60.0
# Generous for a 2-core, 24 GB machine, so that MariaDB is measured tuned, not starved.
SERVER_OPTIONS = (
    "--innodb-buffer-pool-size=4G",
    "--innodb-log-file-size=1G",
    "--innodb-flush-log-at-trx-commit=2",
    "--tmp-table-size=1G",
    "--max-heap-table-size=1G",
    "--sort-buffer-size=64M",
    "--local-infile=1",
)
CREATE_SCORES = """
CREATE TABLE scores (
    exam_id VARCHAR(32) NOT NULL,
    exam_date DATE NOT NULL,
    subject VARCHAR(32) NOT NULL,
    student_id VARCHAR(32) NOT NULL,
    school_id VARCHAR(16) NOT NULL,
    class_id VARCHAR(24) NOT NULL,
    score DOUBLE NOT NULL,
    PRIMARY KEY (exam_id, subject, student_id)
) ENGINE=InnoDB
"""


def server_binaries() -> tuple[str, str] | str:
    """(mariadbd, mariadb-install-db) from PATH, or why MariaDB cannot run here."""
    server = shutil.which("mariadbd") or shutil.which("mysqld")
    installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not (server and installer):
        return "mariadbd not found (apt-get install -y mariadb-server)"
    if importlib.util.find_spec("pymysql") is None:
        return "pymysql not installed (.venv/bin/pip install pymysql)"
    return server, installer


def export_csv(scores_glob: str, target: Path) -> Path:
    """The scores as headerless CSV in primary-key order, as a dump would be (cached; untimed)."""
    if target.is_file():
        return target
    partial = target.with_suffix(".partial")
    con = duckdb.connect()
    source = f"read_parquet('{scores_glob}', hive_partitioning = true, hive_types = {{'exam_id': 'VARCHAR'}})"
    con.execute(
        f"COPY (SELECT {', '.join(SCORE_COLUMNS)} FROM {source} "
        f"ORDER BY exam_id, subject, student_id) TO '{partial}' (FORMAT csv, HEADER false)"
    )
    con.close()
    partial.rename(target)
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateServer:
    """A mariadbd of our own in `root` (wiped on entry and exit)."""

    def __init__(self, root: Path, binaries: tuple[str, str]) -> None:
        self.root = root
        self.server, self.installer = binaries
        self.datadir = root / "datadir"
        self.socket = root / "mariadbd.sock"
        self.log = root / "mariadbd.err"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrivateServer:
        shutil.rmtree(self.root, ignore_errors=True)
        self.datadir.mkdir(parents=True)
        user = getpass.getuser()
        subprocess.run(
            [
                self.installer,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={user}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        self.process = subprocess.Popen(
            [
                self.server,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.root / 'mariadbd.pid'}",
                f"--log-error={self.log}",
                f"--user={user}",
                *SERVER_OPTIONS,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                self.connect().close()
                return
            except Exception:
                time.sleep(0.5)
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"mariadbd did not start within {START_TIMEOUT_S:.0f}s:\n{tail}")

    def connect(self):
        """A client session over the server's socket (pymysql, LOCAL INFILE allowed)."""
        import pymysql  # optional: only the MariaDB baseline needs it (see server_binaries)

        return pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            password="",
            local_infile=True,
            autocommit=True,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class MariaDBRun:
    """What one MariaDB grading run measured; `status` is ok or timeout."""

    status: str
    steps: dict[str, float]
    peak_rss_gb: float
    rows: list[tuple] | None = None


def run_grading(
    csv: Path, root: Path, scheme: GradingScheme, timeout_s: float, binaries: tuple[str, str]
) -> MariaDBRun:
    """Load `csv` and grade it on a private server; past `timeout_s` the server is killed."""
    steps: dict[str, float] = {}
    with PrivateServer(root, binaries) as server:
        con = server.connect()
        con.cursor().execute("CREATE DATABASE bench")
        con.select_db("bench")
        cursor = con.cursor()
        cursor.execute(CREATE_SCORES)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            server.kill()

        watchdog = threading.Timer(timeout_s, expire)
        with PeakRss(lambda: [server.process.pid] if server.process else []) as rss:
            watchdog.start()
            try:
                started = time.perf_counter()
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE scores "
                    "FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' "
                    f"({', '.join(SCORE_COLUMNS)})"
                )
                steps["load"] = time.perf_counter() - started
                started = time.perf_counter()
                cursor.execute(
                    f"CREATE TABLE grades ENGINE=InnoDB AS {graded_sql('scores', scheme, '`')}"
                )
                steps["grade"] = time.perf_counter() - started
            except Exception:
                if not expired.is_set():
                    raise
            finally:
                watchdog.cancel()
        if expired.is_set():
            return MariaDBRun("timeout", steps, rss.gb)
        cursor.execute(check_sql("grades", "`"))
        rows = list(cursor.fetchall())
        con.close()
        return MariaDBRun("ok", steps, rss.gb, rows)
