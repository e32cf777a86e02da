"""The SMTP session as one small table, in RFC 5321's words.

The session changes state when a reply answers a command, so both sides run
the same table: a server when it *sends* the reply, a client when it *reads*
it.  Every state change lives in this file.
"""

from __future__ import annotations

from postel.protocols.sentinel import Sentinel

__all__ = [
    "CLIENT", "CLOSED", "END_OF_DATA", "ERROR", "GREETED", "GREETING", "IN_DATA", "IN_TRANSACTION", "INITIALIZED",
    "SERVER", "UNREADABLE", "WAIT_GREETING", "after_reply",
]


class CLIENT(Sentinel): ...


class SERVER(Sentinel): ...


# What a reply answers besides a command verb.
class GREETING(Sentinel): ...  # the connection greeting, 3.1


class END_OF_DATA(Sentinel): ...  # "<CRLF>.<CRLF>", 4.1.1.4


class UNREADABLE(Sentinel): ...  # a command line the server refused (unknown verb, bad syntax, too long): it is answered too, 4.2


# Session states.
class WAIT_GREETING(Sentinel): ...  # "The sender SHOULD wait for this greeting message before sending any commands." (4.3.1)


class GREETED(Sentinel): ...  # "A session that will contain mail transactions MUST first be initialized by the use of the EHLO command." (4.1.4)


class INITIALIZED(Sentinel): ...  # "there is no transaction in progress and all state tables and buffers are cleared" (4.1.1.1)


class IN_TRANSACTION(Sentinel): ...  # "a new mail transaction is starting" (3.3, MAIL accepted)


class IN_DATA(Sentinel): ...  # "all succeeding lines up to but not including the end of mail data indicator" (3.3, after 354)


class CLOSED(Sentinel): ...


class ERROR(Sentinel): ...


# (what the reply answers, first digit of its code) -> new state; absent: "stay in the same state" (4.1.4)
_ON_REPLY: dict[tuple[object, int], type] = {
    (GREETING, 2): GREETED,
    # "a 554 response MAY be given in the initial connection opening message instead of the 220";
    # the server "MUST still wait for the client to send a QUIT" (3.1)
    (GREETING, 5): GREETED,
    (b"EHLO", 2): INITIALIZED,  # "exactly as if a RSET command had been issued" (4.1.4)
    (b"HELO", 2): INITIALIZED,
    (b"MAIL", 2): IN_TRANSACTION,
    (b"DATA", 3): IN_DATA,  # "the SMTP server returns a 354 Intermediate reply" (3.3)
    # "on the completion of this command these buffers are cleared", success or failure (4.1.1.4)
    (END_OF_DATA, 2): INITIALIZED,
    (END_OF_DATA, 4): INITIALIZED,
    (END_OF_DATA, 5): INITIALIZED,
    (b"QUIT", 2): CLOSED,  # "the receiver MUST send a "221 OK" reply, and then close" (4.1.1.10)
}


def after_reply(state: type, answers: object, code: int) -> type:
    """The session state once a reply with ``code`` has answered ``answers`` (a verb, GREETING or END_OF_DATA)."""
    if code == 421:
        return CLOSED  # "Service not available, closing transmission channel" (4.2.3)
    if answers == b"RSET" and code // 100 == 2:
        # "Any stored sender, recipients, and mail data MUST be discarded" (4.1.1.5); RSET does not initialize.
        return INITIALIZED if state in (INITIALIZED, IN_TRANSACTION) else state
    return _ON_REPLY.get((answers, code // 100), state)
