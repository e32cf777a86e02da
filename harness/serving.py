"""Run an asyncio reference server on a background thread, for synchronous tests.

The fixtures start each reference server once per session (per xdist worker)
on an ephemeral port (pytest-httpserver's ``make_httpserver`` habit).  Errors
inside the server's loop are kept and re-raised by :meth:`ServerThread.check`,
so a bug in a reference server fails the test that met it instead of passing
as a timeout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["AsyncServer", "ServerThread", "new_event_loop", "run"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (a dependency on Linux and macOS), else asyncio's.

    The reference servers are plain asyncio Protocols; uvloop runs them
    unchanged at about 1.5x the requests/s (benchmarks/http_bench.py).
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Awaitable[Any]) -> Any:
    """``asyncio.run`` on :func:`new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class AsyncServer(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


class ServerThread:
    def __init__(self, server: AsyncServer, name: str) -> None:
        self.server = server
        self.name = name
        self.errors: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name=f"postel-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"reference {self.name} server did not start within {timeout}s")
        if self._startup_error is not None:
            raise RuntimeError(f"reference {self.name} server failed to start: {self._startup_error}") from self._startup_error
        return self

    def call(self, make: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop (reset state between tests, say)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout)

    def check(self) -> None:
        """Re-raise, in the test, what went wrong inside the server since the last check."""
        if self.errors:
            errors, self.errors = self.errors, []
            raise AssertionError(f"reference {self.name} server raised: " + "; ".join(errors))

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        try:
            self.call(self.server.close, timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        loop.set_exception_handler(self._on_error)
        try:
            loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _on_error(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        self.errors.append(f"{context.get('message', 'error')}: {exc!r}" if exc else str(context.get("message")))
