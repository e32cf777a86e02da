"""The replies the reference SMTP server sends, one named constant or builder per meaning.

Named after their code (aiosmtpd's ``S503_MAIL_NEEDED`` habit), so a test or a
suite asserts on a name and grep finds every use.  Each code is one RFC 5321
4.3.2 lists for the command it answers, or one of the three any command may
get (500, 501, 421).

Enhanced status codes (RFC 2034, with RFC 3463's class.subject.detail) are on
every 2xx, 4xx and 5xx reply except the greeting and the replies to EHLO and
HELO (rfc2034/4/3), whether or not the client said EHLO (rfc2034/4/6); 3xx
replies carry none.  The detail codes follow RFC 3463 section 3 and the
associations of RFC 5248's table 1 (X.5.2 with 500, X.5.4 with 501 and 555,
X.4.2 with 421, X.3.4 and X.2.3 with 552, X.5.3 with 452).
"""

from __future__ import annotations

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.smtp.events import Reply
from postel.protocols.smtp.requirements import REQ

__all__ = [
    "R214_HELP", "R250_DELIVERED", "R250_OK", "R250_RECIPIENT_OK", "R250_RESET", "R250_SENDER_OK", "R252_CANNOT_VRFY",
    "R354_START_MAIL_INPUT", "R451_LOCAL_ERROR", "R452_TOO_MANY_RECIPIENTS", "R502_EXPN_NOT_IMPLEMENTED",
    "R503_HELO_FIRST", "R503_MAIL_FIRST", "R503_NESTED_MAIL", "R503_RCPT_FIRST", "R504_HELP_TOPIC",
    "R550_NO_SUCH_USER", "R550_RELAY_DENIED", "R552_SIZE_EXCEEDED", "R554_NO_VALID_RECIPIENTS",
    "R555_PARAMETER", "R501_PARAMETER", "greeting", "helo_ok", "ehlo_ok", "closing", "shutting_down", "timed_out",
    "too_many_connections", "refusal", "help_topic", "printable",
]

# --- 2yz ----------------------------------------------------------------------------
R250_OK = Reply(250, [b"OK"], "2.0.0")
R250_RESET = Reply(250, [b"OK, transaction reset"], "2.0.0")
R214_HELP = Reply(
    214,
    [
        b"Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
        b"Extensions: SIZE 8BITMIME PIPELINING ENHANCEDSTATUSCODES",
        b"HELP <command> describes one command; see RFC 5321",
    ],
    "2.0.0",
)


def R250_SENDER_OK(path: bytes) -> Reply:
    # RFC 2920 3.2: the text "SHOULD ... indicate ... what command the response matches"
    return Reply(250, [b"Sender <" + printable(path) + b"> OK"], "2.1.0")


def R250_RECIPIENT_OK(path: bytes) -> Reply:
    return Reply(250, [b"Recipient <" + printable(path) + b"> OK"], "2.1.5")


def R250_DELIVERED(mail_id: bytes) -> Reply:
    return Reply(250, [b"OK, delivered as " + mail_id], "2.0.0")


def R252_CANNOT_VRFY(what: bytes) -> Reply:
    # RFC 5321 7.3: "If a site disables these commands for security reasons, the SMTP server MUST
    # return a 252 response"; 3.5.2: a 2yz VRFY reply names the mailbox as <local-part@domain>.
    return Reply(252, [b"Cannot VRFY " + printable(what) + b"; send mail and delivery will be attempted"], "2.5.0")


# --- 3yz (no enhanced code: rfc2034/4/3) ---------------------------------------------
R354_START_MAIL_INPUT = Reply(354, [b"Start mail input; end with <CRLF>.<CRLF>"])

# --- 4yz ----------------------------------------------------------------------------
R451_LOCAL_ERROR = Reply(451, [b"Requested action aborted: local error in processing; nothing was delivered"], "4.3.0")
# "If an SMTP server has an implementation limit on the number of RCPT commands and this limit is
# exhausted, it MUST use a response code of 452" (4.5.3.1.10)
R452_TOO_MANY_RECIPIENTS = Reply(452, [b"Too many recipients"], "4.5.3")

# --- 5yz ----------------------------------------------------------------------------
R501_PARAMETER = Reply(501, [b"Syntax error in parameters or arguments"], "5.5.4")
R502_EXPN_NOT_IMPLEMENTED = Reply(502, [b"EXPN not implemented"], "5.5.1")
R503_HELO_FIRST = Reply(503, [b"Bad sequence of commands: send EHLO or HELO first"], "5.5.1")
R503_NESTED_MAIL = Reply(503, [b"Bad sequence of commands: a mail transaction is already open"], "5.5.1")
R503_MAIL_FIRST = Reply(503, [b"Bad sequence of commands: send MAIL first"], "5.5.1")
R503_RCPT_FIRST = Reply(503, [b"Bad sequence of commands: send RCPT first"], "5.5.1")
R504_HELP_TOPIC = Reply(504, [b"HELP topic not known"], "5.5.4")
R552_SIZE_EXCEEDED = Reply(552, [b"Message size exceeds fixed maximum message size"], "5.3.4")
R554_NO_VALID_RECIPIENTS = Reply(554, [b"Transaction failed: no valid recipients"], "5.5.1")


def R550_NO_SUCH_USER(path: bytes) -> Reply:
    return Reply(550, [b"No such user here: <" + printable(path) + b">"], "5.1.1")


def R550_RELAY_DENIED(path: bytes) -> Reply:
    # "If it declines to relay mail to a particular address for policy reasons, a 550 response SHOULD
    # be returned." (3.6.2)
    return Reply(550, [b"Relay access denied: <" + printable(path) + b"> is not a local domain"], "5.7.1")


def R555_PARAMETER(keyword: bytes) -> Reply:
    # "If the server SMTP does not recognize or cannot implement one or more of the parameters ...
    # it will return code 555." (4.1.1.11)
    return Reply(555, [b"Parameter " + printable(keyword) + b" not recognized or not implemented"], "5.5.4")


# --- per host -----------------------------------------------------------------------
def greeting(host: bytes) -> Reply:
    # Greeting = "220 " Domain [ SP textstring ] CRLF (4.2); no enhanced code (rfc2034/4/3)
    return Reply(220, [host + b" ESMTP postel"])


def helo_ok(host: bytes, client: bytes) -> Reply:
    return Reply(250, [host + b" greets " + client])


def ehlo_ok(host: bytes, client: bytes, max_message_size: int) -> Reply:
    # Only what is implemented (4.2.4: no capability answered with 502 or 500); EXPN is not offered.
    return Reply(
        250,
        [host + b" greets " + client, b"SIZE %d" % max_message_size, b"8BITMIME", b"PIPELINING", b"ENHANCEDSTATUSCODES", b"HELP"],
    )


def closing(host: bytes) -> Reply:
    return Reply(221, [host + b" Service closing transmission channel"], "2.0.0")


def shutting_down(host: bytes) -> Reply:
    # "421 <domain> Service not available, closing transmission channel" (4.2.3), sent by close() (3.8)
    return Reply(421, [host + b" Service not available, closing transmission channel"], "4.3.2")


def timed_out(host: bytes) -> Reply:
    return Reply(421, [host + b" Timeout waiting for the client; closing transmission channel"], "4.4.2")


def too_many_connections(host: bytes) -> Reply:
    return Reply(421, [host + b" Too many connections; closing transmission channel"], "4.3.2")


_HELP_TOPICS = {
    b"EHLO": b"EHLO <domain>: start a session, list the extensions",
    b"HELO": b"HELO <domain>: start a session without extensions",
    b"MAIL": b"MAIL FROM:<reverse-path> [SIZE=<octets>] [BODY=7BIT|8BITMIME]",
    b"RCPT": b"RCPT TO:<forward-path>",
    b"DATA": b"DATA: then the message, ended by a line holding only a period",
    b"RSET": b"RSET: abort the mail transaction",
    b"NOOP": b"NOOP [text]: do nothing",
    b"QUIT": b"QUIT: close the session",
    b"VRFY": b"VRFY <string>: answered 252, addresses are not verified",
    b"HELP": b"HELP [command]",
}


def help_topic(topic: bytes) -> Reply:
    """HELP with an argument (4.1.1.8 "MAY support it with arguments"): 214, or 504 for an unknown topic."""
    text = _HELP_TOPICS.get(topic.strip().upper())
    return R504_HELP_TOPIC if text is None else Reply(214, [text], "2.0.0")


# --- the codec's refusals -----------------------------------------------------------
_REFUSAL_TEXT = {
    REQ["command_line_length"]: (b"Line too long", "5.5.2"),  # "500 Line too long." (4.5.3.1.9)
    REQ["text_line_length"]: (b"Line too long", "5.5.2"),
    REQ["unknown_command"]: (b"Syntax error, command unrecognized", "5.5.2"),
    REQ["command_syntax"]: (b"Syntax error, command unrecognized", "5.5.2"),
    REQ["bare_line_end_client"]: (b"Syntax error: lines must end with <CRLF>, bare CR or LF refused", "5.5.2"),
    REQ["message_size"]: (b"Message size exceeds fixed maximum message size", "5.3.4"),
}
_ENHANCED_FOR = {500: "5.5.2", 501: "5.5.4", 552: "5.3.4"}


def refusal(error: RemoteProtocolError) -> Reply:
    """The reply the codec hinted for a refused command line or mail data, with its reason as text."""
    code = error.reply_hint or 500
    text, enhanced = _REFUSAL_TEXT.get(error.requirement or "", (None, None))
    if text is None or code not in (500, 552):
        text = b"Syntax error in parameters or arguments"
        enhanced = _ENHANCED_FOR.get(code, "%d.0.0" % (code // 100))
    detail = printable(str(error).encode("ascii", "backslashreplace"))[:300]
    return Reply(code, [text + b" (" + detail + b")"], enhanced)


def printable(text: bytes, limit: int = 300) -> bytes:
    """``text`` cut to ``limit`` octets with anything outside a reply's textstring (4.2) replaced by "?"."""
    return bytes(c if 0x20 <= c <= 0x7E else 0x3F for c in text[:limit])
