"""The lake shared by the notebooks, BI and interop tests, and one `lakejobs serve` over it for
every BI test module (a JVM start is slow on a busy machine): authenticated with credentials
made up per run, read-only, on a free loopback port."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakejobs.serve import PASSWORD_ENV, USER_ENV
from tests.interop.curated_lake import curated_lake  # noqa: F401  (a fixture)

START_DEADLINE_SECONDS = 300  # a hang guard: JVM start + table registration on a busy machine
STOP_DEADLINE_SECONDS = 60


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class ServerProcess:
    """`lakejobs serve` in its own process group, so that stopping it reaches its JVM too."""

    def __init__(self, lake: Path, port: int, log: Path, credentials: Credentials) -> None:
        self.port = port
        self.log = log
        self.credentials = credentials
        env = {k: v for k, v in os.environ.items() if k != "PYSPARK_GATEWAY_PORT"}
        env.pop("LAKEJOBS_PROFILE", None)
        env[USER_ENV] = credentials.user
        env[PASSWORD_ENV] = credentials.password
        command = [sys.executable, "-m", "lakejobs.cli", "serve", "--lake", str(lake)]
        command += ["--port", str(port)]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return "\n".join(self.text().splitlines()[-30:])

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if "Thrift Server ready" in line:
                    return line
            if self.proc.poll() is not None:
                pytest.fail(f"lakejobs serve exited with {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.5)
        pytest.fail(f"lakejobs serve not ready after {START_DEADLINE_SECONDS} s:\n{self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then wait for the whole group (Python and its JVM); SIGKILL as a last resort."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        deadline = time.monotonic() + STOP_DEADLINE_SECONDS
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if group_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode


@pytest.fixture(scope="package")
def credentials() -> Credentials:
    return Credentials(user="bi-reader", password=secrets.token_urlsafe(18))


@pytest.fixture(scope="package")
def server(
    curated_lake: Path,  # noqa: F811  (the fixture imported above)
    credentials: Credentials,
    tmp_path_factory,
) -> Iterator[ServerProcess]:
    """The one server of the BI tests; test_thrift_server.py (run last) ends with stopping it."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = ServerProcess(curated_lake, free_port(), log, credentials)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def running(server: ServerProcess) -> ServerProcess:
    """The server, which must still be up (the SIGTERM test stops it: it runs last)."""
    if server.proc.poll() is not None:
        pytest.fail("the shared server was stopped before this test (test order changed?)")
    return server
