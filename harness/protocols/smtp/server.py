"""The reference SMTP server: final delivery into Maildir, never a relay, nothing acknowledged and lost.

What it promises, and where each promise comes from (RFC 5321 unless named):
- EHLO offers SIZE (RFC 1870), 8BITMIME (RFC 6152), PIPELINING (RFC 2920),
  ENHANCEDSTATUSCODES (RFC 2034) and HELP; HELO gets a one-line 250 (3.2).
  Every reply code is one 4.3.2 lists for its command (``replies.py``).
- MAIL before EHLO/HELO, RCPT before MAIL, DATA before RCPT: 503 (3.3, 4.1.4).
- Mail only for the store's domains: a foreign recipient gets 550 5.7.1
  (3.6.2, 7.9), an unknown local one 550 5.1.1; postmaster is accepted in any
  case, with or without a domain (4.5.1).
- On ``<CRLF>.<CRLF>`` the server prepends Return-Path (4.4, final delivery)
  and Received (4.4), writes one copy per mailbox with ``Maildir.deliver``
  (which fsyncs), and only then answers 250 (6.1).  The disk work runs on an
  executor so a slow disk stalls one session, not all; the session reads
  nothing more until it has answered, so replies stay in order (RFC 2920 3.2).
  If any copy fails, the ones written are removed and the answer is 451:
  "The SMTP model does not allow for partial failures at this point" (4.1.1.4).
- Lines and sizes: the codec enforces 512-octet command lines (+26 for SIZE,
  RFC 1870 3), 1000-octet text lines, the message size; its typed errors carry
  the reply (500, 501, 552), and a bad line never ends the session (3.8).
- Timeouts (4.5.3.2): ``command_timeout`` to complete a command,
  ``data_timeout`` between complete lines of mail data; progress is a whole
  command or line, not an octet, so a slowloris that trickles octets is
  dropped.  A timeout, :meth:`SmtpServer.close` and an over-full server send
  421 and close (3.8).  Reading pauses while the peer does not read its
  replies; every buffer is bounded by the codec's limits and the message size.

8-bit octets are accepted in mail data with BODY=7BIT, BODY=8BITMIME or no
BODY at all, and stored as received: RFC 5321 2.4 lets a server "clear the
high-order bit or reject the message", and keeping every bit is what 8BITMIME
promises anyway (RFC 6152 3).

``faults`` switches on one deliberate deviation for the harness's own tests
(``FAULTS`` below); the reference never runs with one by default.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import ipaddress
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.mail.maildir import MailStore, Maildir
from postel.protocols.smtp import replies as R
from postel.protocols.smtp.codec import MAX_COMMAND_LINE, NEED_DATA, PAUSED, SERVER, Connection
from postel.protocols.smtp.events import Command, ConnectionClosed, EndOfData, MessageData, Reply
from postel.protocols.smtp.state import ERROR, GREETED, IN_TRANSACTION

__all__ = ["FAULTS", "SmtpServer", "split_trace"]

SIZE_EXTENSION = 26  # "the maximum length of a MAIL FROM command line is increased by 26 characters" (RFC 1870 3)
WRITE_HIGH_WATER = 64 * 1024  # stop reading while this much of our replies waits for the peer
LINGER = 2.0  # seconds the socket stays open after the last reply, for the peer to read it
CLOSE_GRACE = 10.0  # seconds close() waits for deliveries in flight before the 421
REPLY_BEFORE_FSYNC_LAG = 1.0  # the "reply_before_fsync" fault writes this long after its 250
CRASH_EXIT_CODE = 70

# Deliberate deviations, one per seeded fault of the harness's own tests (the suites name them).
FAULTS = frozenset({
    "no_dot_unstuffing",  # stores "..x" lines as received
    "open_relay",  # 250 to RCPT for a foreign domain
    "wrong_multiline_continuation",  # every EHLO reply line says "250 ", none "250-"
    "accept_before_helo",  # MAIL before EHLO/HELO gets 250, not 503
    "bad_reply_code",  # RSET is answered 354, a code 4.3.2 does not allow for RSET
    "pipelining_out_of_order",  # the replies to commands read together are sent in reverse order
    "ignores_size",  # advertises SIZE, yet accepts MAIL SIZE= over the limit with 250
    "no_received",  # no Received trace field
    "reply_before_fsync",  # answers 250 to the final dot first, writes the message a second later
    "crash_after_fsync",  # os._exit(70) once the message is written, before the 250 (crash tests only)
    "size_limit_off_by_one",  # MAIL SIZE= exactly the advertised limit gets 552
    "size_cuts_data",  # stores only the first SIZE= octets of a message declared smaller than it is
    "holds_grouped_replies",  # replies to a pipelined group ending in MAIL/RCPT/RSET wait for a later command
    "holds_replies_behind_partial_input",  # no reply is sent while part of a command line is still unread
    "few_recipients",  # RCPT beyond the 50th of a transaction gets 452
    "postmaster_case_sensitive",  # only "Postmaster" and "postmaster" are the reserved mailbox
    "received_without_from",  # the Received field has no FROM clause
    "received_obsolete_date",  # the Received field's date has a two-digit year and "GMT" (obs- forms)
    "mail_keeps_recipients",  # MAIL (and the end of data) leave the forward-path buffer as it was; only RSET/EHLO clear it
    "drops_input_after_error",  # the input read together with an unrecognized command line is thrown away
    "clears_high_bit",  # stores every octet of the mail data with its high-order bit cleared
    "drops_final_crlf",  # stores the mail data without the CRLF before the final dot
    "ignores_unknown_parameters",  # MAIL with an unknown parameter or an unknown BODY value gets 250, not 555
    "expn_clears_recipients",  # EXPN empties the forward-path buffer
    "quoted_local_part_unknown",  # "postel"@postel.test is an unknown user: quoted forms not equivalent
    "rejects_source_routes",  # MAIL and RCPT with a source route (<@a,@b:x@y>) get 501
    "enhanced_codes_after_ehlo_only",  # replies sent through _send carry no status code until the client says EHLO
    "lowercases_reverse_path",  # the Return-Path of the stored copy has the sender's local-part in lower case
    "received_wrong_weekday",  # the Received date-time names the day after the date's day of the week
    "received_unfolded",  # the Received field on one line, longer than 78 characters
    "received_bare_lf",  # the Received field folded with a bare LF, not CRLF
    "trace_below_client_trace",  # the new trace block goes below the trace fields the message arrived with
})
FEW_RECIPIENTS = 50  # the "few_recipients" fault's limit, under the 100 RCPTs 4.5.3.1.8 requires
GROUPED_VERBS = (b"MAIL", b"RCPT", b"RSET")  # RFC 2920 3.2: replies a server may buffer "so they can sent as a unit"


def split_trace(message: bytes) -> tuple[bytes, bytes]:
    """``(trace, rest)``: the Return-Path and Received fields this server put on top, and the message as sent.

    The rest is byte for byte what the client's DATA carried after unstuffing
    (the round-trip tests compare it).  Only the exact shape :meth:`SmtpServer.trace`
    writes is taken, so a body whose first line starts with white space, or a
    Received field the client sent, stays in the rest.
    """
    match = _OUR_TRACE.match(message)
    end = match.end() if match else 0
    return message[:end], message[end:]


_OUR_TRACE = re.compile(rb"Return-Path: <[^\r\n>]*>\r\n(?:Received: from [^\r\n]*\r\n\tby [^\r\n]*;\r\n\t[^\r\n]*\r\n)?")
_LEADING_TRACE = re.compile(rb"(?:(?:Return-Path|Received):[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)*", re.IGNORECASE)  # a message's own trace fields ("trace_below_client_trace")
_DAY_NAMES = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"]
_DOT_STRING = re.compile(rb"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
_SIZE_VALUE = re.compile(rb"[0-9]{1,20}")  # size-value ::= 1*20DIGIT (RFC 1870 3)
_BODY_VALUES = (b"7BIT", b"8BITMIME")  # RFC 6152 2


@dataclass
class SmtpServer:
    store: MailStore
    host: str = "127.0.0.1"
    port: int = 0
    hostname: str = "postel.test"
    faults: frozenset[str] = field(default_factory=frozenset)
    max_message_size: int = 10 * 1024 * 1024  # SIZE; at least 64K octets (4.5.3.1.7)
    command_timeout: float = 300.0  # "at least 5 minutes while it is awaiting the next command" (4.5.3.2.7)
    data_timeout: float = 180.0  # between lines of mail data: the 3-minute data block (4.5.3.2.5)
    max_connections: int = 256
    max_recipients: int = 100  # "The minimum total number of recipients that MUST be buffered is 100" (4.5.3.1.8)

    def __post_init__(self) -> None:
        unknown = set(self.faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        if self.max_message_size <= 0:
            raise ValueError("max_message_size must be a positive number of octets")
        self.faults = frozenset(self.faults)
        self._hostname = self.hostname.encode("ascii")
        self._server: asyncio.Server | None = None
        self._sessions: set[_SmtpSession] = set()
        self._closing = False

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[:2]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _SmtpSession(self), self.host, self.port, reuse_address=True)

    async def close(self) -> None:
        """Stop listening; let deliveries in flight finish and answer; then 421 to every session (3.8)."""
        self._closing = True
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            session.shut_down()
        deliveries = [s.delivery for s in self._sessions if s.delivery is not None and not s.delivery.done()]
        if deliveries:
            await asyncio.wait(deliveries, timeout=CLOSE_GRACE)
        for session in list(self._sessions):
            session.abort()
        await self._server.wait_closed()

    def buffered(self) -> list[tuple[int, int]]:
        """Per open session: octets read but not yet consumed, octets written but not yet sent (for the tests of the limits)."""
        return [(s.codec.buffered, s.transport.get_write_buffer_size() if s.transport else 0) for s in self._sessions]

    # ---------------------------------------------------------------- delivery

    def trace(self, session: _SmtpSession, mail_id: bytes) -> bytes:
        """Return-Path (final delivery, 4.4) and Received, in the Time-stamp-line grammar of 4.4."""
        reverse = b"Return-Path: <" + (session.reverse_path or b"") + b">\r\n"
        if "no_received" in self.faults:
            return reverse
        literal = session.peer_literal
        # From-domain = "FROM" FWS Extended-Domain; Extended-Domain = Domain FWS "(" TCP-info ")" /
        # address-literal FWS "(" TCP-info ")"; TCP-info "derived by server from TCP connection"
        helo = session.helo or literal or b"unknown"
        from_domain = helo + (b" (" + literal + b")" if literal else b"")
        protocol = b"ESMTP" if session.esmtp else b"SMTP"
        # date-time of RFC 5322, local time with an explicit offset (4.4: "SHOULD use explicit offsets")
        date = email.utils.format_datetime(datetime.datetime.now().astimezone()).encode()
        if "received_obsolete_date" in self.faults:
            date = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %y %H:%M:%S GMT").encode()
        if "received_wrong_weekday" in self.faults:
            date = _DAY_NAMES[(_DAY_NAMES.index(date[:3]) + 1) % 7] + date[3:]
        if "received_without_from" in self.faults:
            return reverse + b"Received: by %s with %s id %s;\r\n\t%s\r\n" % (self._hostname, protocol, mail_id, date)
        fold = b"\r\n\t"  # folding: CRLF before WSP (RFC 5322 2.2.3), each line under 78 characters (2.1.1)
        if "received_unfolded" in self.faults:
            fold = b" "
        if "received_bare_lf" in self.faults:
            fold = b"\n\t"
        return reverse + b"Received: from %s%sby %s with %s id %s;%s%s\r\n" % (from_domain, fold, self._hostname, protocol, mail_id, fold, date)

    def deliver(self, boxes: list[Maildir], message: bytes) -> None:
        """Write one copy per mailbox, or none: a copy written before a failure is removed (4.1.1.4)."""
        written: list[tuple[Maildir, str]] = []
        try:
            for box in boxes:
                written.append((box, box.deliver(message)))
        except BaseException:
            for box, key in written:
                box.remove(key)
            raise
        if "crash_after_fsync" in self.faults:
            os._exit(CRASH_EXIT_CODE)  # written and fsynced, not yet acknowledged: a duplicate risk, never a loss


class _SmtpSession(asyncio.Protocol):
    """One SMTP session: the codec reads, :meth:`_answer` decides, replies go out in command order."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.faults = server.faults
        self.host = server._hostname
        self.codec = Connection(SERVER, max_command_line=MAX_COMMAND_LINE + SIZE_EXTENSION, max_message_size=server.max_message_size)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer_literal: bytes | None = None
        # envelope (4.1.1.2: reverse-path, forward-path and mail data buffers)
        self.helo: bytes | None = None
        self.esmtp = False
        self.reverse_path: bytes | None = None
        self.declared_size: int | None = None  # MAIL ... SIZE= (only the "size_cuts_data" fault uses it)
        self.recipients: list[tuple[bytes, str | None]] = []  # (mailbox, the store's user or None for an open relay)
        self.rcpt_tried = 0
        self.data = bytearray()
        self.data_error: RemoteProtocolError | None = None
        # flow
        self.batch_verbs: list[bytes] = []  # the commands answered since the last write (the "holds_*" faults)
        self.out: list[bytes] = []  # replies produced by this batch of input, written together
        self.out_size = 0
        self.busy = False  # a delivery is in flight: read nothing, answer nothing more until it is answered
        self.delivery: asyncio.Task[None] | None = None
        self.peer_eof = False
        self.write_paused = False
        self.closing = False
        self.shutdown_pending = False
        self.last_progress = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.abort_timer: asyncio.TimerHandle | None = None

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer_literal = _address_literal(transport.get_extra_info("peername"))
        if self.server._closing or len(self.server._sessions) >= self.server.max_connections:
            self._write_and_close(R.too_many_connections(self.host) if not self.server._closing else R.shutting_down(self.host))
            return
        self.server._sessions.add(self)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._send(R.greeting(self.host))
        self._flush()
        self.last_progress = self.loop.time()
        self.timer = self.loop.call_at(self.last_progress + self.server.command_timeout, self._check_deadline)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.codec.receive_data(data)
        self._drive()

    def eof_received(self) -> bool:
        self.peer_eof = True
        if self.closing:
            return False  # our FIN is out: the transport may close
        self.codec.receive_data(b"")
        self._drive()
        return True  # our side stays open until the replies are written

    def pause_writing(self) -> None:
        self.write_paused = True
        self._set_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._set_reading()
        self._drive()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        for timer in (self.timer, self.abort_timer):
            if timer:
                timer.cancel()
        self.server._sessions.discard(self)

    # ---------------------------------------------------------------- reading

    def _drive(self) -> None:
        """Read events until the input is used up, a delivery starts or the peer stops reading."""
        while not (self.busy or self.closing or self.write_paused):
            in_data = self.codec.in_data
            try:
                event = self.codec.next_event()
            except RemoteProtocolError as error:
                if self.codec.state is ERROR:
                    self._close()  # closed mid-command or mid-data: the transaction is cancelled (4.1.1.10)
                    break
                if in_data:
                    self.data_error = self.data_error or error  # answered after <CRLF>.<CRLF>
                else:
                    self._progress()
                    self.batch_verbs.append(b"")  # a refused line: not one of the replies 2920 lets a server group
                    self._send(R.refusal(error))
                    if "drops_input_after_error" in self.faults:
                        self.codec._buffer.clear()  # the deviation: pipelined input after a refused line is lost
                continue
            if event is NEED_DATA or event is PAUSED:
                break
            if isinstance(event, MessageData):
                self._progress()
                self.data += event.data
            elif isinstance(event, EndOfData):
                self._progress()
                self._end_of_data()
            elif isinstance(event, Command):
                self._progress()
                self._answer(event)
                if self.out_size > WRITE_HIGH_WATER:
                    self._flush()  # a batch of pipelined HELPs must not pile up replies: pause_writing stops the loop
            elif isinstance(event, ConnectionClosed):
                self._close()  # "as if a QUIT had been received" (4.1.1.5), no reply to send
        if self._holding():
            return
        self._flush()

    def _holding(self) -> bool:
        """The "holds_*" faults: replies kept back although the input read so far is used up (RFC 2920 3.2)."""
        if self.closing or not self.out:
            return False
        if "holds_replies_behind_partial_input" in self.faults and self.codec.buffered and not self.codec.in_data:
            return True
        verbs = self.batch_verbs
        return "holds_grouped_replies" in self.faults and len(verbs) > 1 and all(v in GROUPED_VERBS for v in verbs)

    def _set_reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.busy or self.write_paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _progress(self) -> None:
        self.last_progress = self.loop.time()

    def _check_deadline(self) -> None:
        """A command within ``command_timeout``, mail data lines ``data_timeout`` apart; else 421 (3.8)."""
        self.timer = None
        if self.closing:
            return
        limit = self.server.data_timeout if self.codec.in_data else self.server.command_timeout
        deadline = self.last_progress + limit
        if self.busy:
            deadline = self.loop.time() + limit  # our own disk, not the client, is slow
        elif self.loop.time() >= deadline - 0.001:
            self._flush()
            self._write_and_close(R.timed_out(self.host))
            return
        self.timer = self.loop.call_at(deadline, self._check_deadline)

    # ---------------------------------------------------------------- answering

    def _answer(self, command: Command) -> None:
        self.batch_verbs.append(command.verb.upper())
        handler: Callable[[Command], None] = getattr(self, "_" + command.verb.decode().lower())
        handler(command)

    def _ehlo(self, command: Command) -> None:
        self._reset()  # "exactly as if a RSET command had been issued" (4.1.4)
        self.helo, self.esmtp = command.argument, True
        wire = self.codec.send(R.ehlo_ok(self.host, command.argument, self.server.max_message_size))
        if "wrong_multiline_continuation" in self.faults:
            wire = wire.replace(b"250-", b"250 ")
        self._queue(wire)

    def _helo(self, command: Command) -> None:
        self._reset()
        self.helo, self.esmtp = command.argument, False
        self._send(R.helo_ok(self.host, command.argument))  # "MUST NOT return the extended EHLO-style response" (3.2)

    def _mail(self, command: Command) -> None:
        if self.codec.state is GREETED and "accept_before_helo" not in self.faults:
            return self._send(R.R503_HELO_FIRST)  # "MUST first be initialized by the use of the EHLO command" (4.1.4)
        if self.codec.state is IN_TRANSACTION:
            return self._send(R.R503_NESTED_MAIL)
        if "rejects_source_routes" in self.faults and (command.path or b"").startswith(b"@"):
            return self._send(R.R501_PARAMETER)
        refused = self._mail_parameters(command)
        if refused is not None:
            return self._send(refused)
        self._reset(keep_recipients="mail_keeps_recipients" in self.faults)
        self.reverse_path = command.mailbox  # the source route is stripped (4.1.1.3), never copied (3.6.1)
        if "lowercases_reverse_path" in self.faults and self.reverse_path:
            local, at, domain = self.reverse_path.rpartition(b"@")
            self.reverse_path = local.lower() + at + domain
        self.declared_size = next((int(v) for k, v in command.params if k == b"SIZE" and v is not None), None)
        self._send(R.R250_SENDER_OK(command.path or b""))

    def _mail_parameters(self, command: Command) -> Reply | None:
        seen: set[bytes] = set()
        for keyword, value in command.params:
            ignore = self.esmtp and "ignores_unknown_parameters" in self.faults
            if ignore and (keyword not in (b"SIZE", b"BODY") or (keyword == b"BODY" and (value or b"").upper() not in _BODY_VALUES)):
                continue
            if not self.esmtp or keyword not in (b"SIZE", b"BODY"):
                # without EHLO no extension was offered (4.1.1: servers SHOULD reject such parameters)
                return R.R555_PARAMETER(keyword)
            if keyword in seen:
                return R.R501_PARAMETER  # "Only one SIZE parameter" (RFC 1870 6), "Only one BODY parameter" (RFC 6152 3)
            seen.add(keyword)
            if keyword == b"SIZE":
                if value is None or not _SIZE_VALUE.fullmatch(value):
                    return R.R501_PARAMETER
                if int(value) > self.server.max_message_size and "ignores_size" not in self.faults:
                    return R.R552_SIZE_EXCEEDED  # RFC 1870 6.1
                if int(value) == self.server.max_message_size and "size_limit_off_by_one" in self.faults:
                    return R.R552_SIZE_EXCEEDED
            elif value is None or value.upper() not in _BODY_VALUES:
                return R.R555_PARAMETER(keyword + b"=" + (value or b""))  # BINARYMIME and others are not implemented
        return None

    def _rcpt(self, command: Command) -> None:
        if self.codec.state is not IN_TRANSACTION:
            return self._send(R.R503_MAIL_FIRST)  # "the server MUST return a 503" (3.3)
        if command.params:
            return self._send(R.R555_PARAMETER(command.params[0][0]))  # no extension offers an RCPT parameter
        if "rejects_source_routes" in self.faults and (command.path or b"").startswith(b"@"):
            return self._send(R.R501_PARAMETER)
        self.rcpt_tried += 1
        limit = FEW_RECIPIENTS if "few_recipients" in self.faults else self.server.max_recipients
        if len(self.recipients) >= limit:
            return self._send(R.R452_TOO_MANY_RECIPIENTS)
        mailbox = command.mailbox or b""
        if "quoted_local_part_unknown" not in self.faults:
            mailbox = _canonical(mailbox)
        local = mailbox.rpartition(b"@")[0] or mailbox
        if "postmaster_case_sensitive" in self.faults and local.lower() == b"postmaster" and local not in (b"Postmaster", b"postmaster"):
            return self._send(R.R550_NO_SUCH_USER(mailbox))
        verdict = self.server.store.accepts(mailbox)
        if verdict == "local":
            self.recipients.append((mailbox, self.server.store.mailbox_for(mailbox)))
        elif verdict == "foreign" and "open_relay" in self.faults:
            self.recipients.append((mailbox, None))  # "accepted", and silently dropped
        elif verdict == "foreign":
            return self._send(R.R550_RELAY_DENIED(mailbox))
        else:
            return self._send(R.R550_NO_SUCH_USER(mailbox))
        self._send(R.R250_RECIPIENT_OK(command.path or b""))

    def _data(self, command: Command) -> None:
        if self.codec.state is not IN_TRANSACTION:
            return self._send(R.R503_MAIL_FIRST)
        if not self.recipients:
            # 3.3: "503" or "no valid recipients (554)" when there was no RCPT, or all were rejected
            return self._send(R.R554_NO_VALID_RECIPIENTS if self.rcpt_tried else R.R503_RCPT_FIRST)
        self.data, self.data_error = bytearray(), None
        self._send(R.R354_START_MAIL_INPUT)
        self._flush()  # never buffer the reply to DATA (RFC 2920 3.2)

    def _rset(self, command: Command) -> None:
        self._reset()
        wire = self.codec.send(R.R250_RESET)
        if "bad_reply_code" in self.faults:
            wire = b"354 " + wire[len(b"250 2.0.0 ") :]
        self._queue(wire)

    def _vrfy(self, command: Command) -> None:
        self._send(R.R252_CANNOT_VRFY(self._vrfy_mailbox(command.argument)))

    def _vrfy_mailbox(self, argument: bytes) -> bytes:
        """The argument as <local-part@domain> where it names one (3.5.2), else as given."""
        what = argument.strip()
        if what.startswith(b"<") and what.endswith(b">"):
            what = what[1:-1]
        local, at, domain = what.rpartition(b"@")
        if at and _DOT_STRING.fullmatch(local) and domain:
            return b"<" + what + b">"
        domains = self.server.store.domains
        if _DOT_STRING.fullmatch(what) and domains:
            return b"<" + what + b"@" + domains[0].encode() + b">"  # a user name, at the first local domain
        return what

    def _expn(self, command: Command) -> None:
        if "expn_clears_recipients" in self.faults:
            self.recipients, self.rcpt_tried = [], 0
        self._send(R.R502_EXPN_NOT_IMPLEMENTED)  # not offered in EHLO either (3.5.2, 4.2.4)

    def _help(self, command: Command) -> None:
        self._send(R.help_topic(command.argument) if command.argument else R.R214_HELP)

    def _noop(self, command: Command) -> None:
        self._send(R.R250_OK)  # "If a parameter string is specified, servers SHOULD ignore it." (4.1.1.9)

    def _quit(self, command: Command) -> None:
        self._send(R.closing(self.host))  # "MUST send a "221 OK" reply, and then close" (4.1.1.10)
        self._close()

    def _reset(self, *, keep_recipients: bool = False) -> None:
        """Clear the reverse-path, forward-path and mail data buffers (``keep_recipients``: the fault's deviation)."""
        recipients = self.recipients if keep_recipients else []
        self.reverse_path, self.recipients, self.rcpt_tried, self.declared_size = None, recipients, 0, None
        self.data, self.data_error = bytearray(), None

    # ---------------------------------------------------------------- the final dot

    def _end_of_data(self) -> None:
        if self.data_error is not None:
            error = self.data_error
            self._reset()
            return self._send(R.refusal(error))  # the message is not delivered
        data = bytes(self.data)
        if "no_dot_unstuffing" in self.faults:
            data = _restuff(data)
        if "clears_high_bit" in self.faults:
            data = bytes(octet & 0x7F for octet in data)
        if "drops_final_crlf" in self.faults and data.endswith(b"\r\n"):
            data = data[:-2]
        if "size_cuts_data" in self.faults and self.declared_size is not None:
            data = data[: self.declared_size]  # the declared size taken as the end of the content (RFC 1870 6)
        mail_id = secrets.token_hex(8).encode()
        boxes = [self.server.store.mailbox(user) for user in dict.fromkeys(u for _, u in self.recipients if u is not None)]
        message = self.server.trace(self, mail_id) + data
        if "trace_below_client_trace" in self.faults:
            below = _LEADING_TRACE.match(data).end()
            message = data[:below] + self.server.trace(self, mail_id) + data[below:]
        self._reset(keep_recipients="mail_keeps_recipients" in self.faults)
        if "reply_before_fsync" in self.faults:
            self._send(R.R250_DELIVERED(mail_id))
            self.loop.call_later(REPLY_BEFORE_FSYNC_LAG, lambda: self.loop.run_in_executor(None, self.server.deliver, boxes, message))
            return
        self.busy = True
        self._flush()
        self._set_reading()
        self.delivery = self.loop.create_task(self._deliver(boxes, message, mail_id))

    async def _deliver(self, boxes: list[Maildir], message: bytes, mail_id: bytes) -> None:
        try:
            await self.loop.run_in_executor(None, self.server.deliver, boxes, message)
            reply = R.R250_DELIVERED(mail_id)  # "In sending a positive "250 OK" ... full responsibility" (4.1.1.4)
        except OSError:
            reply = R.R451_LOCAL_ERROR
        except Exception as exc:
            reply = R.R451_LOCAL_ERROR
            self.loop.call_exception_handler({"message": "SMTP delivery failed", "exception": exc})
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return  # the client left: the message is delivered, unacknowledged (a duplicate risk, 6.1)
        self._progress()
        self._send(reply)
        if self.shutdown_pending:
            self._flush()
            self._write_and_close(R.shutting_down(self.host))
        else:
            self._set_reading()
            self._drive()

    # ---------------------------------------------------------------- writing and closing

    def _send(self, reply: Reply) -> None:
        if "enhanced_codes_after_ehlo_only" in self.faults and not self.esmtp and reply.enhanced:
            reply = Reply(reply.code, reply.lines)
        self._queue(self.codec.send(reply))

    def _queue(self, wire: bytes) -> None:
        self.out.append(wire)
        self.out_size += len(wire)

    def _flush(self) -> None:
        if not self.out:
            return
        out, self.out, self.out_size = self.out, [], 0
        self.batch_verbs = []
        if "pipelining_out_of_order" in self.faults:
            out.reverse()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def shut_down(self) -> None:
        """The server is closing: 421 now, or once the delivery in flight is answered."""
        if self.busy:
            self.shutdown_pending = True
        elif not self.closing:
            self._flush()
            self._write_and_close(R.shutting_down(self.host))

    def _write_and_close(self, reply: Reply) -> None:
        """An unsolicited 421 (3.8: "asynchronously from command receipt"), then close."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(reply.wire_lines()))
        self._close()

    def _close(self) -> None:
        """FIN after the last reply, then abort after ``LINGER``: a peer still sending gets no RST that eats the reply."""
        self._flush()
        self.closing = True
        if self.timer:
            self.timer.cancel()
            self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.peer_eof:
            transport.close()  # both sides are done; close() still writes what is buffered
        elif transport.can_write_eof():
            transport.write_eof()
            transport.resume_reading()  # read (and drop) what still comes, so the FIN is met
            self.abort_timer = self.loop.call_later(LINGER, transport.abort)
        else:
            transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _address_literal(peer: object) -> bytes | None:
    """The client's IP as an address-literal (4.1.3): ``[192.0.2.1]`` or ``[IPv6:2001:db8::1]``."""
    try:
        ip = ipaddress.ip_address(peer[0])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return b"[%s]" % (str(ip) if ip.version == 4 else "IPv6:" + str(ip)).encode()


def _canonical(mailbox: bytes) -> bytes:
    """A quoted local-part in its unquoted form where it has one: "all quoted forms MUST be treated as equivalent" (4.1.2)."""
    local, at, domain = mailbox.rpartition(b"@")
    if at and local.startswith(b'"') and local.endswith(b'"') and len(local) >= 2:
        unquoted = re.sub(rb"\\(.)", rb"\1", local[1:-1])
        if _DOT_STRING.fullmatch(unquoted):
            return unquoted + b"@" + domain
    return mailbox


def _restuff(data: bytes) -> bytes:
    """The "no_dot_unstuffing" fault: every line that starts with "." gets back the dot the client added (4.5.2)."""
    return re.sub(rb"(?m)^\.", b"..", data)
