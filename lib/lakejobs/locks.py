"""One run of a job and date at a time, and telling a live run from a dead one.

On a local lake the guard is an OS lock (`fcntl.flock`) on `<lake>/_locks/<job>@<date>.lock`:
the kernel releases it when its process ends, however it ends (SIGKILL included), so a dead run
never blocks the next one. The holder writes its pid and start time into the file, so the refusal
can name them. HDFS and S3 have no such lock: there the pipeline falls back to the run log's
`running` rows (`runlog.running_elsewhere`), which is racy (two runs starting within the same
second can both start), and a run that died on another host, whose pid cannot be checked from
here, blocks its job and date until `runlog.STALE_AFTER` after its start.

A process is identified by host, pid and its start time (Linux: boot id and start tick from
/proc), so a pid reused by an unrelated process after a crash is not taken for the run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from lakejobs.errors import LakejobsError


class RunRefused(LakejobsError):
    """The same job and date is being run by another live process."""


def refusal(job: str, run_date: date, pid: int | None, since: str | None) -> RunRefused:
    where = f"pid {pid}" if pid else "another process"
    return RunRefused(
        f"{job} {run_date.isoformat()} is running in {where} since {since or 'an unknown time'}"
    )


def process_start(pid: int) -> str | None:
    """A token that changes when `pid` is reused: boot id and start tick (Linux), else None."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may hold spaces, so split after its ')'.
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


@dataclass(frozen=True)
class Process:
    """Who runs a job: enough to tell later, from the same host, whether it still lives."""

    host: str
    pid: int
    start: str | None

    @classmethod
    def current(cls) -> Process:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid))

    def alive(self) -> bool | None:
        """True or False when checkable (same host), None for a process on another host."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        current = process_start(self.pid)
        return self.start is None or current is None or current == self.start


def lock_path(lake_dir: Path, job: str, run_date: date) -> Path:
    return lake_dir / "_locks" / f"{job}@{run_date.isoformat()}.lock"


@contextmanager
def run_lock(lake_dir: Path, job: str, run_date: date) -> Iterator[None]:
    """Hold the lock of `job` for `run_date`, or raise `RunRefused` naming the holder."""
    path = lock_path(lake_dir, job, run_date)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:  # the holder is writing it right now
                holder = {}
            raise refusal(job, run_date, holder.get("pid"), holder.get("since")) from None
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": since}).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
