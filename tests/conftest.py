"""Shared fixtures for the harness's own tests."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from postel.protocols.time.server import TimeServer
from postel.serving import ServerThread

pytest_plugins = ["pytester"]

POSTEL = str(Path(sys.executable).with_name("postel"))


@pytest.fixture(scope="session")
def reference_time() -> Iterator[TimeServer]:
    """A reference time server (TCP and UDP) in this process, for tests that need a correct peer."""
    thread = ServerThread(TimeServer(), "time").start()
    yield thread.server
    thread.stop()


@pytest.fixture
def closed_port() -> int:
    """A TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
