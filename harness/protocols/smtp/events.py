"""SMTP commands, replies and mail data as frozen dataclasses, validated when built.

A client sends :class:`Command` events and, after a 354 reply to DATA, zero or
more :class:`MessageData` chunks then :class:`EndOfData`; a server sends
:class:`Reply` events.  Building an event that breaks the grammar raises
:class:`LocalProtocolError` with the requirement and the reply a server would
answer; the codec turns that into a :class:`RemoteProtocolError` when the bad
event came off the wire.

Octets are ``bytes`` throughout (as in the HTTP codec); only the enhanced status
code (RFC 3463 ``x.y.z``) is a ``str``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.smtp.requirements import REQ

__all__ = ["Command", "ConnectionClosed", "EndOfData", "MessageData", "Reply", "VERBS", "ehlo_keywords"]

VERBS = frozenset({b"EHLO", b"HELO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"VRFY", b"EXPN", b"HELP", b"NOOP", b"QUIT"})

# --- RFC 5321 4.1.2 and 4.1.3, as regular expressions over bytes ------------------
_ATEXT = rb"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_STRING = rb"%s+(?:\.%s+)*" % (_ATEXT, _ATEXT)
_QUOTED_STRING = rb'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'  # qtextSMTP / quoted-pairSMTP
_SUB_DOMAIN = rb"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rb"%s(?:\.%s)*" % (_SUB_DOMAIN, _SUB_DOMAIN)
_ADDRESS_LITERAL = rb"\[[\x21-\x5a\x5e-\x7e]+\]"  # "[" ( IPv4 / IPv6 / General ) "]", dcontent
_AT_DOMAIN = rb"@%s" % _DOMAIN
DOMAIN = re.compile(_DOMAIN)
DOMAIN_OR_LITERAL = re.compile(rb"%s|%s" % (_DOMAIN, _ADDRESS_LITERAL))
# Path = "<" [ A-d-l ":" ] Mailbox ">";  Mailbox = Local-part "@" ( Domain / address-literal )
PATH = re.compile(
    rb"<(?:(?P<adl>%s(?:,%s)*):)?(?P<local>%s|%s)@(?P<domain>%s|%s)>"
    % (_AT_DOMAIN, _AT_DOMAIN, _DOT_STRING, _QUOTED_STRING, _DOMAIN, _ADDRESS_LITERAL)
)
# esmtp-param = esmtp-keyword ["=" esmtp-value]
ESMTP_PARAM = re.compile(rb"(?P<keyword>[A-Za-z0-9][A-Za-z0-9-]*)(?:=(?P<value>[\x21-\x3c\x3e-\x7e]+))?")
EHLO_KEYWORD = re.compile(rb"[A-Za-z0-9][A-Za-z0-9-]*")
EHLO_PARAM = re.compile(rb"[\x21-\x7e]+")
TEXTSTRING = re.compile(rb"[\t\x20-\x7e]*")  # textstring = 1*(%d09 / %d32-126), here possibly empty
# RFC 3463 / RFC 2034 4: status-code = class "." subject "." detail
ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")
_ENHANCED_PREFIX = re.compile(rb"(?P<code>[245]\.[0-9]{1,3}\.[0-9]{1,3})(?: +|$)")

MAX_LOCAL_PART = 64  # 4.5.3.1.1
MAX_DOMAIN = 255  # 4.5.3.1.2
MAX_PATH = 256  # 4.5.3.1.3, "including the punctuation and element separators"

# Grammar sentence and argument shape per verb: True = SP argument required, None = optional, False = none.
_ARGUMENT = {
    b"EHLO": (True, "ehlo_syntax"),
    b"HELO": (True, "ehlo_syntax"),
    b"MAIL": (True, "mail_syntax"),
    b"RCPT": (True, "rcpt_syntax"),
    b"DATA": (False, "data_syntax"),
    b"RSET": (False, "rset_syntax"),
    b"VRFY": (True, "vrfy_syntax"),
    b"EXPN": (True, "expn_syntax"),
    b"HELP": (None, "help_syntax"),
    b"NOOP": (None, "noop_syntax"),
    b"QUIT": (False, "quit_syntax"),
}


def _refuse(message: str, key: str, hint: int) -> LocalProtocolError:
    return LocalProtocolError(message, requirement=REQ[key], reply_hint=hint)


@dataclass(frozen=True)
class Command:
    """``verb [SP argument]``; verbs are case-insensitive (RFC 5321 2.4) and kept upper-case.

    For MAIL and RCPT, ``path`` is the address between the angle brackets
    (``b""`` for the null reverse-path ``<>``) and ``params`` the ESMTP
    parameters as ``(KEYWORD, value-or-None)`` pairs, keywords upper-cased.
    """

    verb: bytes
    argument: bytes = b""
    path: bytes | None = field(default=None, init=False, compare=False)
    params: tuple[tuple[bytes, bytes | None], ...] = field(default=(), init=False, compare=False)

    def __post_init__(self) -> None:
        verb = bytes(self.verb).upper()
        object.__setattr__(self, "verb", verb)
        object.__setattr__(self, "argument", bytes(self.argument))
        if not re.fullmatch(rb"[A-Z]+", verb):
            raise _refuse(f"command verb {verb!r} is not alphabetic", "command_syntax", 500)
        if verb not in VERBS:
            raise _refuse(f"command {verb!r} not recognized", "unknown_command", 500)
        argument = self.argument
        if b"\r" in argument or b"\n" in argument:
            raise _refuse("CR or LF inside a command line", "bare_line_end_client", 500)
        if not re.fullmatch(rb"[\x20-\x7e\t]*", argument):
            # "SMTP servers that receive a command in which invalid character codes have been employed,
            # and for which there are no other reasons for rejection, MUST reject that command with a
            # 501 response" (4.1.2) -- the MUST, over 2.4's "normally using 500" (a SHOULD)
            raise _refuse(f"{verb.decode()} argument has octets outside printable US-ASCII", "non_ascii_command", 501)
        needs, key = _ARGUMENT[verb]
        if needs is True and not argument:
            raise _refuse(f"{verb.decode()} needs an argument", key, 501)
        if needs is False and argument:
            raise _refuse(f"{verb.decode()} takes no argument", key, 501)
        if verb in (b"EHLO", b"HELO"):
            grammar = DOMAIN_OR_LITERAL if verb == b"EHLO" else DOMAIN
            if not grammar.fullmatch(argument):
                raise _refuse(f"{verb.decode()} argument {argument[:80]!r} is not a domain", key, 501)
            if len(argument) > MAX_DOMAIN:
                raise _refuse(f"domain of {len(argument)} octets", "domain_length", 501)
        elif verb in (b"MAIL", b"RCPT"):
            self._parse_envelope(verb, argument, key)

    def _parse_envelope(self, verb: bytes, argument: bytes, key: str) -> None:
        keyword = b"FROM:" if verb == b"MAIL" else b"TO:"
        if not argument[: len(keyword)].upper() == keyword:
            if re.match(rb"(?i)(FROM|TO)\s+:", argument):
                raise _refuse(f"space before the colon in {argument[:40]!r}", "space_around_colon", 501)
            raise _refuse(f"{verb.decode()} argument must start {keyword.decode()}", key, 501)
        rest = argument[len(keyword) :]
        if rest[:1] in (b" ", b"\t"):
            raise _refuse(f"space after the colon in {argument[:40]!r}", "space_around_colon", 501)
        if verb == b"MAIL" and rest.startswith(b"<>"):
            path, end = b"", 2
        elif verb == b"RCPT" and rest[:12].lower() == b"<postmaster>":
            path, end = rest[1:11], 12  # "<Postmaster>" without a domain, 4.1.1.3
        else:
            match = PATH.match(rest)
            if not match:
                raise _refuse(f"{verb.decode()} path {rest[:80]!r} is not a valid Path", "path_syntax", 501)
            if len(match["local"]) > MAX_LOCAL_PART:
                raise _refuse(f"local-part of {len(match['local'])} octets", "local_part_length", 501)
            if len(match["domain"]) > MAX_DOMAIN:
                raise _refuse(f"domain of {len(match['domain'])} octets", "domain_length", 501)
            if match.end() > MAX_PATH:
                raise _refuse(f"path of {match.end()} octets", "path_length", 501)
            path, end = match.group()[1:-1], match.end()
        tail = rest[end:]
        params: list[tuple[bytes, bytes | None]] = []
        if tail:
            if tail[:1] != b" ":
                raise _refuse(f"{tail[:40]!r} after the path", key, 501)
            for item in tail[1:].split(b" "):
                param = ESMTP_PARAM.fullmatch(item)
                if not param:
                    raise _refuse(f"{item[:40]!r} is not an esmtp-param", key, 501)
                params.append((param["keyword"].upper(), param["value"]))
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "params", tuple(params))

    @classmethod
    def mail(cls, path: bytes, params: dict[bytes, bytes | None] | None = None) -> "Command":
        return cls(b"MAIL", b"FROM:<" + path + b">" + _params(params))

    @classmethod
    def rcpt(cls, path: bytes, params: dict[bytes, bytes | None] | None = None) -> "Command":
        return cls(b"RCPT", b"TO:<" + path + b">" + _params(params))

    @property
    def mailbox(self) -> bytes | None:
        """The path without a source route (4.1.1.3: "strip off the source route specification")."""
        if self.path is None:
            return None
        return self.path.rsplit(b":", 1)[-1] if self.path.startswith(b"@") else self.path


def _params(params: dict[bytes, bytes | None] | None) -> bytes:
    return b"".join(b" " + k + (b"=" + v if v is not None else b"") for k, v in (params or {}).items())


@dataclass(frozen=True)
class Reply:
    """``code`` and its text ``lines`` (``250-`` for all but the last, RFC 5321 4.2.1).

    ``enhanced`` is the RFC 3463 status code (RFC 2034).  When not given it is
    taken from the first line if that starts with one whose class agrees with
    the code, and stripped from every line that carries it, so
    ``Reply(250, [b"2.1.0 Ok"]) == Reply(250, [b"Ok"], "2.1.0")``; writing puts
    it back at the head of every line (RFC 2034 4: "the same status code must
    appear at the beginning of the text in each line").
    """

    code: int
    lines: tuple[bytes, ...] = (b"",)
    enhanced: str | None = None

    def __post_init__(self) -> None:
        lines = tuple(bytes(line) for line in ([self.lines] if isinstance(self.lines, bytes) else self.lines)) or (b"",)
        # Reply-code = %x32-35 %x30-35 %x30-39 -- RFC 5321 4.2
        if not (isinstance(self.code, int) and 200 <= self.code <= 559 and (self.code // 10) % 10 <= 5):
            raise LocalProtocolError(f"reply code {self.code!r} is not %x32-35 %x30-35 %x30-39", requirement=REQ["reply_code_range"])
        for line in lines:
            if not TEXTSTRING.fullmatch(line):
                raise LocalProtocolError(f"reply text {line[:80]!r} is not a textstring", requirement=REQ["reply_syntax"])
        enhanced = self.enhanced
        if enhanced is None and self.code // 100 != 3:
            found = _ENHANCED_PREFIX.match(lines[0])
            if found and int(found["code"][:1]) == self.code // 100:
                enhanced = found["code"].decode()
                lines = tuple(_strip_enhanced(line, found["code"]) for line in lines)
        if enhanced is not None:
            if not ENHANCED.fullmatch(enhanced):
                raise LocalProtocolError(f"enhanced status code {enhanced!r} is not class.subject.detail", requirement=REQ["enhanced_syntax"])
            if int(enhanced[0]) != self.code // 100:
                raise LocalProtocolError(f"enhanced status code {enhanced} does not agree with {self.code}", requirement=REQ["enhanced_class"])
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "enhanced", enhanced)

    @property
    def text(self) -> bytes:
        return b"\n".join(self.lines)

    def wire_lines(self) -> list[bytes]:
        """The reply as it goes on the wire, one entry per line, CRLF included."""
        prefix = b"" if self.enhanced is None else self.enhanced.encode() + b" "
        last = len(self.lines) - 1
        return [b"%d%s%s%s\r\n" % (self.code, b" " if i == last else b"-", prefix, line) for i, line in enumerate(self.lines)]


def _strip_enhanced(line: bytes, code: bytes) -> bytes:
    found = _ENHANCED_PREFIX.match(line)
    return line[found.end() :] if found and found["code"] == code else line


@dataclass(frozen=True)
class MessageData:
    """Mail data octets, unstuffed: whole lines, each with its CRLF, when read by the codec."""

    data: bytes


@dataclass(frozen=True)
class EndOfData:
    """The end of mail data indicator, ``<CRLF>.<CRLF>`` (RFC 5321 4.1.1.4)."""


@dataclass(frozen=True)
class ConnectionClosed:
    pass


def ehlo_keywords(reply: Reply) -> dict[str, list[str]]:
    """The extensions a 250 reply to EHLO offers: ``{KEYWORD: [params]}``, keywords upper-cased (4.1.1.1).

    The first line is the server's domain and greeting; each further line is
    ``ehlo-keyword *( SP ehlo-param )``.  A line that is not raises
    :class:`RemoteProtocolError`.
    """
    if reply.code != 250:
        raise ValueError(f"a {reply.code} reply to EHLO offers no extensions")
    keywords: dict[str, list[str]] = {}
    for line in reply.lines[1:]:
        keyword, *params = line.split(b" ")
        if not EHLO_KEYWORD.fullmatch(keyword) or not all(EHLO_PARAM.fullmatch(p) for p in params):
            raise RemoteProtocolError(f"EHLO line {line[:80]!r} is not ehlo-keyword *( SP ehlo-param )", requirement=REQ["ehlo_line_syntax"])
        keywords.setdefault(keyword.decode().upper(), []).extend(p.decode() for p in params)
    return keywords
