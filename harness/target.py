"""Targets: what a run talks to, parsed from a URL.

``scheme://[user[:password]@]host[:port][/path]`` (DESIGN.md, "Targets").  No URL,
or the word ``reference``, means the embedded reference server of each protocol.

Credentials are kept out of every printed form: ``repr``, ``str`` and
:meth:`Target.redacted_url` show ``***``; only :attr:`Target.password` holds the
secret, and :meth:`Target.secrets` lists what transcripts and reports must mask.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["SCHEMES", "SERVICES", "Scheme", "Target", "TargetError", "parse_target", "reference_target", "with_environment_password"]

REFERENCE = "reference"


class TargetError(ValueError):
    """A target URL that cannot be used; the message is one line a user can act on."""


@dataclass(frozen=True)
class Scheme:
    name: str
    protocol: str  # the suites folder: suites/<protocol>/
    transport: str  # "tcp" | "udp"
    default_port: int
    credentials: bool  # whether user:password may appear in the URL
    rfc: str  # where the scheme or its port is defined


# One row per scheme of DESIGN.md.  HTTP URLs do not carry credentials:
# RFC 9110 section 4.2.4 deprecates userinfo in http URIs.
SCHEMES: Mapping[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("time", "time", "tcp", 37, False, "RFC 868"),
        Scheme("time+udp", "time", "udp", 37, False, "RFC 868"),
        Scheme("http", "http", "tcp", 80, False, "RFC 9110 section 4.2.1"),
        Scheme("ftp", "ftp", "tcp", 21, True, "RFC 1738 section 3.2"),
        Scheme("pop3", "pop3", "tcp", 110, True, "RFC 2384"),
        Scheme("pop", "pop3", "tcp", 110, True, "RFC 2384"),
        Scheme("smtp", "smtp", "tcp", 25, True, "RFC 5321"),
        Scheme("nntp", "nntp", "tcp", 119, True, "RFC 5538 section 2.2"),
    )
}

# A "service" is what one suite folder + transport tests: the unit a test is
# selected or deselected by.  ``pop`` is an alias, so it adds no service.
SERVICES: tuple[str, ...] = ("time", "time+udp", "http", "ftp", "pop3", "smtp", "nntp")


def service_of(scheme: Scheme) -> str:
    return "pop3" if scheme.protocol == "pop3" else scheme.name


@dataclass(frozen=True)
class Target:
    """One server under test, or the embedded reference (``host is None``)."""

    scheme: str
    host: str | None = None
    port: int | None = None
    path: str = ""
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False, compare=False)
    auth: str | None = None  # RFC 2384 ";auth=" mechanism for pop URLs
    options: Mapping[str, str] = field(default_factory=dict, compare=False)
    reference: bool = False  # an embedded reference server (host/port set once it listens)

    @property
    def spec(self) -> Scheme:
        return SCHEMES[self.scheme]

    @property
    def protocol(self) -> str:
        return self.spec.protocol

    @property
    def transport(self) -> str:
        return self.spec.transport

    @property
    def service(self) -> str:
        return service_of(self.spec)

    @property
    def is_reference(self) -> bool:
        return self.reference or self.host is None

    @property
    def address(self) -> tuple[str, int]:
        if self.host is None or self.port is None:
            raise TargetError(f"{self.redacted_url()} has no address until its reference server starts")
        return (self.host, self.port)

    def with_address(self, host: str, port: int) -> Target:
        """The same target bound to where its reference server listens."""
        return dataclasses.replace(self, host=host, port=port)

    def with_options(self, options: Mapping[str, str]) -> Target:
        return dataclasses.replace(self, options={**self.options, **options})

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never reach a transcript, log line or report."""
        return tuple(s for s in (self.password,) if s)

    def redacted_url(self) -> str:
        if self.host is None:
            return f"{self.scheme}://{REFERENCE}"
        userinfo = ""
        if self.user is not None:
            userinfo = urllib.parse.quote(self.user, safe="")
            if self.auth:
                userinfo += f";auth={self.auth}"
            if self.password is not None:
                userinfo += ":***"
            userinfo += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{userinfo}{host}:{self.port}{self.path}"

    def __str__(self) -> str:
        return self.redacted_url()

    def __repr__(self) -> str:
        return f"Target({self.redacted_url()!r})"


PASSWORD_ENV = "POSTEL_PASSWORD"


def with_environment_password(target: Target, environ: Mapping[str, str]) -> Target:
    """A URL with a user and no password takes it from ``POSTEL_PASSWORD``.

    RFC 2384 3 permits no clear-text password in a pop URL, and a password in
    any URL shows in ``ps`` and shell history; this is the way to keep it out.
    A password written in the URL still wins (curl's habit, and convenient on
    a test machine).
    """
    if target.user is None or target.password is not None or not environ.get(PASSWORD_ENV):
        return target
    return dataclasses.replace(target, password=environ[PASSWORD_ENV])


def reference_target(service: str) -> Target:
    """The embedded reference server for one service (``time``, ``time+udp``, ...)."""
    if service not in SERVICES:
        raise TargetError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    return Target(scheme=service, reference=True)


_PORT = re.compile(r"[0-9]{1,5}")


def parse_target(url: str) -> Target:
    """Parse a target URL; raise :class:`TargetError` with one line for anything unusable."""
    text = url.strip()
    if not text:
        raise TargetError("empty target URL; give one like time://host:37 or leave it out for the reference servers")
    if "://" not in text:
        raise TargetError(f"target {_safe(text)!r} is not a URL; expected scheme://host[:port][/path], e.g. time://127.0.0.1:37")
    scheme_text, rest = text.split("://", 1)
    scheme_name = scheme_text.lower()
    if scheme_name not in SCHEMES:
        raise TargetError(f"unknown scheme {scheme_text!r} in target URL; known schemes: {', '.join(SCHEMES)}")
    scheme = SCHEMES[scheme_name]
    if rest.lower() in (REFERENCE, REFERENCE + "/"):
        return Target(scheme=scheme_name, reference=True)

    # Split authority from path by hand: urlsplit knows neither the "time+udp"
    # scheme's netloc rules nor RFC 2384's ";auth=" inside userinfo.
    authority, sep, path = rest.partition("/")
    path = sep + path
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        userinfo, hostport = "", authority
    host, port_text = _split_host_port(hostport, url)
    if not host:
        raise TargetError(f"target {_redact_raw(url)} has no host; expected {scheme_name}://host[:port]")

    user = password = auth = None
    if at:
        if not scheme.credentials:
            raise TargetError(f"{scheme_name}:// URLs carry no credentials ({scheme.rfc}); remove 'user:password@' from the target")
        user_text, colon, password_text = userinfo.partition(":")
        if scheme.protocol == "pop3" and ";" in user_text:
            user_text, _, params = user_text.partition(";")
            key, _, value = params.partition("=")
            if key.lower() != "auth" or not value:
                raise TargetError(f"pop URL userinfo parameter {params!r} is not ';auth=<mechanism>' (RFC 2384)")
            auth = urllib.parse.unquote(value)
        user = urllib.parse.unquote(user_text)
        password = urllib.parse.unquote(password_text) if colon else None

    port = scheme.default_port
    if port_text is not None:
        if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            raise TargetError(f"bad port {port_text!r} in target {_redact_raw(url)}; a port is a number from 1 to 65535")
        port = int(port_text)
    return Target(
        scheme=scheme_name,
        host=host,
        port=port,
        path=urllib.parse.unquote(path) if scheme.protocol in ("ftp", "nntp") else path,
        user=user,
        password=password,
        auth=auth,
    )


def _split_host_port(hostport: str, url: str) -> tuple[str, str | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise TargetError(f"unclosed '[' in IPv6 host of target {_redact_raw(url)}")
        host = hostport[1:end]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise TargetError(f"{host!r} in brackets is not an IPv6 address") from None
        tail = hostport[end + 1 :]
        if tail and not tail.startswith(":"):
            raise TargetError(f"unexpected {tail!r} after the IPv6 host in target {_redact_raw(url)}")
        return host, (tail[1:] if tail else None)
    host, colon, port = hostport.partition(":")
    if host and not re.fullmatch(r"[A-Za-z0-9._-]+", host):
        raise TargetError(f"{host!r} is not a host name or IPv4 address")
    return host, (port if colon else None)


def _redact_raw(url: str) -> str:
    """The user's URL with any password masked, for error messages."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def _safe(text: str) -> str:
    return _redact_raw(text) if "@" in text else text
