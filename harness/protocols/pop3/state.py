"""The POP3 session as one small table, in RFC 1939's words.

The session changes state when a response answers a command, so both sides
run the same table: a server when it *sends* the response, a client when it
*reads* it.  "USER accepted" is not a state of RFC 1939 (PASS is merely
restricted to "immediately after a successful USER command"), so the codec
keeps it as a flag.  Every state change lives in this file.
"""

from __future__ import annotations

from postel.protocols.sentinel import Sentinel

__all__ = [
    "AUTHORIZATION", "CLIENT", "CLOSED", "ERROR", "GREETING", "INVALID_COMMAND", "SERVER", "TRANSACTION", "UPDATE",
    "after_response",
]


class CLIENT(Sentinel): ...


class SERVER(Sentinel): ...


# What a response answers besides a command: the greeting (RFC 1939 4).
class GREETING(Sentinel): ...  # "the POP3 server issues a one line greeting"


# A line the server could not read as a command; it still gets one response: "A server MUST respond to an
# unrecognized, unimplemented, or syntactically invalid command by responding with a negative status indicator." (3)
class INVALID_COMMAND(Sentinel): ...


# Session states.
class AUTHORIZATION(Sentinel): ...  # "the client must identify itself to the POP3 server" (3)


class TRANSACTION(Sentinel): ...  # "the client requests actions on the part of the POP3 server" (3)


class UPDATE(Sentinel): ...  # "the POP3 server releases any resources acquired during the TRANSACTION state and says goodbye" (3)


class CLOSED(Sentinel): ...  # "The TCP connection is then closed." (3)


class ERROR(Sentinel): ...


# Commands whose +OK in the AUTHORIZATION state opens the maildrop:
# "the session enters the TRANSACTION state" (3); PASS and APOP (7); AUTH is RFC 5034's.
_AUTHENTICATE = frozenset({b"PASS", b"APOP", b"AUTH"})


def after_response(state: type, answers: object, ok: bool) -> type:
    """The session state once a ``+OK`` (``ok``) or ``-ERR`` response has answered ``answers`` (a verb, GREETING or INVALID_COMMAND)."""
    if answers is GREETING:
        # "This can be any positive response." (4); a negative one is a refusal, and the server closes.
        return AUTHORIZATION if ok else CLOSED
    if answers == b"QUIT":
        if state is TRANSACTION:
            # "When the client issues the QUIT command from the TRANSACTION state, the POP3 session enters
            # the UPDATE state." (6) -- whatever the status: "Whether the removal was successful or not,
            # the server then releases any exclusive-access lock on the maildrop and closes" (6).
            return UPDATE
        # "if the client issues the QUIT command from the AUTHORIZATION state, the POP3 session terminates
        # but does NOT enter the UPDATE state" (6)
        return CLOSED if state is AUTHORIZATION else state
    if ok and state is AUTHORIZATION and answers in _AUTHENTICATE:
        return TRANSACTION  # "If the lock is successfully acquired ... The POP3 session now enters the TRANSACTION state" (4)
    return state
