"""The HTTP/1.0 exchange as one table, in the RFCs' words (h11's ``_state.py``).

Rule 1: every state change lives in this file.  Rule 2: the table does not
know which side we are, so client and server are judged by the same rules.

HTTP/1.0 has one request per connection: "the connection is closed by the
server after sending the response" (RFC 1945 section 1.3), so the server's
last state before CLOSED is MUST_CLOSE, never IDLE again.
"""

from __future__ import annotations

from postel.protocols.http.events import ConnectionClosed, Data, EndOfMessage, Request, Response
from postel.protocols.sentinel import Sentinel

__all__ = ["CLIENT", "CLOSED", "DONE", "ERROR", "IDLE", "MUST_CLOSE", "SEND_BODY", "SERVER", "TRANSITIONS"]


class CLIENT(Sentinel): ...


class SERVER(Sentinel): ...


class IDLE(Sentinel): ...  # nothing sent yet on this connection


class SEND_BODY(Sentinel): ...  # head sent; entity body octets may follow


class DONE(Sentinel): ...  # the client's request is complete; it waits for the response


class MUST_CLOSE(Sentinel): ...  # the server's response is complete; it closes the connection


class CLOSED(Sentinel): ...


class ERROR(Sentinel): ...


TRANSITIONS: dict[type, dict[type, dict[type, type]]] = {
    CLIENT: {
        IDLE: {Request: SEND_BODY, ConnectionClosed: CLOSED},
        SEND_BODY: {Data: SEND_BODY, EndOfMessage: DONE, ConnectionClosed: CLOSED},
        DONE: {ConnectionClosed: CLOSED},
    },
    SERVER: {
        IDLE: {Response: SEND_BODY, ConnectionClosed: CLOSED},
        SEND_BODY: {Data: SEND_BODY, EndOfMessage: MUST_CLOSE, ConnectionClosed: CLOSED},
        MUST_CLOSE: {ConnectionClosed: CLOSED},
    },
}


def next_state(role: type, state: type, event: object) -> type | None:
    """The new state, or None when the table has no such transition."""
    return TRANSITIONS[role].get(state, {}).get(type(event))
