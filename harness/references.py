"""Which reference server serves which protocol, started on demand.

One entry per protocol; a protocol's services share one server (the time
server answers both ``time`` over TCP and ``time+udp``).  Adding a protocol is
one entry in ``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from postel.serving import AsyncServer, ServerThread
from postel.target import Target, reference_target

__all__ = ["ReferenceServers"]


def _time_server(options: Mapping[str, str]) -> AsyncServer:
    from postel.protocols.time.server import TimeServer

    return TimeServer()


# The embedded HTTP server drops a request head that takes longer than this: short, so the
# slowloris check (which waits for the drop) does not dominate the run; postel serve keeps 10 s.
HTTP_HEAD_TIMEOUT = 4.0


def _http_server(options: Mapping[str, str]) -> AsyncServer:
    import tempfile
    from pathlib import Path

    from postel.protocols.http.server import HttpServer
    from postel.protocols.http.site import make_sample_site

    # A fresh folder per server: the site, and beside it the file a traversal would reach.
    folder = Path(tempfile.mkdtemp(prefix="postel-http-"))
    return HttpServer(root=make_sample_site(folder / "root"), remove_on_close=folder, head_timeout=HTTP_HEAD_TIMEOUT)


class ReferenceMail:
    """The mail both embedded mail servers share: SMTP delivers into the Maildir POP3 serves.

    One per pytest process (per xdist worker), in a temporary folder, with one
    mailbox (``MAILBOX``) whose POP3 password is random per run, seeded with
    the sample messages the POP3 suites need.
    """

    MAILBOX = "postel"
    DOMAIN = "postel.test"

    def __init__(self) -> None:
        import secrets
        import tempfile
        from pathlib import Path

        from postel.protocols.mail.maildir import MailStore
        from postel.protocols.mail.samples import seed

        self.folder = Path(tempfile.mkdtemp(prefix="postel-mail-"))
        self.password = "pw-" + secrets.token_urlsafe(12)
        self.store = MailStore(self.folder, domains=(self.DOMAIN,), users={self.MAILBOX: self.password})
        seed(self.store.mailbox(self.MAILBOX))

    @property
    def address(self) -> str:
        return f"{self.MAILBOX}@{self.DOMAIN}"

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def _smtp_server(options: Mapping[str, str], mail: ReferenceMail) -> AsyncServer:
    from postel.protocols.smtp.server import SmtpServer

    return SmtpServer(mail.store, hostname=mail.DOMAIN)


def _pop3_server(options: Mapping[str, str], mail: ReferenceMail) -> AsyncServer:
    from postel.protocols.pop3.server import Pop3Server

    return Pop3Server(mail.store, hostname=mail.DOMAIN)


_FACTORIES: dict[str, Callable[[Mapping[str, str]], AsyncServer]] = {
    "time": _time_server,
    "http": _http_server,
}
_MAIL_FACTORIES: dict[str, Callable[[Mapping[str, str], ReferenceMail], AsyncServer]] = {
    "smtp": _smtp_server,
    "pop3": _pop3_server,
}


def _address(protocol: str, server: AsyncServer, transport: str) -> tuple[str, int]:
    if protocol == "time":
        address = server.udp_address if transport == "udp" else server.tcp_address  # type: ignore[attr-defined]
        assert address is not None
        return address
    return server.address  # type: ignore[attr-defined]


def implemented_protocols() -> tuple[str, ...]:
    return (*_FACTORIES, *_MAIL_FACTORIES)


class ReferenceServers:
    """The reference servers of one pytest process, started on first use, stopped at the end."""

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        self.options = dict(options or {})
        self._running: dict[str, ServerThread] = {}
        self._mail: ReferenceMail | None = None

    def target(self, service: str) -> Target:
        """The reference target for ``service``, bound to where its server listens."""
        target = reference_target(service)
        thread = self.thread(target.protocol)
        host, port = _address(target.protocol, thread.server, target.transport)
        target = target.with_address(host, port)
        if target.protocol in _MAIL_FACTORIES:
            target = self._mail_target(target)
        return target.with_options(self.options)

    def _mail_target(self, target: Target) -> Target:
        """What a suite must know of the embedded mail pair: the mailbox, and how mail reaches it."""
        import dataclasses

        mail = self.mail
        if target.protocol == "smtp":
            # The recipient's Maildir lets the SMTP suites read a delivered message back.
            options = {"recipient": mail.address, "maildir": str(mail.store.mailbox(mail.MAILBOX).path)}
            return target.with_options(options)
        smtp_host, smtp_port = self.thread("smtp").server.address  # type: ignore[attr-defined]
        options = {"smtp": f"smtp://{smtp_host}:{smtp_port}", "recipient": mail.address}
        return dataclasses.replace(target, user=mail.MAILBOX, password=mail.password).with_options(options)

    @property
    def mail(self) -> ReferenceMail:
        if self._mail is None:
            self._mail = ReferenceMail()
        return self._mail

    def thread(self, protocol: str) -> ServerThread:
        if protocol not in self._running:
            if protocol in _MAIL_FACTORIES:
                server = _MAIL_FACTORIES[protocol](self.options, self.mail)
            elif protocol in _FACTORIES:
                server = _FACTORIES[protocol](self.options)
            else:
                raise LookupError(f"no reference server for {protocol!r} yet")
            self._running[protocol] = ServerThread(server, protocol).start()
        return self._running[protocol]

    def check(self) -> None:
        for thread in self._running.values():
            thread.check()

    def stop(self) -> None:
        for thread in self._running.values():
            thread.stop()
        self._running.clear()
        if self._mail is not None:
            self._mail.remove()
            self._mail = None
