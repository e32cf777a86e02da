"""POP3 commands, responses and multi-line bodies as frozen dataclasses, validated when built.

A client sends :class:`Command` events; a server answers each with one
:class:`Response` (a status line) and, after ``+OK`` to a command whose answer
is multi-line (:attr:`Command.multiline`), :class:`Data` chunks then
:class:`EndOfMultiline`.  Building an event that breaks the grammar raises
:class:`LocalProtocolError` naming the requirement; the ``parse`` class methods
raise :class:`RemoteProtocolError` for the same faults read off the wire.

The listing parsers at the end (``drop_listing``, ``scan_listing``,
``unique_id_listing``, ``capabilities``) turn the bodies of STAT, LIST, UIDL and
CAPA into values, so the client and the suites judge them with one grammar.

Grammar: RFC 2449 3 (ABNF) over RFC 1939 3.  Two places where the ABNF is not
followed to the letter, on purpose:
- ``text = *schar / resp-code *CHAR`` with ``schar`` excluding SP would forbid
  "+OK Capability list follows" (RFC 2449's own example), so text is ``*CHAR``
  (no CR, LF, NUL) and a leading ``[`` is a response code only when it parses as one.
- RFC 1939's 40-character argument limit ("may be up to", a MAY) was raised by
  RFC 2449 4 ("increases the length restrictions on commands and parameters");
  only the 255-octet command line is a limit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.pop3.requirements import REQ

__all__ = [
    "Command", "ConnectionClosed", "Data", "EndOfMultiline", "MAX_COMMAND_LINE", "MAX_FIRST_LINE",
    "MSG_ID", "MULTILINE_ALWAYS", "MULTILINE_WITHOUT_ARG", "RESP_CODE", "Response", "VERBS", "apop_digest",
    "body_lines", "capabilities", "drop_listing", "scan_listing", "timestamp", "unique_id_listing",
]

MAX_COMMAND_LINE = 255  # RFC 2449 4: "255 octets, including the terminating CRLF"
MAX_FIRST_LINE = 512  # RFC 2449 4: "the first line of a command response ... 512 octets (including the terminating CRLF)"
MAX_CAPA_LINE = 512  # RFC 2449 5: "Each capability line is limited to 512 octets (including the CRLF)."

# The commands of RFC 1939 (5, 6, 7) and CAPA (RFC 2449 5).  Others are allowed as
# Commands: "A server MUST respond to an unrecognized ... command by responding with
# a negative status indicator" (RFC 1939 3), which a suite must be able to provoke.
VERBS = frozenset({
    b"USER", b"PASS", b"APOP", b"QUIT", b"STAT", b"LIST", b"RETR", b"DELE", b"NOOP", b"RSET", b"TOP", b"UIDL", b"CAPA",
})
# "If the POP3 server issues a positive response, then the response given is multi-line." (RETR, TOP: RFC 1939 5, 7)
# CAPA: "An +OK response is followed by a list of capabilities, one per line." (RFC 2449 5)
MULTILINE_ALWAYS = frozenset({b"RETR", b"TOP", b"CAPA"})
# "If no argument was given and the POP3 server issues a positive response, then the response given is multi-line."
MULTILINE_WITHOUT_ARG = frozenset({b"LIST", b"UIDL"})

_VCHAR = rb"[\x21-\x7e]"
_KEYWORD = re.compile(_VCHAR + rb"{3,4}")  # keyword = 3*4VCHAR
_PARAM = re.compile(_VCHAR + rb"+")  # param = 1*VCHAR
_PASSWORD = re.compile(rb"[\x20-\x7e]+")  # printable ASCII, spaces kept (RFC 1939 7, PASS)
_TEXT = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*")  # *CHAR without CR and LF
_RCHAR = rb"[\x21-\x2e\x30-\x5c\x5e-\x7f]"  # printable ASCII, excluding "/" and "]"
_RESP_LEVEL = _RCHAR + rb"+"
RESP_CODE = re.compile(rb"%s(?:/%s)*" % (_RESP_LEVEL, _RESP_LEVEL))
_LEADING_RESP_CODE = re.compile(rb"\[(?P<code>%s)\] ?" % RESP_CODE.pattern)
# RFC 822 msg-id = "<" addr-spec ">", addr-spec = local-part "@" domain: printable, one "@", no nested brackets.
MSG_ID = re.compile(rb"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")
_TIMESTAMP = re.compile(rb"<[\x21-\x3d\x3f-\x7e]*>")  # "<" *VCHAR ">", up to the first ">"


def _local(message: str, key: str) -> LocalProtocolError:
    return LocalProtocolError(message, requirement=REQ[key])


def _remote(message: str, key: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, requirement=REQ[key])


def _from_wire(error: LocalProtocolError) -> RemoteProtocolError:
    return RemoteProtocolError(str(error), requirement=error.requirement)


@dataclass(frozen=True)
class Command:
    """``keyword *(SP param)``; the keyword is case-insensitive (RFC 1939 3) and kept upper-case.

    PASS takes exactly one argument that may contain spaces (RFC 1939 7:
    "spaces in the argument as part of the password"), so
    ``Command(b"PASS", (b"secret with space",))`` is one argument.  Whether a
    command needs arguments is the server's call (it answers ``-ERR``); the
    grammar only bounds their shape.  The 255-octet line (RFC 2449 4) is the
    codec's to enforce: a server MUST also take "the largest maximum command
    length specified by any supported capability".
    """

    verb: bytes
    args: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        verb = bytes(self.verb).upper()
        args = tuple(bytes(arg) for arg in ([self.args] if isinstance(self.args, bytes) else self.args))
        object.__setattr__(self, "verb", verb)
        object.__setattr__(self, "args", args)
        if not re.fullmatch(_VCHAR + rb"*", verb):
            raise _local(f"keyword {verb[:20]!r} is not printable ASCII", "command_printable")
        if not _KEYWORD.fullmatch(verb):
            raise _local(f"keyword {verb[:20]!r} is not three or four characters long", "keyword_length")
        if verb == b"PASS" and args:
            if len(args) != 1:
                raise _local("PASS has exactly one argument (spaces belong to the password)", "pass_spaces")
            if not _PASSWORD.fullmatch(args[0]):
                key = "command_single_space" if not args[0] else "command_printable"
                raise _local("PASS argument is empty or not printable ASCII", key)
        else:
            for arg in args:
                if not arg or b" " in arg:
                    raise _local(f"argument {arg[:40]!r} is empty or holds a space", "command_single_space")
                if not _PARAM.fullmatch(arg):
                    raise _local(f"argument {arg[:40]!r} is not printable ASCII", "command_printable")

    def wire(self) -> bytes:
        return b" ".join((self.verb, *self.args)) + b"\r\n"

    @property
    def multiline(self) -> bool:
        """A ``+OK`` answer to this command is followed by a multi-line body."""
        return self.verb in MULTILINE_ALWAYS or (self.verb in MULTILINE_WITHOUT_ARG and not self.args)

    @classmethod
    def parse(cls, line: bytes) -> "Command":
        """A command line without its CRLF, as a server reads it; :class:`RemoteProtocolError` if malformed."""
        if b"\r" in line or b"\n" in line:
            raise _remote(f"bare CR or LF inside a command line: {line[:60]!r}", "command_crlf")
        verb, sep, rest = line.partition(b" ")
        if verb.upper() == b"PASS":
            args: tuple[bytes, ...] = (rest,) if sep else ()
        else:
            args = tuple(rest.split(b" ")) if sep else ()
        try:
            return cls(verb, args)
        except LocalProtocolError as error:
            raise _from_wire(error) from error


@dataclass(frozen=True)
class Response:
    """A status line: ``+OK`` / ``-ERR``, then optionally SP, an RFC 2449 response code and text.

    ``code`` is the text between the brackets (``b"IN-USE"``, ``b"SYS/TEMP"``).
    When not given it is taken from text that starts with one, so
    ``Response(False, b"[IN-USE] busy") == Response(False, b"busy", b"IN-USE")``.
    """

    ok: bool
    text: bytes = b""
    code: bytes | None = None

    def __post_init__(self) -> None:
        text, code = bytes(self.text), None if self.code is None else bytes(self.code)
        if not _TEXT.fullmatch(text):
            raise _local(f"response text {text[:60]!r} holds CR, LF, NUL or 8-bit octets", "single_line_grammar")
        if code is None:
            found = _LEADING_RESP_CODE.match(text)
            if found:
                code, text = found["code"], text[found.end() :]
        elif not RESP_CODE.fullmatch(code):
            raise _local(f"response code {code[:40]!r} is not resp-level *(\"/\" resp-level)", "resp_code_grammar")
        object.__setattr__(self, "ok", bool(self.ok))
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "code", code)
        if len(self.wire()) > MAX_FIRST_LINE:
            raise _local(f"status line of {len(self.wire())} octets, over {MAX_FIRST_LINE}", "first_line_length")

    @property
    def status(self) -> bytes:
        return b"+OK" if self.ok else b"-ERR"

    def wire(self) -> bytes:
        rest = self.text if self.code is None else b"[" + self.code + b"]" + (b" " + self.text if self.text else b"")
        return self.status + (b" " + rest if rest else b"") + b"\r\n"

    def has_code(self, code: bytes | str) -> bool:
        """Whether the response code is ``code`` or a detail of it (case-insensitive, RFC 2449 8).

        ``has_code("SYS")`` holds for ``[SYS/TEMP]``: "Clients MUST ignore unknown
        hierarchical detail about the response code."
        """
        if self.code is None:
            return False
        want = (code.encode() if isinstance(code, str) else code).upper().split(b"/")
        return self.code.upper().split(b"/")[: len(want)] == want

    @classmethod
    def parse(cls, line: bytes) -> "Response":
        """A status line without its CRLF, as a client reads it; :class:`RemoteProtocolError` if malformed."""
        if b"\r" in line or b"\n" in line:
            raise _remote(f"bare CR or LF inside a response line: {line[:60]!r}", "response_crlf")
        if len(line) + 2 > MAX_FIRST_LINE:
            raise _remote(f"status line of {len(line) + 2} octets, over {MAX_FIRST_LINE}", "first_line_length")
        if line.startswith(b"+OK"):
            ok, rest = True, line[3:]
        elif line.startswith(b"-ERR"):
            ok, rest = False, line[4:]
        elif line[:3].upper() == b"+OK" or line[:4].upper() == b"-ERR":
            raise _remote(f"status indicator not in upper case: {line[:40]!r}", "status_upper_case")
        else:
            raise _remote(f"line {line[:60]!r} does not start with \"+OK\" or \"-ERR\"", "status_indicator")
        if rest and rest[:1] != b" ":
            raise _remote(f"status indicator not followed by SP or CRLF: {line[:60]!r}", "single_line_grammar")
        try:
            return cls(ok, rest[1:])
        except LocalProtocolError as error:
            raise _from_wire(error) from error


@dataclass(frozen=True)
class Data:
    """Part of a multi-line body, not byte-stuffed; read by the codec it is whole lines, each with its CRLF."""

    data: bytes


@dataclass(frozen=True)
class EndOfMultiline:
    """The terminating line ``.`` CRLF of a multi-line response (RFC 1939 3)."""


@dataclass(frozen=True)
class ConnectionClosed:
    pass


# ------------------------------------------------------------------ APOP, RFC 1939 7


def timestamp(greeting_text: bytes) -> bytes | None:
    """The APOP timestamp in a greeting, angle brackets included, or None.

    RFC 2449 3: ``greeting = "+OK" [resp-code] *gchar [timestamp] *gchar`` with
    ``gchar`` excluding "<", so the first "<" opens it; "Clients discover server
    support of APOP by the presence in the greeting banner of an initial
    challenge enclosed in angle brackets" (RFC 2449 6).  Whether it is a proper
    msg-id is :data:`MSG_ID`'s business.
    """
    start = greeting_text.find(b"<")
    if start < 0:
        return None
    found = _TIMESTAMP.match(greeting_text, start)
    return found.group() if found else None


def apop_digest(timestamp: bytes, secret: bytes) -> bytes:
    """MD5 of the timestamp (with its brackets) followed by the secret, as 32 lower-case hex digits (RFC 1939 7)."""
    return hashlib.md5(timestamp + secret).hexdigest().encode("ascii")


# ------------------------------------------------------- listings, RFC 1939 5 and 7

_NUMBER = rb"(?P<n>[0-9]+)"
_DROP = re.compile(rb"(?P<count>[0-9]+) (?P<octets>[0-9]+)(?: .*)?", re.DOTALL)
_SCAN = re.compile(_NUMBER + rb" (?P<octets>[0-9]+)(?: .*)?", re.DOTALL)
_UNIQUE = re.compile(_NUMBER + rb" (?P<uid>[^ ]*)(?P<rest>.*)", re.DOTALL)
_UID = re.compile(_VCHAR + rb"{1,70}")
_CAPA_TAG = re.compile(rb"[\x21-\x2d\x2f-\x7f]+")  # capa-tag = 1*cchar, printable ASCII excluding "."


def drop_listing(response: Response) -> tuple[int, int]:
    """``(count, octets)`` from the ``+OK`` answer to STAT: "+OK" SP count SP size (RFC 1939 5)."""
    found = _DROP.fullmatch(response.text)
    if not response.ok or response.code is not None or not found:
        raise _remote(f"STAT answer {response.wire()[:60]!r} is not \"+OK\" SP count SP octets", "stat_format")
    return int(found["count"]), int(found["octets"])


def scan_listing(line: bytes) -> tuple[int, int]:
    """``(msg, octets)`` from a scan listing, in LIST's body or after its ``+OK`` (RFC 1939 5)."""
    found = _SCAN.fullmatch(line)
    if not found:
        raise _remote(f"scan listing {line[:60]!r} is not msg SP octets", "scan_listing_format")
    return int(found["n"]), int(found["octets"])


def unique_id_listing(line: bytes) -> tuple[int, bytes]:
    """``(msg, unique-id)`` from a unique-id listing (RFC 1939 7)."""
    found = _UNIQUE.fullmatch(line)
    if not found:
        raise _remote(f"unique-id listing {line[:60]!r} is not msg SP unique-id", "unique_id_listing_format")
    if found["rest"]:
        raise _remote(f"something follows the unique-id in {line[:80]!r}", "unique_id_nothing_follows")
    if not _UID.fullmatch(found["uid"]):
        raise _remote(f"unique-id {found['uid'][:80]!r} is not 1 to 70 octets 0x21-0x7E", "unique_id_chars")
    return int(found["n"]), found["uid"]


def body_lines(body: bytes) -> list[bytes]:
    """The lines of a de-stuffed multi-line body, CRLF removed."""
    return body.split(b"\r\n")[:-1] if body else []


def capabilities(body: bytes) -> dict[str, list[str]]:
    """``{TAG: [params]}`` from CAPA's body, tags upper-cased ("CAPA response tags are case-insensitive")."""
    found: dict[str, list[str]] = {}
    for line in body_lines(body):
        if len(line) + 2 > MAX_CAPA_LINE:
            raise _remote(f"capability line of {len(line) + 2} octets, over {MAX_CAPA_LINE}", "capa_line_length")
        tag, *params = line.split(b" ")
        if not _CAPA_TAG.fullmatch(tag) or not all(_PARAM.fullmatch(p) for p in params):
            raise _remote(f"capability line {line[:60]!r} is not capa-tag *(SP param)", "capa_grammar")
        found.setdefault(tag.decode("ascii").upper(), []).extend(p.decode("ascii") for p in params)
    return found
