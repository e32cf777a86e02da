"""Before a run against a third-party target: can we reach it at all?

A run against an unreachable target would end in a wall of inconclusive
tests; instead it stops at once with one line and exit code 2.
"""

from __future__ import annotations

from postel.target import Target
from postel.wire import Transcript, UdpEndpoint, WireError, WireTimeout, WireUnreachable, TcpConnection

__all__ = ["check_reachable"]


def check_reachable(target: Target, timeout: float) -> str | None:
    """``None`` when the target answers the transport; else one line saying why not."""
    where = target.redacted_url()
    transcript = Transcript(label="pre-flight", transport=target.transport)
    transcript.redact(target.secrets())
    try:
        address = target.address
    except Exception as exc:  # noqa: BLE001 - reported as one line
        return f"cannot use {where}: {exc}"
    if target.transport == "tcp":
        try:
            TcpConnection.connect(address, transcript, timeout).close()
        except WireError as exc:
            return f"cannot reach {where}: {exc}"
        except OSError as exc:
            return f"cannot reach {where}: {exc.strerror or exc}"
        return None
    # UDP has no handshake: one datagram shows an ICMP "port unreachable" at
    # once; silence proves nothing (the suites judge a silent server).
    try:
        with UdpEndpoint(address, transcript, timeout) as endpoint:
            endpoint.send(b"")
            endpoint.receive(min(timeout, 1.0))
    except WireUnreachable as exc:
        return f"cannot reach {where}: {exc}"
    except WireTimeout:
        return None
    except (WireError, OSError) as exc:
        return f"cannot reach {where}: {exc}"
    return None
