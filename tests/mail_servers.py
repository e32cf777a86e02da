"""postfix (SMTP) and dovecot (POP3) from Debian, started for one test module as a mail pair.

Why these two: the SMTP and POP3 suites were written against postel's own
reference servers, and a harness that only meets its own servers can share
their misreadings of the RFCs.  postfix and dovecot are the most widely
deployed independent readings of RFC 5321 and RFC 1939/2449.

What the pair is: postfix accepts mail for one domain (``postel.test``) on
``127.0.0.1:SMTP_PORT`` and its ``virtual(8)`` agent delivers it into a Maildir
under a temporary folder; dovecot serves that Maildir over POP3 on
``127.0.0.1:POP3_PORT`` to one user with a random password.  A message sent
over SMTP can then be followed to POP3, as with the embedded reference pair.

How postfix is started, and why that way:

- ``master -c CONFIG_DIR -d``, run directly (not ``postfix start``, whose
  ``postfix-script`` would also run ``post-install`` against the system's
  ``/etc/postfix``): ``-d`` keeps master in the foreground with its stderr, so
  the PID of our ``Popen`` is master, and SIGTERM to it stops every postfix
  process (master signals its process group; it runs in a session of its own).
- Everything it writes is in the temporary folder: ``main.cf``/``master.cf``
  (``CONFIG_DIR``), the queue (``queue_directory``: the directories
  ``post-install`` would make, with its owners and modes), ``data_directory``
  and the log.  There is no syslog here, so ``maillog_file`` (postlogd) writes
  the log into the folder; ``maillog_file_prefixes`` must allow that path, or
  master exits with status 1 and no word anywhere.
- ``master.cf`` lists only the services a virtual-delivery MTA needs, none
  chrooted (a chroot would need copies of /etc files), and one ``inet``
  service: smtpd on ``127.0.0.1:PORT``.
- Relay: ``mynetworks`` is empty and ``smtpd_relay_restrictions =
  reject_unauth_destination``, so a client on 127.0.0.1 is a stranger like
  any other: mail for ``postel.test`` is accepted, mail for any other domain
  refused (postfix's ``relay_domains_reject_code``, 554 by default).  The
  default, ``permit_mynetworks, ... defer_unauth_destination``, would relay
  for 127.0.0.1, and answer 4xx (try again) to strangers.
- Local mail: ``mydestination`` is empty and the domain is a
  ``virtual_mailbox_domains`` with one address in ``virtual_mailbox_maps``
  (``texthash:``, so no ``postmap``); no system user is needed, the Maildir is
  owned by ``nobody`` (``virtual_uid_maps``), whom dovecot serves it as.
- Otherwise postfix's defaults (``compatibility_level = 3.6``), on purpose:
  the suites judge postfix as it ships.

How dovecot is started: ``dovecot -F -c FILE``, one configuration file that
includes nothing from ``/etc/dovecot``; ``base_dir`` (its sockets and pid),
``state_dir`` and the log are in the temporary folder, ``instance_name`` is
unique.  ``protocols = pop3``, one listener on ``127.0.0.1:PORT``, ``ssl = no``
and ``disable_plaintext_auth = no`` (dovecot 2.3's name; 2.4 calls it
``auth_allow_cleartext = yes``): USER/PASS in clear on loopback.  The user
comes from a ``passwd-file`` (passdb and userdb) with uid/gid ``nobody``;
``first_valid_uid`` lets that uid log in.  POP3 settings are dovecot's
defaults (``pop3_lock_session = no`` among them): the suites judge them.

Both must run as root (postfix's master refuses anything else, and dovecot
needs it to switch to the mail user): :func:`mail_pair_unavailable` says why
not, for a skip.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.daemons import DaemonError, start_on_free_port, stop, tail

__all__ = [
    "DOMAIN",
    "HELO",
    "RELAY_RECIPIENT",
    "SENDER",
    "USER",
    "MailPairError",
    "MailServers",
    "deliver",
    "dovecot_version",
    "find_dovecot",
    "find_postfix_master",
    "mail_pair",
    "mail_pair_unavailable",
    "pop3_target_options",
    "postfix_version",
    "render_dovecot_config",
    "render_postfix_main",
    "render_postfix_master",
    "smtp_target_options",
]

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
LIBEXEC_DIRS = ("/usr/lib/dovecot", "/usr/libexec/dovecot", "/usr/local/libexec/dovecot")
HOST = "127.0.0.1"
DOMAIN = "postel.test"
USER = "postel"
MAIL_ACCOUNT = "nobody"  # owns the Maildir: postfix's virtual agent writes as it, dovecot reads as it
SENDER = "postel-suite@client.postel.test"
RELAY_RECIPIENT = "postel-relay-probe@example.com"  # RFC 2606: never one of ours
HELO = "client.postel.test"
READ_LIMIT = 4096  # octets of a greeting we read while waiting for a server

# The queue directories post-install makes (/etc/postfix/postfix-files): name -> (owner, group, mode).
# "postfix" and "postdrop" stand for mail_owner and setgid_group.
QUEUE_DIRECTORIES = {
    **{name: ("postfix", None, 0o700) for name in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace")},
    "maildrop": ("postfix", "postdrop", 0o730),
    "public": ("postfix", "postdrop", 0o710),
    "pid": ("root", None, 0o755),
}

# master.cf: the services a virtual-delivery MTA uses, none chrooted (column 5 "n").
POSTFIX_SERVICES = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class MailPairError(DaemonError):
    """postfix or dovecot is installed but did not come up; the message has its log."""


@dataclass(frozen=True)
class MailServers:
    """A running postfix + dovecot pair: where each listens, the account, and the Maildir between them."""

    folder: Path  # everything both servers write
    smtp_port: int
    pop3_port: int
    user: str
    password: str = field(repr=False)  # never in a test report
    maildir: Path  # USER's Maildir: postfix delivers into it, dovecot serves it
    postfix_pid: int  # master
    dovecot_pid: int  # dovecot's master

    @property
    def recipient(self) -> str:
        return f"{self.user}@{DOMAIN}"

    @property
    def smtp_url(self) -> str:
        return f"smtp://{HOST}:{self.smtp_port}/"

    @property
    def pop3_url(self) -> str:
        return f"pop3://{self.user}:{self.password}@{HOST}:{self.pop3_port}/"

    @property
    def postfix_log(self) -> Path:
        return self.folder / "postfix" / "maillog"

    @property
    def dovecot_log(self) -> Path:
        return self.folder / "dovecot" / "dovecot.log"


def smtp_target_options(servers: MailServers) -> dict[str, str]:
    """The ``--target-option``s of the SMTP suites (suites/smtp/checks.py) for postfix."""
    return {
        "sender": SENDER,
        "recipient": servers.recipient,
        "relay_recipient": RELAY_RECIPIENT,
        "maildir": str(servers.maildir),
        "helo": HELO,
    }


def pop3_target_options(servers: MailServers) -> dict[str, str]:
    """The ``--target-option``s of the POP3 suites (suites/pop3/messages.py): deliver through postfix."""
    return {"smtp": servers.smtp_url, "recipient": servers.recipient}


# ---------------------------------------------------------------- finding the programs


def _find(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))


def _postconf_default(name: str) -> str | None:
    """A compiled-in default of postfix (``postconf -d``), read without /etc/postfix; None without postfix."""
    postconf = _find("postconf")
    if postconf is None:
        return None
    # postconf reads the config directory's main.cf and master.cf: empty ones leave the defaults.
    with tempfile.TemporaryDirectory(prefix="postel-postconf-") as empty:
        Path(empty, "main.cf").touch()
        Path(empty, "master.cf").touch()
        out = subprocess.run([postconf, "-c", empty, "-dh", name], capture_output=True, text=True, timeout=10)
    return out.stdout.strip() or None


def find_postfix_master() -> str | None:
    """postfix's ``master`` (in ``daemon_directory``, not on PATH), or None when postfix is not installed."""
    folder = _postconf_default("daemon_directory")
    master = Path(folder) / "master" if folder else None
    return str(master) if master and os.access(master, os.X_OK) else None


def find_dovecot() -> str | None:
    return _find("dovecot")


def postfix_version() -> str:
    """``postfix 3.7.11`` (the compiled-in ``mail_version``)."""
    return f"postfix {_postconf_default('mail_version') or '(not installed)'}"


def dovecot_version(binary: str | None = None) -> str:
    """``dovecot 2.3.19.1 (9b53102964)``."""
    binary = binary or find_dovecot()
    if binary is None:
        return "dovecot (not installed)"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    return f"dovecot {out.stdout.strip()}"


def _has_pop3() -> bool:
    """dovecot-pop3d installed: dovecot-core alone has no ``pop3`` program (Debian: /usr/lib/dovecot; others: libexec)."""
    return any(Path(folder, "pop3").exists() for folder in LIBEXEC_DIRS)


def mail_pair_unavailable() -> str | None:
    """Why the pair cannot run here (for a skip), or None when it can."""
    missing = []
    if find_postfix_master() is None:
        missing.append("postfix")
    dovecot = find_dovecot()
    if dovecot is None or not _has_pop3():
        missing.append("dovecot-pop3d")
    if missing:
        return f"{' and '.join(missing)} not installed (Debian/Ubuntu: apt-get install {' '.join(missing)})"
    if os.geteuid() != 0:
        return "postfix's master and dovecot must be started as root, and this test runs as another user"
    for name, lookup in (("user postfix", pwd.getpwnam), ("group postdrop", grp.getgrnam), (f"user {MAIL_ACCOUNT}", pwd.getpwnam), ("user dovecot", pwd.getpwnam), ("user dovenull", pwd.getpwnam)):
        try:
            lookup(name.split()[1])
        except KeyError:
            return f"there is no {name} (the Debian packages create it)"
    return None


# ---------------------------------------------------------------- configuration


def render_postfix_main(folder: Path, mail_root: Path, virtual_map: Path, uid: int, gid: int, settings: Mapping[str, str] = {}) -> str:
    """main.cf: mail for DOMAIN into ``mail_root``, no relay, all state in ``folder``; ``settings`` added at the end."""
    return (
        "# generated by tests/mail_servers.py\n"
        "compatibility_level = 3.6\n"
        f"queue_directory = {folder / 'queue'}\n"
        f"data_directory = {folder / 'data'}\n"
        f"maillog_file = {folder / 'maillog'}\n"
        f"maillog_file_prefixes = {folder}\n"
        f"myhostname = mx.{DOMAIN}\n"
        f"mydomain = {DOMAIN}\n"
        f"myorigin = {DOMAIN}\n"
        "inet_interfaces = loopback-only\n"
        "inet_protocols = ipv4\n"
        "# No network is trusted, 127.0.0.1 included: relaying is refused to the suites' client.\n"
        "mynetworks =\n"
        "smtpd_relay_restrictions = reject_unauth_destination\n"
        "# No local(8) delivery, no aliases: the domain is virtual, so no system user is needed.\n"
        "mydestination =\n"
        "local_recipient_maps =\n"
        "alias_maps =\n"
        "alias_database =\n"
        f"virtual_mailbox_domains = {DOMAIN}\n"
        f"virtual_mailbox_base = {mail_root}\n"
        f"virtual_mailbox_maps = texthash:{virtual_map}\n"
        f"virtual_uid_maps = static:{uid}\n"
        f"virtual_gid_maps = static:{gid}\n"
        "biff = no\n"
        + "".join(f"{name} = {value}\n" for name, value in settings.items())
    )


def render_postfix_master(port: int, host: str = HOST) -> str:
    """master.cf: smtpd on ``host:port`` and the services behind it."""
    return f"# generated by tests/mail_servers.py\n{host}:{port} inet n - n - - smtpd\n{POSTFIX_SERVICES}"


def render_dovecot_config(folder: Path, users: Path, port: int, uid: int, host: str = HOST, settings: Mapping[str, str] = {}) -> str:
    """dovecot.conf: POP3 only, on ``host:port``, for the users in ``users``, all state in ``folder``; ``settings`` added."""
    return (
        "# generated by tests/mail_servers.py\n"
        f"instance_name = postel-{folder.parent.name}\n"
        f"base_dir = {folder / 'run'}\n"
        f"state_dir = {folder / 'state'}\n"
        f"log_path = {folder / 'dovecot.log'}\n"
        f"info_log_path = {folder / 'dovecot.log'}\n"
        "protocols = pop3\n"
        f"listen = {host}\n"
        "ssl = no\n"
        "# USER/PASS in clear on loopback (dovecot 2.4: auth_allow_cleartext = yes).\n"
        "disable_plaintext_auth = no\n"
        "mail_location = maildir:~\n"  # the home of the passwd-file entry: postfix's Maildir for the user

        f"first_valid_uid = {uid}\n"
        f"last_valid_uid = {uid}\n"
        "passdb {\n"
        "  driver = passwd-file\n"
        f"  args = scheme=PLAIN username_format=%n {users}\n"
        "}\n"
        "userdb {\n"
        "  driver = passwd-file\n"
        f"  args = username_format=%n {users}\n"
        "}\n"
        "service pop3-login {\n"
        "  inet_listener pop3 {\n"
        f"    address = {host}\n"
        f"    port = {port}\n"
        "  }\n"
        "  inet_listener pop3s {\n"
        "    port = 0\n"
        "  }\n"
        "}\n"
        + "".join(f"{name} = {value}\n" for name, value in settings.items())
    )


# ---------------------------------------------------------------- the folder


def _make_mail_root(folder: Path, uid: int, gid: int) -> tuple[Path, Path]:
    """``folder/mail/DOMAIN/USER/{tmp,new,cur}``, owned by the mail account; returns (mail root, Maildir)."""
    root = folder / "mail"
    maildir = root / DOMAIN / USER
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    for path in (root, root / DOMAIN, maildir, *(maildir / sub for sub in ("tmp", "new", "cur"))):
        os.chown(path, uid, gid)
        path.chmod(0o755)
    return root, maildir


def _make_postfix_folder(folder: Path) -> None:
    """config, queue and data directories with post-install's owners and modes."""
    postfix = pwd.getpwnam("postfix")
    postdrop = grp.getgrnam("postdrop").gr_gid
    folder.mkdir(mode=0o755)
    (folder / "etc").mkdir(mode=0o755)
    queue = folder / "queue"
    queue.mkdir(mode=0o755)
    for name, (owner, group, mode) in QUEUE_DIRECTORIES.items():
        path = queue / name
        path.mkdir()
        uid = postfix.pw_uid if owner == "postfix" else 0
        gid = postdrop if group == "postdrop" else (postfix.pw_gid if owner == "postfix" else 0)
        os.chown(path, uid, gid)
        path.chmod(mode)
    data = folder / "data"
    data.mkdir(mode=0o700)
    os.chown(data, postfix.pw_uid, postfix.pw_gid)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- starting and waiting


@contextmanager
def _postfix(
    folder: Path, mail_root: Path, uid: int, gid: int, master: str, timeout: float, settings: Mapping[str, str]
) -> Iterator[tuple[subprocess.Popen, int]]:
    _make_postfix_folder(folder)
    virtual_map = folder / "etc" / "vmailbox"
    virtual_map.write_text(f"{USER}@{DOMAIN} {DOMAIN}/{USER}/\n")  # the trailing "/" means Maildir
    (folder / "etc" / "main.cf").write_text(render_postfix_main(folder, mail_root, virtual_map, uid, gid, settings))
    log, out = folder / "maillog", folder / "master.out"

    def launch(port: int, attempt: int) -> subprocess.Popen:
        (folder / "etc" / "master.cf").write_text(render_postfix_master(port))
        log.unlink(missing_ok=True)  # a retry must not read the last attempt's "Address already in use"
        with open(out, "wb") as sink:
            return subprocess.Popen(
                [master, "-c", str(folder / "etc"), "-d"], cwd=folder, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )

    with _greeting_daemon(f"postfix ({master})", launch, b"220 ", timeout, (log, out), folder / "etc" / "main.cf") as served:
        yield served


@contextmanager
def _dovecot(
    folder: Path, mail_root: Path, uid: int, gid: int, password: str, binary: str, timeout: float, settings: Mapping[str, str]
) -> Iterator[tuple[subprocess.Popen, int]]:
    folder.mkdir(mode=0o755)
    users = folder / "users"
    # passwd-file: user:password:uid:gid:gecos:home:shell:extra
    users.write_text(f"{USER}:{{PLAIN}}{password}:{uid}:{gid}::{mail_root / DOMAIN / USER}::\n")
    # dovecot's auth process reads it as default_internal_user "dovecot"; nobody else may (the password).
    os.chown(users, 0, pwd.getpwnam("dovecot").pw_gid)
    users.chmod(0o640)
    conf, log, out = folder / "dovecot.conf", folder / "dovecot.log", folder / "dovecot.out"

    def launch(port: int, attempt: int) -> subprocess.Popen:
        conf.write_text(render_dovecot_config(folder, users, port, uid, settings=settings))
        log.unlink(missing_ok=True)  # a retry must not read the last attempt's "Address already in use"
        with open(out, "wb") as sink:
            return subprocess.Popen(
                [binary, "-F", "-c", str(conf)], cwd=folder, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )

    with _greeting_daemon(f"dovecot ({binary})", launch, b"+OK", timeout, (log, out), conf) as served:
        yield served


@contextmanager
def _greeting_daemon(
    what: str, launch: Callable[[int, int], subprocess.Popen], greeting: bytes, timeout: float, logs: tuple[Path, ...], config: Path
) -> Iterator[tuple[subprocess.Popen, int]]:
    """``launch`` a mail daemon on a free port until it greets with ``greeting``; stopped on the way out.

    A start that fails says what the daemon logged and the ``config`` it was given.
    """
    proc, port = start_on_free_port(
        what,
        lambda: _free_port(HOST),
        launch,
        lambda proc, port: _wait_for_greeting(proc, port, greeting, b"QUIT\r\n", timeout, logs),
        lambda port: f"\n{config.name}:\n{config.read_text()}",
        MailPairError,
    )
    try:
        yield proc, port
    finally:
        stop(proc)


def _wait_for_greeting(proc: subprocess.Popen, port: int, greeting: bytes, goodbye: bytes, timeout: float, logs: tuple[Path, ...]) -> str:
    """'' once the server greets with ``greeting`` on ``HOST:port``; otherwise what went wrong (with its logs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            # postfix's master logs a failed bind only to syslog (its postlogd is not up yet): ask the port.
            taken = "Address already in use (another process has the port)\n" if _port_taken(port) else ""
            return f"{taken}exited with status {proc.returncode}\n" + "".join(tail(log) for log in logs)
        for log in logs:  # both write "Address already in use" and go on running until told to stop
            if log.exists() and "Address already in use" in log.read_text(errors="replace"):
                return "Address already in use\n" + "".join(tail(log) for log in logs)
        try:
            sock = socket.create_connection((HOST, port), timeout=1.0)
        except OSError:
            time.sleep(0.05)  # not accepting yet: try again
            continue
        with sock:
            line = _read_line(sock, deadline)
            if line.startswith(greeting):
                try:
                    sock.sendall(goodbye)
                    _read_line(sock, deadline)
                except OSError:
                    pass
                return ""
        time.sleep(0.05)
    return f"no {greeting.decode().strip()!r} greeting within {timeout:g}s\n" + "".join(tail(log) for log in logs)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < READ_LIMIT:
        sock.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
        try:
            chunk = sock.recv(READ_LIMIT)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def mail_pair(
    *, postfix_settings: Mapping[str, str] = {}, dovecot_settings: Mapping[str, str] = {}, startup_timeout: float = 15.0
) -> Iterator[MailServers]:
    """Run postfix and dovecot on free high ports of 127.0.0.1, sharing one Maildir; yields :class:`MailServers`.

    ``postfix_settings`` and ``dovecot_settings`` are added to the end of
    main.cf and dovecot.conf (to show that a deviation is a configuration default).

    Raises :class:`MailPairError` (with the server's log) when one does not come
    up; call :func:`mail_pair_unavailable` first for a skip reason.  Both are
    stopped on exit: SIGTERM, then SIGKILL to their process groups after 5 s.
    """
    reason = mail_pair_unavailable()
    if reason is not None:
        raise MailPairError(reason)
    master, dovecot = find_postfix_master(), find_dovecot()
    assert master is not None and dovecot is not None
    account = pwd.getpwnam(MAIL_ACCOUNT)
    uid, gid = account.pw_uid, account.pw_gid
    password = secrets.token_hex(12)  # hex: safe in a URL's userinfo and in passwd-file's colon-separated fields
    with tempfile.TemporaryDirectory(prefix="postel-postfix-dovecot-", ignore_cleanup_errors=True) as tmp, ExitStack() as stack:
        folder = Path(tmp)
        folder.chmod(0o755)  # postfix's daemons (user postfix) and dovecot's (dovenull, nobody) must get through
        mail_root, maildir = _make_mail_root(folder, uid, gid)
        postfix, smtp_port = stack.enter_context(_postfix(folder / "postfix", mail_root, uid, gid, master, startup_timeout, postfix_settings))
        dovecot_proc, pop3_port = stack.enter_context(_dovecot(folder / "dovecot", mail_root, uid, gid, password, dovecot, startup_timeout, dovecot_settings))
        yield MailServers(folder, smtp_port, pop3_port, USER, password, maildir, postfix.pid, dovecot_proc.pid)


def deliver(servers: MailServers, messages: Iterable[bytes], *, timeout: float = 30.0) -> None:
    """Send ``messages`` to the user through postfix (one session), and wait until the Maildir holds them all.

    postfix answers 250 once the message is in its queue; virtual(8) writes it
    into the Maildir a moment later, so a reader must wait for it.
    """
    messages = list(messages)
    before = _count(servers.maildir)
    with smtplib.SMTP(HOST, servers.smtp_port, local_hostname=HELO, timeout=10) as client:
        for message in messages:
            refused = client.sendmail(SENDER, [servers.recipient], message)
            assert not refused, refused
    deadline = time.monotonic() + timeout
    while _count(servers.maildir) < before + len(messages):
        if time.monotonic() > deadline:
            raise MailPairError(f"{len(messages)} messages sent, {_count(servers.maildir) - before} delivered after {timeout:g}s\n{tail(servers.postfix_log)}")
        time.sleep(0.05)


def _count(maildir: Path) -> int:
    return sum(1 for sub in ("new", "cur") for _ in (maildir / sub).iterdir())
