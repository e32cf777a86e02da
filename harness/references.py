"""Which reference server serves which protocol, started on demand.

One entry per protocol; a protocol's services share one server (the time
server answers both ``time`` over TCP and ``time+udp``).  Adding a protocol is
one entry in ``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from postel.serving import AsyncServer, ServerThread
from postel.target import Target, reference_target

__all__ = ["ReferenceServers"]


def _time_server(options: Mapping[str, str]) -> AsyncServer:
    from postel.protocols.time.server import TimeServer

    return TimeServer()


# The embedded HTTP server drops a request head that takes longer than this: short, so the
# slowloris check (which waits for the drop) does not dominate the run; postel serve keeps 10 s.
HTTP_HEAD_TIMEOUT = 4.0


def _http_server(options: Mapping[str, str]) -> AsyncServer:
    import tempfile
    from pathlib import Path

    from postel.protocols.http.server import HttpServer
    from postel.protocols.http.site import make_sample_site

    # A fresh folder per server: the site, and beside it the file a traversal would reach.
    folder = Path(tempfile.mkdtemp(prefix="postel-http-"))
    return HttpServer(root=make_sample_site(folder / "root"), remove_on_close=folder, head_timeout=HTTP_HEAD_TIMEOUT)


_FACTORIES: dict[str, Callable[[Mapping[str, str]], AsyncServer]] = {
    "time": _time_server,
    "http": _http_server,
}


def _address(protocol: str, server: AsyncServer, transport: str) -> tuple[str, int]:
    if protocol == "time":
        address = server.udp_address if transport == "udp" else server.tcp_address  # type: ignore[attr-defined]
        assert address is not None
        return address
    return server.address  # type: ignore[attr-defined]


def implemented_protocols() -> tuple[str, ...]:
    return tuple(_FACTORIES)


class ReferenceServers:
    """The reference servers of one pytest process, started on first use, stopped at the end."""

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        self.options = dict(options or {})
        self._running: dict[str, ServerThread] = {}

    def target(self, service: str) -> Target:
        """The reference target for ``service``, bound to where its server listens."""
        target = reference_target(service)
        thread = self.thread(target.protocol)
        host, port = _address(target.protocol, thread.server, target.transport)
        return target.with_address(host, port).with_options(self.options)

    def thread(self, protocol: str) -> ServerThread:
        if protocol not in self._running:
            if protocol not in _FACTORIES:
                raise LookupError(f"no reference server for {protocol!r} yet")
            self._running[protocol] = ServerThread(_FACTORIES[protocol](self.options), protocol).start()
        return self._running[protocol]

    def check(self) -> None:
        for thread in self._running.values():
            thread.check()

    def stop(self) -> None:
        for thread in self._running.values():
            thread.stop()
        self._running.clear()
