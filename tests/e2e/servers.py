"""Local servers for the front-end tests (Notebook 7, Voila, marimo): started on a free
loopback port with their log in a file, polled until they answer, stopped afterwards (SIGTERM,
then SIGKILL)."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def api(url: str, token: str = "", method: str = "GET") -> Any:
    """A Jupyter server REST call (JSON in, JSON out)."""
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(url, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


@contextlib.contextmanager
def running(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path, probe: str, timeout: float
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running until the block ends; ready once ``probe`` (a URL) answers."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not answers(probe):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-3000:]
                    pytest.fail(f"{command[:4]} did not start ({process.returncode}):\n{tail}")
                time.sleep(0.5)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
