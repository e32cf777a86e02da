"""What the reference POP3 server decides in one session, without I/O: login, the maildrop snapshot, marks, UPDATE.

Why apart from ``server.py``: every rule of RFC 1939 4 to 7 that is not about
octets on the wire lives here, so a unit test can walk a session command by
command with no socket and no clock.  The server feeds each parsed command to
:meth:`Pop3Session.handle` and writes the :class:`Reply` it gets back; a reply
may ask to be held back (``delay``, after a failed login) or to end the
connection (``close``, after QUIT).

The session in RFC 1939's words:

- AUTHORIZATION (4): USER then PASS, or APOP with the greeting's timestamp.
  With the right credentials the server takes the maildrop's exclusive lock
  (rfc1939/4/6) or answers ``-ERR [IN-USE]`` (rfc2449/8.1.2/1); then it numbers
  the messages 1..n in delivery order and notes each size in octets as stored
  (rfc1939/4/13, 4/14).  The store keeps CRLF line ends, so that size is
  exactly what RETR sends once un-stuffed (rfc1939/11/2).
- RETR and TOP answer with a :class:`MessageReader`: the message file, opened
  before the ``+OK`` (a file removed by another program gets ``-ERR``, never a
  cut answer), read in chunks (``FIRST_CHUNK_SIZE`` growing to ``CHUNK_SIZE``)
  that the server stuffs and writes as the client takes them -- a session
  holds a chunk, not a message.
- TRANSACTION (5): numbers stay fixed for the session; DELE only marks
  (rfc1939/5/27, 5/29); a marked message is an error in every later command
  (5/28) and is left out of STAT, LIST and UIDL (5/10, 5/20, 7/16); RSET
  unmarks (5/34).  The unique-id is the Maildir key, which does not change
  while the message exists (rfc1939/7/13, 7/14).
- UPDATE (6): only QUIT from TRANSACTION gets here; it removes the marked
  messages, makes the removal durable, and releases the lock (6/4, 6/7).  A
  session that ends any other way (:meth:`Pop3Session.end`: the peer left,
  the idle timer fired, the server closed) removes nothing (6/3).

A failed PASS or APOP is answered only after ``login_delay`` seconds.  No
sentence of RFC 1939 or RFC 2449 asks for that delay (LOGIN-DELAY, RFC 2449
6.5, is about the time between *successful* logins, and is not advertised
here); it is the usual brake on password guessing, which the issue asks for.

RFC 1939 13 says a server "should not allow both methods of access for a
given user" (rfc1939/13/1); this server accepts USER/PASS and APOP with the
same secret for every user, because the store holds one password per user
and curl (APOP when the greeting has a timestamp) and poplib (USER/PASS) both
need to log in.  A check of rfc1939/13/1 warns on it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from postel import __version__
from postel.protocols.mail.maildir import Maildir, MailStore, MaildropLock, MaildropLocked, UnknownMessage
from postel.protocols.pop3.events import apop_digest
from postel.protocols.pop3.state import AUTHORIZATION, CLOSED, TRANSACTION, UPDATE

__all__ = [
    "CAPABILITIES", "CHUNK_SIZE", "FIRST_CHUNK_SIZE", "SESSION_FAULTS", "MessageReader", "Pop3Session", "Reply",
    "top_of_message", "with_crlf",
]

# Octets of a message file read at a time for RETR and TOP: with the transport's high-water mark, what a
# session holds of a message however big it is.  Big enough that the per-chunk costs (a read, a write, the
# codec's call) vanish next to the per-octet ones.
CHUNK_SIZE = 256 * 1024
# The first read of a message is this small, and each next one twice the last up to CHUNK_SIZE: the first
# octets of an answer leave after little work, so a client that waits for them starts reading sooner.
FIRST_CHUNK_SIZE = 16 * 1024

# RFC 2449 6: only what this server does.  EXPIRE NEVER because nothing here deletes mail on its own
# ("Sites which permit users to retain messages indefinitely SHOULD announce this with the EXPIRE NEVER
# response." -- rfc2449/6.7/5); AUTH-RESP-CODE (RFC 3206) because a failed login says [AUTH].  Not
# LOGIN-DELAY (not enforced between successful logins), not SASL (no AUTH command).
CAPABILITIES: tuple[bytes, ...] = (
    b"TOP",
    b"USER",
    b"UIDL",
    b"RESP-CODES",
    b"AUTH-RESP-CODE",
    b"PIPELINING",
    b"EXPIRE NEVER",
    b"IMPLEMENTATION postel-" + __version__.encode(),
)

# The faults this module carries out; the wire faults are in server.py.
SESSION_FAULTS = frozenset({
    "dele_without_quit",  # DELE removes the message at once
    "uidl_changes",  # unique-ids are derived from a per-session salt
    "stat_list_mismatch",  # STAT's octets count 3 more per message than LIST's sizes
    "deleted_still_listed",  # a DELE'd message is still counted by STAT and listed by LIST and UIDL
    "no_login_delay",  # a failed login is answered at once
    "stat_not_decimal",  # STAT gives the maildrop's octets in hexadecimal ("+OK 2 0x140")
    "uidl_with_extra",  # UIDL's listing lines carry the size after the unique-id ("1 key 320")
    "no_noop",  # NOOP is answered as an unknown command
    "quit_keeps_connection",  # QUIT in the TRANSACTION state updates and says +OK, but leaves the connection open
    "implementation_without_tokens",  # CAPA says "IMPLEMENTATION" with no argument
    "expire_shrinks_after_login",  # CAPA says "EXPIRE NEVER" before login and "EXPIRE 0" after it
    "expire_not_days",  # CAPA says "EXPIRE 1w": a retention period that is neither days nor NEVER
})

_NUMBER = re.compile(rb"[0-9]{1,10}")  # RFC 1939 4: message-numbers and sizes "are expressed in base-10"


@dataclass(frozen=True)
class Reply:
    """One response: the status line, and for a multi-line response its body (un-stuffed).

    The body is bytes for a listing (CRLF lines), or for RETR and TOP an open :class:`MessageReader` that the
    server reads chunk by chunk and must close.
    """

    ok: bool
    text: bytes = b""
    code: bytes | None = None  # an RFC 2449 8 extended response code: b"IN-USE", b"AUTH", b"SYS/TEMP"
    body: bytes | MessageReader | None = None  # present exactly when the response is multi-line; RETR, TOP: read in chunks
    delay: float = 0.0  # seconds to hold the reply back (a failed login)
    close: bool = False  # end the connection once the reply is out (QUIT)


def _err(text: bytes, code: bytes | None = None, *, delay: float = 0.0) -> Reply:
    return Reply(False, text, code, delay=delay)


NO_SUCH_MESSAGE = b"no such message"  # the RFC's own text (rfc1939/5/21, 5/25, 5/30, 7/18)


@dataclass
class _Message:
    key: str
    size: int
    deleted: bool = False


class Pop3Session:
    """One POP3 session on ``store``; ``timestamp`` is the APOP challenge of this session's greeting."""

    def __init__(
        self,
        store: MailStore,
        timestamp: bytes,
        *,
        login_delay: float = 1.0,
        faults: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.timestamp = timestamp
        self.login_delay = 0.0 if "no_login_delay" in faults else login_delay
        self.faults = faults
        self.state: type = AUTHORIZATION
        self.user: str | None = None  # the name of a USER answered +OK, until PASS
        self.mailbox: Maildir | None = None
        self.lock: MaildropLock | None = None
        self.messages: list[_Message] = []
        # "uidl_changes": a fresh salt per session gives every message a new unique-id each time.
        self._uid_salt = os.urandom(8) if "uidl_changes" in faults else b""

    # ---------------------------------------------------------------- entry points

    def greeting(self) -> Reply:
        # "A POP3 server which implements the APOP command will include a timestamp in its banner greeting." -- rfc1939/7/29
        return Reply(True, b"POP3 postel ready " + self.timestamp)

    def handle(self, verb: bytes, args: tuple[bytes, ...]) -> Reply:
        """The reply to one command (``verb`` upper case, as the codec gives it)."""
        verb = verb.upper()
        if self.state not in (AUTHORIZATION, TRANSACTION):
            return _err(b"session is over")
        if self.state is AUTHORIZATION and verb not in (b"PASS", b"USER", b"APOP"):
            # PASS comes "immediately after a successful USER command" (rfc1939/7/25): anything between forgets the name.
            self.user = None
        if verb == b"NOOP" and "no_noop" in self.faults:
            return _err(b"unknown command")
        handler = _COMMANDS.get(self.state, {}).get(verb)
        if handler is not None:
            return handler(self, args)
        if any(verb in table for table in _COMMANDS.values()):
            # "A server MUST respond to a command issued when the session is in an incorrect state by
            # responding with a negative status indicator." -- rfc1939/3/28
            return _err(verb + b" is not valid in the " + self.state.__name__.encode() + b" state")
        # "A server MUST respond to an unrecognized, unimplemented, or syntactically invalid command by
        # responding with a negative status indicator." -- rfc1939/3/27
        return _err(b"unknown command")

    def refuse(self, reason: bytes) -> Reply:
        """The answer to a line the codec could not read as a command (too long, not ASCII): -ERR, session goes on."""
        if self.state is AUTHORIZATION:
            self.user = None  # an unsuccessful command: USER must come again (rfc1939/7/25)
        return _err(reason)

    def end(self) -> None:
        """The session ended without QUIT: no UPDATE state, nothing removed, the lock released (rfc1939/6/3)."""
        self._release()
        self.state = CLOSED

    # ---------------------------------------------------------------- AUTHORIZATION

    def _user(self, args: tuple[bytes, ...]) -> Reply:
        if self.user is not None:
            # USER "may only be given in the AUTHORIZATION state after the POP3 greeting or after an
            # unsuccessful USER or PASS command" -- rfc1939/7/19.  This -ERR is itself an unsuccessful USER.
            self.user = None
            return _err(b"USER already given")
        if len(args) != 1:
            return _err(b"USER takes one argument: a mailbox name")
        # +OK whatever the name: "Servers that answer -ERR to the USER command are giving potential
        # attackers clues about which names are valid." (RFC 1939 13); rfc1939/7/23 allows it.
        self.user = args[0].decode("latin-1")
        return Reply(True, b"send PASS")

    def _pass(self, args: tuple[bytes, ...]) -> Reply:
        user, self.user = self.user, None
        if user is None:
            # PASS "may only be given in the AUTHORIZATION state immediately after a successful USER command" -- rfc1939/7/25
            return _err(b"send USER first")
        if len(args) != 1:
            return _err(b"PASS takes one argument: the password")
        if not self.store.check_password(user, args[0].decode("latin-1")):
            return self._login_failed()
        return self._open(user)

    def _apop(self, args: tuple[bytes, ...]) -> Reply:
        if self.user is not None:
            # APOP, like USER, comes "after the POP3 greeting or after an unsuccessful USER or PASS command" -- rfc1939/7/28
            self.user = None
            return _err(b"USER already given")
        if len(args) != 2:
            return _err(b"APOP takes two arguments: a mailbox name and an MD5 digest")
        user = args[0].decode("latin-1")
        secret = self.store.users.get(user)
        # "When the POP3 server receives the APOP command, it verifies the digest provided." -- rfc1939/7/36
        # The digest is sent "using lower-case ASCII characters" (rfc1939/7/35): compared as sent.
        if secret is None or not hmac.compare_digest(apop_digest(self.timestamp, secret.encode("latin-1")), args[1]):
            # "Otherwise, a negative response is issued and the POP3 session remains in the AUTHORIZATION state." -- rfc1939/7/38
            return self._login_failed()
        return self._open(user)

    def _login_failed(self) -> Reply:
        # [AUTH] (RFC 3206): the credentials, not the server, are the problem.
        return _err(b"invalid user name or password", b"AUTH", delay=self.login_delay)

    def _open(self, user: str) -> Reply:
        """The credentials were right: lock, snapshot, TRANSACTION (rfc1939/4/6 to 4/9)."""
        try:
            mailbox = self.store.mailbox(user)
            lock = mailbox.lock()
        except MaildropLocked:
            # "It indicates the authentication was successful, but the user's maildrop is currently in use" -- rfc2449/8.1.2/1
            return _err(b"maildrop already in use by another session", b"IN-USE")
        except OSError:
            return _err(b"maildrop cannot be locked", b"SYS/TEMP")
        try:
            messages = [_Message(key, mailbox.size(key)) for key in mailbox.keys()]
        except (OSError, UnknownMessage):
            # "If a lock was acquired but the POP3 server intends to respond with a negative status
            # indicator, the POP3 server must release the lock prior to rejecting the command." -- rfc1939/4/10
            lock.release()
            return _err(b"maildrop cannot be opened", b"SYS/TEMP")
        self.mailbox, self.lock, self.messages = mailbox, lock, messages
        # "The POP3 session now enters the TRANSACTION state, with no messages marked as deleted." -- rfc1939/4/8
        self.state = TRANSACTION
        return Reply(True, self._drop_summary())

    # ---------------------------------------------------------------- TRANSACTION

    def _stat(self, args: tuple[bytes, ...]) -> Reply:
        if args:
            return _err(b"STAT takes no argument")
        listed = self._listed()
        octets = sum(m.size for m in listed)
        if "stat_list_mismatch" in self.faults:
            octets += 3 * len(listed)  # as if each message's ".\r\n" terminator were part of it
        if "stat_not_decimal" in self.faults:
            return Reply(True, b"%d 0x%x" % (len(listed), octets))
        # "+OK" SP count SP octets -- rfc1939/5/7
        return Reply(True, b"%d %d" % (len(listed), octets))

    def _list(self, args: tuple[bytes, ...]) -> Reply:
        if len(args) > 1:
            return _err(b"LIST takes at most one argument: a message-number")
        if args:
            found = self._message(args[0])
            if isinstance(found, Reply):
                return found
            number, message = found
            # "A scan listing consists of the message-number of the message, followed by a single space
            # and the exact size of the message in octets." -- rfc1939/5/17
            return Reply(True, b"%d %d" % (number, message.size))
        listed = self._numbered()
        body = b"".join(b"%d %d\r\n" % (n, m.size) for n, m in listed)
        return Reply(True, b"%d messages (%d octets)" % (len(listed), sum(m.size for _n, m in listed)), body=body)

    def _retr(self, args: tuple[bytes, ...]) -> Reply:
        if len(args) != 1:
            return _err(b"RETR takes one argument: a message-number")
        found = self._message(args[0])
        if isinstance(found, Reply):
            return found
        reader = self._open_message(found[1])
        if reader is None:
            return _err(b"message cannot be read", b"SYS/TEMP")
        # The file's size: LIST's, exact for the store's CRLF messages (see with_crlf for the others).
        return Reply(True, b"%d octets" % reader.size, body=reader)

    def _top(self, args: tuple[bytes, ...]) -> Reply:
        if len(args) != 2 or not _NUMBER.fullmatch(args[1]):
            return _err(b"TOP takes two arguments: a message-number and a non-negative number of lines")
        found = self._message(args[0])
        if isinstance(found, Reply):
            return found
        reader = self._open_message(found[1], lines=int(args[1]))
        if reader is None:
            return _err(b"message cannot be read", b"SYS/TEMP")
        return Reply(True, b"top of message follows", body=reader)

    def _dele(self, args: tuple[bytes, ...]) -> Reply:
        if len(args) != 1:
            return _err(b"DELE takes one argument: a message-number")
        found = self._message(args[0])
        if isinstance(found, Reply):
            return found
        number, message = found
        # "The POP3 server marks the message as deleted." -- rfc1939/5/27
        message.deleted = True
        if "dele_without_quit" in self.faults:
            assert self.mailbox is not None
            self.mailbox.remove(message.key)
        return Reply(True, b"message %d deleted" % number)

    def _noop(self, args: tuple[bytes, ...]) -> Reply:
        if args:
            return _err(b"NOOP takes no argument")
        # "The POP3 server does nothing, it merely replies with a positive response." -- rfc1939/5/32
        return Reply(True)

    def _rset(self, args: tuple[bytes, ...]) -> Reply:
        if args:
            return _err(b"RSET takes no argument")
        # "If any messages have been marked as deleted by the POP3 server, they are unmarked." -- rfc1939/5/34
        for message in self.messages:
            message.deleted = False
        return Reply(True, self._drop_summary())

    def _uidl(self, args: tuple[bytes, ...]) -> Reply:
        if len(args) > 1:
            return _err(b"UIDL takes at most one argument: a message-number")
        if args:
            found = self._message(args[0])
            if isinstance(found, Reply):
                return found
            number, message = found
            return Reply(True, b"%d %s" % (number, self._uid(message)))
        # "A unique-id listing consists of the message-number of the message, followed by a single space
        # and the unique-id of the message." -- rfc1939/7/11
        extra = "uidl_with_extra" in self.faults
        body = b"".join(b"%d %s%s\r\n" % (n, self._uid(m), b" %d" % m.size if extra else b"") for n, m in self._numbered())
        return Reply(True, b"unique-id listing follows", body=body)

    def _quit_transaction(self, args: tuple[bytes, ...]) -> Reply:
        if args:
            return _err(b"QUIT takes no argument")
        # "When the client issues the QUIT command from the TRANSACTION state, the POP3 session enters the
        # UPDATE state." -- rfc1939/6/1
        self.state = UPDATE
        assert self.mailbox is not None
        failed = 0
        for message in self.messages:
            if message.deleted:
                try:
                    self.mailbox.remove(message.key)
                except OSError:
                    failed += 1
        try:
            self.mailbox.sync()
        except OSError:
            failed += 1
        left = sum(1 for m in self.messages if not m.deleted)
        # "Whether the removal was successful or not, the server then releases any exclusive-access lock
        # on the maildrop and closes the TCP connection." -- rfc1939/6/7
        self._release()
        self.state = CLOSED
        if failed:
            # "If there is an error ... the maildrop may result in having some or none of the messages
            # marked as deleted be removed." -- rfc1939/6/5; the status says so.
            return Reply(False, b"some deleted messages not removed", b"SYS/TEMP", close=True)
        close = "quit_keeps_connection" not in self.faults
        return Reply(True, b"postel POP3 server signing off (%d messages left)" % left, close=close)

    # ---------------------------------------------------------------- both states

    def _quit_authorization(self, args: tuple[bytes, ...]) -> Reply:
        if args:
            return _err(b"QUIT takes no argument")
        # "if the client issues the QUIT command from the AUTHORIZATION state, the POP3 session terminates
        # but does NOT enter the UPDATE state." -- rfc1939/6/2
        self.end()
        return Reply(True, b"postel POP3 server signing off", close=True)

    def _capa(self, args: tuple[bytes, ...]) -> Reply:
        if args:
            return _err(b"CAPA takes no argument")
        # "An +OK response is followed by a list of capabilities, one per line." -- rfc2449/5/8; the same list
        # in both states (rfc2449/5/3).
        return Reply(True, b"capability list follows", body=b"".join(c + b"\r\n" for c in self._capabilities()))

    def _capabilities(self) -> tuple[bytes, ...]:
        """CAPABILITIES, or a fault's version of them."""
        found = CAPABILITIES
        if "implementation_without_tokens" in self.faults:
            found = tuple(b"IMPLEMENTATION" if c.startswith(b"IMPLEMENTATION ") else c for c in found)
        if "expire_not_days" in self.faults:
            found = tuple(b"EXPIRE 1w" if c.startswith(b"EXPIRE ") else c for c in found)
        if "expire_shrinks_after_login" in self.faults and self.state is TRANSACTION:
            found = tuple(b"EXPIRE 0" if c.startswith(b"EXPIRE ") else c for c in found)  # smaller than NEVER
        return found

    # ---------------------------------------------------------------- helpers

    def _listed(self) -> list[_Message]:
        return [m for _n, m in self._numbered()]

    def _numbered(self) -> list[tuple[int, _Message]]:
        """(message-number, message) of every message a listing shows: not the deleted ones (rfc1939/5/20)."""
        show_deleted = "deleted_still_listed" in self.faults
        return [(n, m) for n, m in enumerate(self.messages, 1) if show_deleted or not m.deleted]

    def _message(self, arg: bytes) -> tuple[int, _Message] | Reply:
        """The message a message-number argument names, or the -ERR for it."""
        if not _NUMBER.fullmatch(arg) or not 1 <= int(arg) <= len(self.messages):
            return _err(NO_SUCH_MESSAGE)
        number = int(arg)
        message = self.messages[number - 1]
        if message.deleted and "deleted_still_listed" not in self.faults:
            # "Any future reference to the message-number associated with the message in a POP3 command
            # generates an error." -- rfc1939/5/28 (the RFC's example text: "-ERR message 2 already deleted")
            return _err(b"message %d already deleted" % number)
        return number, message

    def _open_message(self, message: _Message, lines: int | None = None) -> MessageReader | None:
        """The message's file, open, or None if it is gone: decided before the +OK, so no answer is cut short."""
        assert self.mailbox is not None
        try:
            file = self.mailbox.open(message.key)  # the reader closes it
        except (OSError, UnknownMessage):
            return None  # removed behind the lock's back ("dele_without_quit", or by hand)
        return MessageReader(file, lines=lines)

    def _uid(self, message: _Message) -> bytes:
        if self._uid_salt:
            return hashlib.sha256(self._uid_salt + message.key.encode()).hexdigest()[:40].encode()
        # The Maildir key: printable ASCII without spaces, <= 70 characters, fixed while the message exists
        # (harness/protocols/mail/maildir.py) -- the unique-id of rfc1939/7/13.
        return message.key.encode("ascii")

    def _drop_summary(self) -> bytes:
        listed = self._listed()
        return b"maildrop has %d messages (%d octets)" % (len(listed), sum(m.size for m in listed))

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class MessageReader:
    """A message file read in chunks that end at a line end: RETR's and TOP's body without the message in memory.

    Why at line ends: a chunk is stuffed by the codec and, for a file another
    program stored with LF line ends, fixed by :func:`with_crlf` on its own,
    so a CR and its LF must never fall in two chunks.  A line longer than a
    chunk is cut inside, never between CR and LF; the codec carries "at the
    start of a line" over such a cut.  ``lines`` (TOP): stop after the blank
    line that ends the header and that many lines of the body (RFC 1939 7).

    At most ``size`` octets are read (the file's size when it was opened, which
    the +OK announced), so :attr:`done` is known with the last chunk and the
    server can write that chunk and ".\\r\\n" together.
    """

    def __init__(self, file: BinaryIO, *, size: int | None = None, lines: int | None = None) -> None:
        self.file = file
        self.size = os.fstat(file.fileno()).st_size if size is None else size  # octets in the file
        self._lines = lines  # TOP: body lines still to send; None: everything (RETR)
        self._in_header = lines is not None  # TOP: the blank line is still ahead
        self._line_start = True  # TOP: the next chunk starts a line
        self._left = self.size  # octets still to read
        self._chunk = FIRST_CHUNK_SIZE  # octets to read next time (growing to CHUNK_SIZE)
        self._carry = b""  # read, but after the last line end: goes out with the next chunk
        self.done = False  # everything to send has been returned by read()

    def read(self) -> bytes:
        """The next chunk; b"" once everything is out.  The file is closed with the last chunk."""
        while not self.done:
            want = min(self._chunk, CHUNK_SIZE, self._left)
            data = self.file.read(want) if want > 0 else b""
            self._chunk = min(2 * self._chunk, CHUNK_SIZE)
            self._left -= len(data)
            chunk = self._carry + data if self._carry else data
            if data and self._left > 0:
                cut = chunk.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a chunk: cut inside it, but not between CR and LF
                    cut = len(chunk) - 1 if chunk.endswith(b"\r") else len(chunk)
                chunk, self._carry = chunk[:cut], chunk[cut:]
            else:
                self.done, self._carry = True, b""  # the last line, ended by CRLF or not (or a file cut short)
            if self._lines is not None and chunk:
                chunk = self._top(chunk)
            if self.done:
                self.close()
            if chunk:
                return chunk
        return b""

    def close(self) -> None:
        self.done = True
        self.file.close()

    def _top(self, chunk: bytes) -> bytes:
        """What of ``chunk`` TOP sends: up to the header's end, then ``lines`` lines (counted by their LF)."""
        start = 0
        if self._in_header:
            start = _header_end(chunk, self._line_start)
            if start < 0:
                self._line_start = chunk.endswith(b"\n")
                return chunk  # all header so far; with no blank line at all, the whole message is header
            self._in_header = False
        remaining = self._lines
        assert remaining is not None
        if remaining > 0 and (found := chunk.count(b"\n", start)) < remaining:
            # "if the number of lines requested by the POP3 client is greater than than the number of lines
            # in the body, then the POP3 server sends the entire message." -- rfc1939/7/5
            self._lines = remaining - found
            return chunk
        end = start
        for _ in range(remaining):
            end = chunk.index(b"\n", end) + 1
        self.done = True
        return chunk[:end]


def _header_end(chunk: bytes, line_start: bool) -> int:
    """The offset just after the blank line that ends the header in ``chunk`` (-1: not in it)."""
    if line_start:
        if chunk.startswith(b"\n"):
            return 1
        if chunk.startswith(b"\r\n"):
            return 2  # also the case of no header fields at all: the blank line is the first line
    ends = [found + len(pair) for pair in (b"\n\r\n", b"\n\n") if (found := chunk.find(pair)) >= 0]
    return min(ends) if ends else -1


def with_crlf(chunk: bytes) -> bytes:
    """``chunk`` with every line ended by CRLF, for a file another program stored with LF line ends.

    Multi-line lines end with CRLF (rfc1939/3/14).  Such a file's LIST size
    (the file's) is short by one octet per LF; the store's own messages are
    CRLF already (harness/protocols/mail/maildir.py), so theirs are exact.
    The server calls this only for a chunk the codec refused, so the store's
    messages pay for one bare-LF check (the codec's), not two.
    """
    return chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def top_of_message(content: bytes, lines: int) -> bytes:
    """The header, the blank line, and the first ``lines`` lines of the body (RFC 1939 7 TOP), as TOP sends them."""
    reader = MessageReader(io.BytesIO(content), size=len(content), lines=lines)
    return b"".join(iter(reader.read, b""))


_Handler = Callable[[Pop3Session, tuple[bytes, ...]], Reply]

# Which command each state accepts, from each command's "Restrictions" (RFC 1939 4 to 7, RFC 2449 5).
_COMMANDS: dict[type, dict[bytes, _Handler]] = {
    AUTHORIZATION: {
        b"USER": Pop3Session._user,
        b"PASS": Pop3Session._pass,
        b"APOP": Pop3Session._apop,
        b"QUIT": Pop3Session._quit_authorization,
        b"CAPA": Pop3Session._capa,  # "It is available in both the AUTHORIZATION and TRANSACTION states." -- rfc2449/5/2
    },
    TRANSACTION: {
        b"STAT": Pop3Session._stat,
        b"LIST": Pop3Session._list,
        b"RETR": Pop3Session._retr,
        b"DELE": Pop3Session._dele,
        b"NOOP": Pop3Session._noop,
        b"RSET": Pop3Session._rset,
        b"TOP": Pop3Session._top,
        b"UIDL": Pop3Session._uidl,
        b"QUIT": Pop3Session._quit_transaction,
        b"CAPA": Pop3Session._capa,
    },
}
