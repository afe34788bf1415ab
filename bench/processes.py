"""The benchmark's child processes: started in their own session, waited for, and stopped.

Everything started is stopped on exit, Ctrl-C or an exception (`Stack`); child processes
also get PR_SET_PDEATHSIG, so a benchmark killed outright leaves nothing running.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

from report import log


class Stack(contextlib.ExitStack):
    """An ExitStack that also turns SIGTERM/SIGHUP into a clean unwind (SIGINT already is)."""

    def __enter__(self) -> "Stack":
        super().__enter__()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(sig, _raise_exit)
        return self


def _raise_exit(signum, frame):  # noqa: ARG001
    raise SystemExit(128 + signum)


def pdeathsig() -> None:
    """In the child, before exec: die with the benchmark, however it ends (Linux only)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process in its own session (Ctrl-C reaches the benchmark only, which then
    stops it), its output in files, stopped by `stop()` and by the benchmark's end."""

    def __init__(self, stack: Stack, name: str, argv: list[str], *, env: dict[str, str],
                 cwd: Path, workdir: Path) -> None:
        self.name = name
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=pdeathsig)
        stack.callback(self.stop)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL to the whole process group (gunicorn's workers, whose job
        threads would otherwise drain their queue before exiting)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGCONT)  # in case it was paused
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        for f in (self._out, self._err):
            with contextlib.suppress(Exception):
                f.close()

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def wait_http(url: str, process: Process | None = None, timeout_s: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except Exception as error:  # noqa: BLE001 - not up yet
            last = error
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s ({last}):\n"
                       + (process.tail() if process else ""))


def wait_until(check: Callable[[], bool], *, timeout_s: float, every_s: float = 0.25,
               what: str = "condition", progress: Callable[[], str] | None = None) -> float:
    """Seconds waited until `check()`; TimeoutError after `timeout_s`."""
    started = time.monotonic()
    last_note = started
    while True:
        if check():
            return time.monotonic() - started
        now = time.monotonic()
        if now - started > timeout_s:
            raise TimeoutError(f"{what}: not reached within {timeout_s:.0f} s"
                               + (f" ({progress()})" if progress else ""))
        if progress and now - last_note > 10:
            log(f"waiting for {what}: {progress()}")
            last_note = now
        time.sleep(every_s)
