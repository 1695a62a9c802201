"""Rotating database snapshots taken while the server runs (``--backup-every MINUTES``).

Every ``backup_every`` minutes the server starts a child process,
``python -m pollchat.server backup DATA_DIR/backups/pollchat-YYYYmmdd-HHMMSS.db --data-dir
DATA_DIR``, which copies the live database with SQLite's online backup API (WAL mode: the
copy reads a snapshot and never blocks the server's writes). The loop never waits for it:
a timer polls the child (:meth:`subprocess.Popen.poll`) until it ends, then the result is
logged and all but the newest ``backup_keep`` snapshots are deleted. A tick that comes
while the previous child still runs is skipped (and logged). :meth:`BackupScheduler.stop`,
called from ``Server.close``, ends a running child (SIGTERM, then SIGKILL after a bounded
wait).

Snapshot names carry the UTC time they were started at, so they sort by age.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import pollchat
from pollchat.server.timers import Timer, Timers

log = logging.getLogger(__name__)

BACKUP_DIR_NAME = "backups"
POLL_INTERVAL = 0.5
"""Seconds between two checks of a running backup child."""
STOP_TIMEOUT = 5.0
"""Seconds :meth:`BackupScheduler.stop` waits for a child after SIGTERM (and after SIGKILL)."""

_SNAPSHOT_RE = re.compile(r"pollchat-(\d{8}-\d{6})(?:-(\d+))?\.db")
_PARTIAL_RE = re.compile(r"\.pollchat-.*\.partial(?:-wal|-shm|-journal)?")


def snapshot_name(now: float, n: int = 1) -> str:
    """``pollchat-YYYYmmdd-HHMMSS.db`` for the UTC time ``now`` (epoch seconds); the
    ``n``-th name for the same second gets ``-n`` before ``.db`` (n >= 2)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return f"pollchat-{stamp}.db" if n <= 1 else f"pollchat-{stamp}-{n}.db"


def snapshots_to_delete(names: Iterable[str], keep: int) -> list[str]:
    """Which of ``names`` (file names in the backups directory) to delete so that only
    the newest ``keep`` snapshots remain, oldest first.

    Only names of the :func:`snapshot_name` form count: anything else in the directory
    is never deleted, nor counted. ``keep`` 0 (or less) keeps every snapshot.
    """
    if keep <= 0:
        return []
    snapshots = []
    for name in names:
        match = _SNAPSHOT_RE.fullmatch(name)
        if match:
            snapshots.append(((match.group(1), int(match.group(2) or 1)), name))
    snapshots.sort()
    return [name for _, name in snapshots[: max(0, len(snapshots) - keep)]]


def backup_command(destination: Path, data_dir: Path) -> list[str]:
    """The child process that writes one snapshot."""
    return [sys.executable, "-m", "pollchat.server", "backup", str(destination), "--data-dir", str(data_dir)]


class BackupScheduler:
    """Takes a snapshot every ``every_minutes`` minutes through a child process.

    Args:
        timers: the loop's timer queue (callbacks run on the loop thread).
        data_dir: the server's data directory; snapshots go to ``data_dir/backups``.
        every_minutes: minutes between snapshots (0: the scheduler does nothing).
        keep: snapshots kept (0: all).
        clock: wall-clock seconds, for snapshot names.
        poll_interval: seconds between checks of a running child.
    """

    def __init__(
        self,
        timers: Timers,
        data_dir: Path,
        every_minutes: float,
        keep: int,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self.timers = timers
        self.data_dir = Path(data_dir)
        self.directory = self.data_dir / BACKUP_DIR_NAME
        self.interval = every_minutes * 60.0
        self.keep = keep
        self.clock = clock
        self.poll_interval = poll_interval
        self._tick_timer: Timer | None = None
        self._poll_timer: Timer | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._destination: Path | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        """True while a backup child runs."""
        return self._proc is not None

    def start(self) -> None:
        """Schedule the first snapshot ``every_minutes`` from now (nothing if 0)."""
        if self.interval > 0 and not self._stopped:
            self._tick_timer = self.timers.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self._tick_timer = self.timers.call_later(self.interval, self._tick)  # the next one first
        try:
            if self._proc is not None:
                log.warning("backup: the previous snapshot (%s) is still being written; skipping this one", self._destination)
                return
            self._spawn()
        except Exception:  # never let a backup problem stop the chat
            log.exception("backup: could not start a snapshot")

    def _spawn(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = self.clock()
        n = 1
        destination = self.directory / snapshot_name(now)
        while destination.exists():
            n += 1
            destination = self.directory / snapshot_name(now, n)
        output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish / stop
        env = dict(os.environ)
        # The child must import this very pollchat, however the server was started.
        package_root = str(Path(pollchat.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self._proc = subprocess.Popen(
                backup_command(destination, self.data_dir),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                start_new_session=True,  # a Ctrl+C at the operator's terminal is for the server only
            )
        except BaseException:
            output.close()
            raise
        self._output = output
        self._destination = destination
        log.info("backup: writing snapshot %s (child pid %d)", destination, self._proc.pid)
        self._poll_timer = self.timers.call_later(self.poll_interval, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        proc = self._proc
        if proc is None:
            return
        try:
            status = proc.poll()
            if status is None:
                self._poll_timer = self.timers.call_later(self.poll_interval, self._poll)
                return
            self._finish(status)
        except Exception:
            log.exception("backup: could not check the snapshot child")

    def _finish(self, status: int) -> None:
        output = self._take_output()
        destination = self._destination
        self._proc = None
        self._destination = None
        if status == 0:
            log.info("backup done: %s", output or f"snapshot {destination} written")
            self._prune()
        else:
            log.error("backup: snapshot %s failed (exit status %d): %s", destination, status, output or "no output")
            self._remove_partials()

    def _take_output(self) -> str:
        output, self._output = self._output, None
        if output is None:
            return ""
        try:
            output.seek(0)
            text = output.read(64 * 1024).decode("utf-8", "replace")
        finally:
            output.close()
        return " | ".join(line.strip() for line in text.splitlines() if line.strip())

    def _prune(self) -> None:
        try:
            names = os.listdir(self.directory)
        except OSError as exc:
            log.error("backup: cannot list %s: %s", self.directory, exc)
            return
        for name in snapshots_to_delete(names, self.keep):
            try:
                (self.directory / name).unlink()
                log.info("backup: deleted old snapshot %s", self.directory / name)
            except OSError as exc:
                log.error("backup: cannot delete old snapshot %s: %s", self.directory / name, exc)
        self._remove_partials(names)

    def _remove_partials(self, names: Iterable[str] | None = None) -> None:
        """Delete temporary files a killed child left behind (no child runs now)."""
        if names is None:
            try:
                names = os.listdir(self.directory)
            except OSError:
                return
        for name in names:
            if _PARTIAL_RE.fullmatch(name):
                with contextlib.suppress(OSError):
                    (self.directory / name).unlink()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Cancel the timers and end a running child (SIGTERM, then SIGKILL; each wait
        bounded by ``timeout``). Idempotent."""
        self._stopped = True
        for timer in (self._tick_timer, self._poll_timer):
            if timer is not None:
                timer.cancel()
        self._tick_timer = self._poll_timer = None
        proc = self._proc
        if proc is None:
            return
        status = proc.poll()
        if status is not None:  # it ended on its own since the last check
            self._finish(status)
            return
        log.info("backup: shutting down; interrupting snapshot %s (pid %d)", self._destination, proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("backup: the snapshot child (pid %d) did not end", proc.pid)
        destination = self._destination
        self._proc = None
        self._destination = None
        self._take_output()
        # The child renames its snapshot into place as its last step: a snapshot under its
        # final name is complete even if the child was interrupted before it exited, so
        # the keep limit applies to it (otherwise one snapshot too many is left).
        if destination is not None and destination.exists():
            log.info("backup: snapshot %s was complete when interrupted", destination)
            self._prune()
        else:
            self._remove_partials()
