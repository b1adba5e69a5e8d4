"""A real `python -m xmodal.serve` on 127.0.0.1 (a free port) over the tiny index, for the module's tests."""
import dataclasses
import re
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
START_SECONDS = 120


@dataclasses.dataclass
class Server:
    """A running server: its base URL and every line it printed."""

    url: str
    log: list[str]


def started(process: subprocess.Popen, log: list[str]) -> str:
    """The URL the server prints once it listens; fails with its output if it exits first."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail("xmodal.serve exited: " + "".join(log)[-2000:])
        log.append(line)
        if match := LISTENING.search(line):
            return match[1]
    pytest.fail("xmodal.serve did not listen in time: " + "".join(log)[-2000:])


def serving(tiny_index: str, *extra: str) -> Iterator[Server]:
    """A server over the tiny index (bodies capped at 2 MB); its output is read all along, so it never blocks;
    stopped with SIGINT (as Ctrl-C) afterwards."""
    process = subprocess.Popen([sys.executable, "-m", "xmodal.serve", "--index", tiny_index, "--port", "0",
                                "--max-body-mb", "2", "--log-level", "warning", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    try:
        url = started(process, log)
        threading.Thread(target=lambda: log.extend(process.stdout), daemon=True).start()
        yield Server(url, log)
    finally:
        process.send_signal(2)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def server(tiny_index) -> Iterator[Server]:
    """A server over the tiny index, through the export that made it."""
    yield from serving(tiny_index)


@pytest.fixture(scope="session")
def unlike_server(tiny_index, unlike_model) -> Iterator[Server]:
    """A server over the tiny index through a copy of its export whose calibration makes every picture look unlike
    the catalogue."""
    yield from serving(tiny_index, "--model", unlike_model)
