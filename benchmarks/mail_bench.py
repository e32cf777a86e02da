"""SMTP and POP3: messages/s of the reference SMTP server next to aiosmtpd's, and RETR MB/s of the reference POP3 server.

Method
------
(1) SMTP.  Two servers, each in its own subprocess on ``postel.serving.run``
    (uvloop where installed), each with its own temporary MailStore:
    postel's ``SmtpServer``; and ``aiosmtpd.smtp.SMTP`` with a handler doing
    what the reference does before its 250 -- RCPT checked with the same
    ``MailStore.accepts`` (no relay), Return-Path and Received of the same
    shape on top, ``Maildir.deliver`` on the loop's default executor.  So both
    fsync the message file and ``new/`` before answering the final dot: like
    for like, the disk's fsync in every figure (the run prints one
    ``Maildir.deliver`` alone).  --no-fsync makes ``os.fsync`` a no-op in
    both: the servers' own cost, no longer what RFC 5321 6.1 asks.

    Load: C client threads in this process, each looping sessions -- 220,
    EHLO, N x (MAIL, RCPT, DATA, a ~2 KiB message with "."-lines, final dot,
    250), QUIT -- over raw sockets with postel's SMTP codec (CLIENT role: it
    stuffs the data and parses every reply strictly), a timeout on every
    socket operation.  Only a 250 to the final dot counts; anything else is
    an error and ends the session.  Rows: 1 and 8 clients x 1 and 10
    messages per session, --seconds per row and server in --rounds slices,
    servers alternating (ABBA) so drift falls on both.  messages/s counts
    the 250s within the slices (a message in flight at a slice's end counts
    for CPU and the check, not the rate).  Server CPU per message from
    /proc/PID/stat, the whole process and its main (event loop) thread
    apart, read at the start of each of a server's slices and after
    --settle at the end.  Last, each Maildir: the files in ``new/`` must
    number the 250s received (warm-up included), ``tmp/`` be empty, and
    every file minus its trace fields be the message sent.

(2) POP3.  RETR of a 1 MiB and a 10 MiB message (every 4th line starts with
    ".", so stuffing costs something) from the reference ``Pop3Server``
    (a subprocess), read by postel's ``Pop3Client`` and by ``poplib``; next to
    a floor measured in the same run: a bare asyncio server answering RETR
    with the same octets stuffed once at start-up and written canned (no
    stuffing, no file I/O, no session).  One session per slice (login not
    timed), RETR repeated for the slice, servers alternating; MB/s is
    message octets (10^6) over the time from sending RETR to holding the
    de-stuffed body.  Every body retrieved is compared with the stored one.

Absolute numbers depend on the machine and move from run to run; quote the
ratios, which compare things measured side by side in one run.

    python benchmarks/mail_bench.py            # ~55 s
    python benchmarks/mail_bench.py --quick    # ~15 s
    python benchmarks/mail_bench.py --no-pop3 --seconds 6 --rounds 6
    python benchmarks/mail_bench.py --no-pop3 --no-fsync   # both SMTP servers without fsync
"""

from __future__ import annotations

import argparse
import collections
import poplib
import re
import socket
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

# benchmarks/sidebyside.py (the script's folder is on sys.path): servers in subprocesses, loaded side by side
from sidebyside import SERVE_SCRIPT, Address, CpuLedger, Server, alternating, begin, check_alive, loop_name
from sidebyside import micros, python_script, ratio, run_clients, run_main, start_server

from postel.protocols.errors import ProtocolError
from postel.protocols.mail.maildir import MailStore, Maildir
from postel.protocols.pop3.client import Pop3Client
from postel.protocols.smtp.codec import CLIENT, NEED_DATA, Connection
from postel.protocols.smtp.events import Command, EndOfData, MessageData, Reply
from postel.protocols.smtp.server import split_trace

USER, PASSWORD = "bench", "bench-secret"
MIN_CPU = 0.05  # seconds of server CPU below which /proc's 10 ms ticks say too little

# ---------------------------------------------------------------- the servers' scripts

# Every server script: sidebyside's frame (print "PORT n", stop on SIGTERM or when stdin
# closes, postel.serving.run), after which POSTEL_BENCH_NO_FSYNC=1 (--no-fsync) makes
# os.fsync a no-op, in both SMTP servers alike.
SERVE = SERVE_SCRIPT + r"""
import os
if os.environ.get("POSTEL_BENCH_NO_FSYNC") == "1":
    os.fsync = lambda fd: None
"""


def postel_server_script(module: str, name: str) -> str:
    """A reference server of postel's on its own temporary MailStore.  argv: ROOT USER PASSWORD."""
    return SERVE + f"""
from postel.protocols.mail.maildir import MailStore
from {module} import {name}

async def start():
    server = {name}(MailStore(sys.argv[1], users={{sys.argv[2]: sys.argv[3]}}))
    await server.start()
    return server.address[1], server.close

main(start)
"""


POSTEL_SMTP = postel_server_script("postel.protocols.smtp.server", "SmtpServer")
POSTEL_POP3 = postel_server_script("postel.protocols.pop3.server", "Pop3Server")

# argv: ROOT USER PASSWORD.  What the reference does before its 250, in aiosmtpd's handler API.
AIOSMTPD = SERVE + r"""
import secrets, types
from aiosmtpd.smtp import SMTP
from postel.protocols.mail.maildir import MailStore
from postel.protocols.smtp.server import SmtpServer

HOSTNAME = "postel.test"

class MaildirHandler:
    def __init__(self, store):
        self.store = store
        # Never started: lends its trace() and deliver(), so both servers write the same fields the same way.
        self.reference = SmtpServer(store, hostname=HOSTNAME)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        verdict = self.store.accepts(address.encode())
        if verdict == "foreign":
            return "550 5.7.1 relaying denied"
        if verdict != "local":
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        # The reference's own SmtpServer.trace, fed what its session would hold, and its
        # all-or-none SmtpServer.deliver: one Maildir.deliver per mailbox.
        mail_id = secrets.token_hex(8)
        like_a_session = types.SimpleNamespace(
            reverse_path=envelope.mail_from.encode(),
            helo=session.host_name.encode() if session.host_name else None,
            peer_literal=b"[%s]" % session.peer[0].encode(),
            esmtp=session.extended_smtp,
        )
        message = self.reference.trace(like_a_session, mail_id.encode()) + envelope.original_content
        boxes = [self.store.mailbox(u) for u in dict.fromkeys(self.store.mailbox_for(r.encode()) for r in envelope.rcpt_tos)]
        await asyncio.get_running_loop().run_in_executor(None, self.reference.deliver, boxes, message)
        return "250 2.0.0 OK id " + mail_id

async def start():
    loop = asyncio.get_running_loop()
    handler = MaildirHandler(MailStore(sys.argv[1], users={sys.argv[2]: sys.argv[3]}))
    server = await loop.create_server(lambda: SMTP(handler, hostname=HOSTNAME, loop=loop), "127.0.0.1", 0)
    async def close():
        server.close()
        await server.wait_closed()
    return server.sockets[0].getsockname()[1], close

main(start)
"""

# argv: CANNED-FILE...  (message n's whole RETR answer: status line, stuffed body, ".").
# The least a Python POP3 server can do per RETR.  Not a server anyone should run.
POP3_FLOOR = SERVE + r"""
canned = [open(path, "rb").read() for path in sys.argv[1:]]

class Canned(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
        transport.write(b"+OK floor ready\r\n")
    def data_received(self, data):
        self.buffer += data
        while b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            verb, _, arg = line.partition(b" ")
            verb = verb.upper()
            if verb == b"RETR" and arg.isdigit() and 1 <= int(arg) <= len(canned):
                self.transport.write(canned[int(arg) - 1])
            elif verb == b"QUIT":
                self.transport.write(b"+OK bye\r\n")
                self.transport.close()
                return
            elif verb in (b"USER", b"PASS", b"NOOP"):
                self.transport.write(b"+OK ok\r\n")
            else:
                self.transport.write(b"-ERR not here\r\n")

async def start():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", 0)
    async def close():
        server.close()
    return server.sockets[0].getsockname()[1], close

main(start)
"""


def start_script(stack: ExitStack, name: str, script: str, args: list[str], log: Path, *, no_fsync: bool = False) -> Server:
    """One of the scripts above in a subprocess (sidebyside.start_server), its stderr kept in ``log``."""
    return start_server(stack, name, python_script(script, *args), log=log, env={"POSTEL_BENCH_NO_FSYNC": "1" if no_fsync else "0"})


def stderr_note(server: Server) -> str | None:
    text = server.log.read_text(errors="replace").strip() if server.log is not None and server.log.exists() else ""
    if not text:
        return None
    lines = text.splitlines()
    return f"{server.name} wrote {len(lines)} line(s) to stderr, first: {lines[0][:160]}"


# ---------------------------------------------------------------- (1) SMTP load


def smtp_message() -> bytes:
    """A ~2 KiB message, CRLF lines; some start with "." (stuffed on the wire), one is only ".", one is blank."""
    head = (
        b"From: Bench <bench@client.test>\r\nTo: <bench@postel.test>\r\nSubject: mail_bench\r\n"
        b"Date: Sun, 06 Dec 2026 12:00:00 +0000\r\nMessage-ID: <mail-bench@client.test>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    lines = [b"line %02d of the benchmark message: the quick brown fox jumps over the lazy dog" % i for i in range(26)]
    lines[5], lines[11], lines[17] = b".", b"..two dots", b""
    lines[3] = b"." + lines[3]
    return head + b"\r\n".join(lines) + b"\r\n"


class SessionError(Exception):
    pass


EHLO = Command(b"EHLO", b"client.test")
MAIL = Command(b"MAIL", b"FROM:<bench@client.test>")
RCPT = Command(b"RCPT", b"TO:<bench@postel.test>")
DATA = Command(b"DATA")
QUIT = Command(b"QUIT")


def _reply(sock: socket.socket, codec: Connection) -> Reply:
    while True:
        event = codec.next_event()
        if isinstance(event, Reply):
            return event
        if event is not NEED_DATA:
            raise SessionError(f"server closed ({type(event).__name__})")
        codec.receive_data(sock.recv(65536))  # b"": the codec sees EOF


def _expect(sock: socket.socket, codec: Connection, code: int, what: str) -> None:
    reply = _reply(sock, codec)
    if reply.code != code:
        raise SessionError(f"{reply.code} to {what}")


def smtp_session(address: Address, message: bytes, per_session: int, stop_at: float, timeout: float, acked: list[float]) -> None:
    """One session of up to ``per_session`` messages; appends the monotonic time of each 250 to the final dot."""
    codec = Connection(CLIENT)
    with socket.create_connection(address, timeout=timeout) as sock:
        _expect(sock, codec, 220, "the greeting")
        sock.sendall(codec.send(EHLO))
        _expect(sock, codec, 250, "EHLO")
        for i in range(per_session):
            if i and time.monotonic() >= stop_at:
                break  # the slice is over: no new message, only the QUIT
            sock.sendall(codec.send(MAIL))
            _expect(sock, codec, 250, "MAIL")
            sock.sendall(codec.send(RCPT))
            _expect(sock, codec, 250, "RCPT")
            sock.sendall(codec.send(DATA))
            _expect(sock, codec, 354, "DATA")
            sock.sendall(codec.send(MessageData(message)) + codec.send(EndOfData()))
            _expect(sock, codec, 250, "the final dot")
            acked.append(time.monotonic())
        sock.sendall(codec.send(QUIT))
        _expect(sock, codec, 221, "QUIT")


@dataclass
class SmtpCell:
    ok: int = 0  # 250s to the final dot within the slices
    late: int = 0  # 250s to messages started within a slice, received after it
    errors: collections.Counter = field(default_factory=collections.Counter)
    elapsed: float = 0.0
    wall: float = 0.0
    server_cpu: float | None = 0.0
    loop_cpu: float | None = 0.0
    client_cpu: float = 0.0

    @property
    def per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def cpu_per_message(self, loop: bool = False) -> float | None:
        """Server CPU (the event loop's thread alone with ``loop``) per message acknowledged."""
        done = self.ok + self.late
        cpu = self.loop_cpu if loop else self.server_cpu
        if cpu is None or self.server_cpu is None or self.server_cpu < MIN_CPU or not done:
            return None
        return cpu / done


def smtp_slice(server: Server, clients: int, per_session: int, seconds: float, message: bytes, timeout: float, cell: SmtpCell | None) -> int:
    """``clients`` threads sending for ``seconds``; returns every 250 to a final dot (warm-ups too)."""

    def client(stop_at: float) -> tuple[list[float], collections.Counter]:
        acked: list[float] = []
        errors: collections.Counter = collections.Counter()
        while time.monotonic() < stop_at:
            try:
                smtp_session(server.address, message, per_session, stop_at, timeout, acked)
            except (OSError, SessionError, ProtocolError) as exc:  # a reply the codec refuses is an error, not a message
                errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
        return acked, errors

    # a session started before stop_at ends within its timeouts
    done = run_clients(f"SMTP clients against {server.name}", clients, seconds, client, join_slack=4 * timeout + 10)
    check_alive(server)
    if cell is not None:
        cell.elapsed += seconds
        cell.wall += done.wall
        for acked, errors in done.outcomes:
            within = sum(1 for t in acked if t <= done.stop_at)
            cell.ok += within
            cell.late += len(acked) - within
            cell.errors.update(errors)
        cell.client_cpu += done.client_cpu
    return sum(len(acked) for acked, _ in done.outcomes)


def deliver_cost(root: Path, message: bytes, n: int) -> tuple[float, float]:
    """Median wall seconds and mean CPU seconds of one ``Maildir.deliver`` of ``message`` here, alone."""
    box = Maildir(root)
    spent = []
    cpu = time.thread_time()
    for _ in range(n):
        started = time.perf_counter()
        box.deliver(message)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent), (time.thread_time() - cpu) / n


def check_maildir(root: Path, acked: int, message: bytes) -> str:
    """Nothing lost, nothing half-written, every message intact: a one-line verdict."""
    new = sorted((root / "new").iterdir())
    stray = list((root / "tmp").iterdir()) + list((root / "cur").iterdir())
    bad = sum(1 for path in new if split_trace(path.read_bytes())[1] != message)
    verdict = "ok" if len(new) == acked and not stray and not bad else "MISMATCH"
    if len(new) < acked:
        verdict += f" ({acked - len(new)} acknowledged and LOST)"
    elif len(new) > acked:
        verdict += f" ({len(new) - acked} delivered without a 250 read: see the errors)"
    return f"{verdict}: {len(new)} files in new/, {acked} acknowledged, {len(stray)} in tmp/ and cur/, {bad} not the message sent"


def smtp_part(args: argparse.Namespace, stack: ExitStack, tmp: Path) -> None:
    message = smtp_message()
    print(f"\n(1) SMTP: messages/s accepted (250 to the final dot), a {len(message)}-octet message, raw sockets + postel's SMTP codec")
    try:
        import aiosmtpd
    except ImportError:
        print("    aiosmtpd not installed (make bench installs the 'bench' extra): skipped")
        return
    wall, cpu = deliver_cost(tmp / "deliver-alone", message, 30 if args.quick else 100)
    roots = {"postel": tmp / "smtp-postel", "aiosmtpd": tmp / "smtp-aiosmtpd"}
    servers = (
        start_script(stack, "postel", POSTEL_SMTP, [str(roots["postel"]), USER, PASSWORD], tmp / "postel-smtp.err", no_fsync=args.no_fsync),
        start_script(stack, "aiosmtpd", AIOSMTPD, [str(roots["aiosmtpd"]), USER, PASSWORD], tmp / "aiosmtpd.err", no_fsync=args.no_fsync),
    )
    print(f"    postel: SmtpServer (pid {servers[0].proc.pid}); aiosmtpd {aiosmtpd.__version__} with a Maildir handler (pid {servers[1].proc.pid});"
          f" both on {loop_name()}")
    if args.no_fsync:
        print("    --no-fsync: os.fsync is a no-op in both servers, so neither keeps RFC 5321 6.1's promise; the servers' own cost, not the disk's")
    else:
        print("    both deliver with postel's Maildir.deliver (fsync of the file, then of new/) on the default executor before the 250")
    print(f"    one Maildir.deliver alone, in this process, with fsync: {micros(wall)} wall (median), {micros(cpu)} CPU (mean)")
    rows = [(c, n) for c in args.clients for n in args.per_session]
    slice_seconds = args.seconds / args.rounds
    print(f"    client: threads in this process; {args.seconds:g} s per row and server in {args.rounds} slices of {slice_seconds:.2f} s,"
          f" servers alternating, after {args.warmup:g} s warm-up")
    acked = dict.fromkeys(roots, 0)
    for server in servers:
        acked[server.name] += smtp_slice(server, max(args.clients), max(args.per_session), args.warmup, message, args.timeout, None)
    time.sleep(args.settle)

    ledger = CpuLedger(loop_thread=True)  # the rest is the executor's threads, where both servers run Maildir.deliver
    cells = {(row, s.name): SmtpCell() for row in rows for s in servers}
    for (clients, per_session), server in alternating(args.rounds, rows, servers):
        cell = cells[(clients, per_session), server.name]
        ledger.charge(server, cell)
        acked[server.name] += smtp_slice(server, clients, per_session, slice_seconds, message, args.timeout, cell)
    time.sleep(args.settle)
    for server in servers:
        ledger.charge(server, None)

    names = [s.name for s in servers]
    print(f"    {'':<34}{names[0]:>12}{names[1]:>12}{'postel / aiosmtpd':>22}")
    notes = []
    for clients, per_session in rows:
        a, b = (cells[(clients, per_session), name] for name in names)
        print(f"  {clients} client{'s' if clients != 1 else ''}, {per_session} message{'s' if per_session != 1 else ''} per session")
        print(f"    {'messages/s':<34}{a.per_second:>12.0f}{b.per_second:>12.0f}{ratio(a.per_second, b.per_second):>22}")
        for label, loop in (("server CPU per message", False), ("  of which the event loop's thread", True)):
            x, y = a.cpu_per_message(loop), b.cpu_per_message(loop)
            print(f"    {label:<34}{micros(x):>12}{micros(y):>12}{ratio(x, y):>22}" + ("   (lower is better)" if not loop else ""))
        print(f"    {'errors':<34}{sum(a.errors.values()):>12}{sum(b.errors.values()):>12}")
        share = [c.client_cpu / c.wall if c.wall else 0.0 for c in (a, b)]
        print(f"    {'client CPU, share of one core':<34}{share[0]:>12.0%}{share[1]:>12.0%}")
        for name, cell in zip(names, (a, b)):
            for problem, n in cell.errors.most_common(3):
                notes.append(f"{name}, {clients} clients x {per_session}: {n} x {problem}")
    for server in servers:
        print(f"    {server.name} Maildir: {check_maildir(roots[server.name] / USER, acked[server.name], message)}")
    for server in servers:
        note = stderr_note(server)
        if note:
            notes.append(note)
    for note in notes:
        print(f"    note: {note}")


# ---------------------------------------------------------------- (2) POP3


def pop3_message(size: int, label: bytes) -> bytes:
    """Exactly ``size`` octets, CRLF lines of ~75; every 4th line starts with ".", every 97th is only "."."""
    head = b"From: <bench@client.test>\r\nTo: <bench@postel.test>\r\nSubject: RETR of %d octets\r\nMessage-ID: <%s@client.test>\r\n\r\n" % (size, label)
    parts, total, i = [head], len(head), 0
    while True:
        i += 1
        line = b"%08d the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklm\r\n" % i
        if i % 97 == 0:
            line = b".\r\n"
        elif i % 4 == 0:
            line = b"." + line
        if total + len(line) + 3 > size:
            break
        parts.append(line)
        total += len(line)
    parts.append(b"x" * (size - total - 2) + b"\r\n")
    data = b"".join(parts)
    assert len(data) == size
    return data


def canned_retr(body: bytes) -> bytes:
    stuffed = re.sub(rb"(?m)^\.", b"..", body)  # RFC 1939 3: a line starting with "." gets one more
    return b"+OK %d octets\r\n" % len(body) + stuffed + b".\r\n"


Timings = list[tuple[float, float, bool]]  # per RETR: seconds, client CPU seconds, body == expected


def retr_postel(address: Address, number: int, expected: bytes, deadline: float, timeout: float, max_retr: int) -> Timings:
    """One Pop3Client session: RETR ``number`` until ``deadline`` (at least once, at most ``max_retr`` times)."""
    timings = []
    with Pop3Client(address, timeout=timeout) as client:
        client.login(USER, PASSWORD)
        while not timings or (time.monotonic() < deadline and len(timings) < max_retr):
            cpu, started = time.thread_time(), time.perf_counter()
            body = client.retr(number)
            timings.append((time.perf_counter() - started, time.thread_time() - cpu, body == expected))
            del client.transcript.entries[:]  # the transcript keeps every octet; these are not needed
        client.quit()
    return timings


def retr_poplib(address: Address, number: int, expected: bytes, deadline: float, timeout: float, max_retr: int) -> Timings:
    """The same with Python's poplib; the body is its lines joined with CRLF."""
    timings = []
    client = poplib.POP3(address[0], address[1], timeout=timeout)
    try:
        client.user(USER)
        client.pass_(PASSWORD)
        while not timings or (time.monotonic() < deadline and len(timings) < max_retr):
            cpu, started = time.thread_time(), time.perf_counter()
            _, lines, _ = client.retr(number)
            body = b"\r\n".join(lines) + b"\r\n"
            timings.append((time.perf_counter() - started, time.thread_time() - cpu, body == expected))
        client.quit()
    finally:
        client.close()
    return timings


@dataclass
class RetrCell:
    octets: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    retrievals: int = 0
    wrong: int = 0
    server_cpu: float | None = 0.0
    loop_cpu: float | None = 0.0

    @property
    def mb_per_second(self) -> float:
        return self.octets / self.seconds / 1e6 if self.seconds else 0.0

    def cpu_per_mb(self) -> str:
        """Server CPU per MB; under MIN_CPU in all, /proc's ticks only give an upper bound."""
        if self.server_cpu is None or not self.octets:
            return "-"
        if self.server_cpu < MIN_CPU:
            return "< " + micros(MIN_CPU / (self.octets / 1e6))
        return micros(self.server_cpu / (self.octets / 1e6))


def pop3_part(args: argparse.Namespace, stack: ExitStack, tmp: Path) -> None:
    sizes = [1 << 20, 10 << 20]
    messages = [pop3_message(size, b"retr-%d" % size) for size in sizes]
    lines = messages[0].split(b"\r\n")[:-1]
    dots = sum(1 for line in lines if line.startswith(b"."))
    print(f"\n(2) POP3 RETR: MB/s (10^6 octets of message) of one sequential client, next to a canned floor; {dots * 100 // len(lines)}%"
          " of the lines start with \".\"")
    root = tmp / "pop3"
    box = MailStore(root, users={USER: PASSWORD}).mailbox(USER)
    keys = [box.deliver(message) for message in messages]
    numbers = {size: box.keys().index(key) + 1 for size, key in zip(sizes, keys)}
    canned = []
    for number in range(1, len(messages) + 1):
        path = tmp / f"canned-{number}"
        path.write_bytes(canned_retr(box.read(box.keys()[number - 1])))
        canned.append(str(path))
    servers = (
        start_script(stack, "postel", POSTEL_POP3, [str(root), USER, PASSWORD], tmp / "postel-pop3.err"),
        start_script(stack, "floor", POP3_FLOOR, canned, tmp / "pop3-floor.err"),
    )
    readers = {"Pop3Client": retr_postel, "poplib": retr_poplib}
    slice_seconds = args.pop3_seconds / args.rounds
    print(f"    postel: Pop3Server (pid {servers[0].proc.pid}); floor: bare asyncio, the stuffed answer written canned (pid {servers[1].proc.pid});"
          f" {args.pop3_seconds:g} s per cell in {args.rounds} slices, servers alternating")
    for server in servers:  # warm-up: imports, page cache
        for reader in readers.values():
            reader(server.address, numbers[sizes[0]], messages[0], 0.0, args.timeout, 1)

    ledger = CpuLedger(loop_thread=True)
    cells = {(size, reader, s.name): RetrCell() for size in sizes for reader in readers for s in servers}
    for (size, reader), server in alternating(args.rounds, [(s, r) for s in sizes for r in readers], servers):
        expected = messages[sizes.index(size)]
        cell = cells[size, reader, server.name]
        ledger.charge(server, cell)
        timings = readers[reader](server.address, numbers[size], expected, time.monotonic() + slice_seconds, args.timeout, 500)
        check_alive(server)
        cell.retrievals += len(timings)
        cell.octets += size * len(timings)
        cell.seconds += sum(t for t, _, _ in timings)
        cell.client_cpu += sum(c for _, c, _ in timings)
        cell.wrong += sum(1 for _, _, same in timings if not same)
    time.sleep(args.settle)
    for server in servers:
        ledger.charge(server, None)

    print(f"    {'':<24}{'postel':>10}{'floor':>10}{'postel / floor':>16}{'server CPU per MB':>22}{'client CPU share':>20}")
    wrong = 0
    for size in sizes:
        for reader in readers:
            a, b = cells[size, reader, "postel"], cells[size, reader, "floor"]
            wrong += a.wrong + b.wrong
            label = f"{size >> 20} MiB, {reader}"
            cpu = f"{a.cpu_per_mb()} / {b.cpu_per_mb()}"
            share = f"{a.client_cpu / a.seconds:.0%} / {b.client_cpu / b.seconds:.0%}" if a.seconds and b.seconds else "-"
            print(f"    {label:<24}{a.mb_per_second:>10.1f}{b.mb_per_second:>10.1f}{ratio(a.mb_per_second, b.mb_per_second):>16}{cpu:>22}{share:>20}")
    total = sum(c.retrievals for c in cells.values())
    print("    (server CPU and client CPU share: postel / floor)")
    print(f"    bodies: {'ok' if not wrong else 'MISMATCH'}: {total - wrong} of {total} retrieved bodies equal the stored message")
    for server in servers:
        note = stderr_note(server)
        if note:
            print(f"    note: {note}")


# ---------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated positive integers, please")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="shorter cells and 2 rounds (~15 s in all)")
    parser.add_argument("--seconds", type=float, default=None, help="SMTP: measured seconds per (row, server) (default 3.5; --quick 0.75)")
    parser.add_argument("--pop3-seconds", type=float, default=None, help="POP3: measured seconds per (size, client, server) (default 1.5; --quick 0.4)")
    parser.add_argument("--rounds", type=int, default=None, help="slices each cell is split into, servers alternating (default 4; --quick 2)")
    parser.add_argument("--clients", type=_ints, default=[1, 8], help="SMTP client threads, comma-separated (default 1,8)")
    parser.add_argument("--per-session", type=_ints, default=[1, 10], help="SMTP messages per session, comma-separated (default 1,10)")
    parser.add_argument("--warmup", type=float, default=None, help="SMTP seconds of untimed load per server first (default 0.5; --quick 0.2)")
    parser.add_argument("--settle", type=float, default=None, help="idle seconds before the last CPU reading (default 1; --quick 0.5)")
    parser.add_argument("--timeout", type=float, default=10.0, help="socket timeout of every client operation (default %(default)s)")
    parser.add_argument("--no-fsync", action="store_true", help="SMTP: os.fsync a no-op in both servers (their own cost without the disk's)")
    parser.add_argument("--no-smtp", action="store_true", help="skip part (1)")
    parser.add_argument("--no-pop3", action="store_true", help="skip part (2)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (0.75 if quick else 3.5)
    args.pop3_seconds = args.pop3_seconds or (0.4 if quick else 1.5)
    args.rounds = args.rounds or (2 if quick else 4)
    args.warmup = args.warmup if args.warmup is not None else (0.2 if quick else 0.5)
    args.settle = args.settle if args.settle is not None else (0.5 if quick else 1.0)
    if args.seconds <= 0 or args.pop3_seconds <= 0 or args.rounds < 1:
        parser.error("--seconds and --pop3-seconds must be > 0, --rounds >= 1")

    started = begin("mail")
    with ExitStack() as stack:
        # The Maildirs go under $TMPDIR: fsync costs what that file system makes it cost.
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="postel-mail-bench-")))
        for skip, part in ((args.no_smtp, smtp_part), (args.no_pop3, pop3_part)):
            if skip:
                continue
            part_started = time.perf_counter()
            with ExitStack() as part_stack:  # this part's servers stop before the next part starts
                part(args, part_stack, tmp)
            print(f"    ({time.perf_counter() - part_started:.1f} s)")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    run_main(main)
