"""HTTP/1.0 messages as frozen dataclasses, validated when built (h11's ``_events.py``).

A message is a head event (:class:`Request` or :class:`Response`), zero or
more :class:`Data`, then :class:`EndOfMessage`.  ``simple=True`` marks
HTTP/0.9: a Simple-Request (``GET /path``) or a Simple-Response (the entity
body alone, no status line, no headers), RFC 1945 section 4.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postel.protocols.errors import LocalProtocolError
from postel.protocols.http import abnf

__all__ = ["ConnectionClosed", "Data", "EndOfMessage", "Headers", "Request", "Response"]


@dataclass(frozen=True)
class Headers:
    """Field lines in order, names as sent; lookups ignore case ("field names are case-insensitive")."""

    fields: tuple[tuple[bytes, bytes], ...] = ()

    def __post_init__(self) -> None:
        for name, value in self.fields:
            if not abnf.FIELD_NAME.fullmatch(name):
                raise LocalProtocolError(f"field name {name!r} is not a token", requirement="rfc9112/5/1")
            if not abnf.FIELD_VALUE.fullmatch(value) or value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
                raise LocalProtocolError(f"field value {value!r} for {name!r} is not valid field-content")

    def get_all(self, name: bytes) -> list[bytes]:
        lower = name.lower()
        return [v for n, v in self.fields if n.lower() == lower]

    def get(self, name: bytes) -> bytes | None:
        values = self.get_all(name)
        return values[0] if values else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, bytes) and bool(self.get_all(name))

    def __iter__(self):
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)


def _headers(value: object) -> Headers:
    if isinstance(value, Headers):
        return value
    return Headers(tuple((bytes(n), bytes(v)) for n, v in value))  # type: ignore[union-attr]


@dataclass(frozen=True)
class Request:
    method: bytes
    target: bytes
    http_version: bytes = b"1.0"
    headers: Headers = field(default_factory=Headers)
    simple: bool = False  # HTTP/0.9 Simple-Request

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _headers(self.headers))
        if not abnf.re.fullmatch(abnf.TOKEN, self.method):
            raise LocalProtocolError(f"method {self.method!r} is not a token", requirement="rfc9112/3/1")
        if not abnf.re.fullmatch(abnf.REQUEST_TARGET, self.target):
            raise LocalProtocolError(f"request-target {self.target!r} has whitespace or controls", requirement="rfc9112/3/1")
        if self.simple:
            # Simple-Request = "GET" SP Request-URI CRLF -- RFC 1945 4.1
            if self.method != b"GET" or len(self.headers):
                raise LocalProtocolError("an HTTP/0.9 Simple-Request is GET with no headers", requirement="rfc1945/4.1/2")
        elif not abnf.re.fullmatch(rb"[0-9]\.[0-9]", self.http_version):
            raise LocalProtocolError(f"HTTP-version {self.http_version!r} is not DIGIT.DIGIT", requirement="rfc9112/2.3/1")


@dataclass(frozen=True)
class Response:
    status_code: int
    reason: bytes = b""
    http_version: bytes = b"1.0"
    headers: Headers = field(default_factory=Headers)
    simple: bool = False  # HTTP/0.9 Simple-Response: the body alone

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _headers(self.headers))
        # status-code = 3DIGIT -- RFC 9110 15
        if not 100 <= self.status_code <= 999:
            raise LocalProtocolError(f"status code {self.status_code} is not three digits", requirement="rfc9112/4/1")
        if not abnf.re.fullmatch(rb"[\t \x21-\x7e\x80-\xff]*", self.reason):
            raise LocalProtocolError(f"reason phrase {self.reason!r} has control characters", requirement="rfc9112/4/1")


@dataclass(frozen=True)
class Data:
    data: bytes


@dataclass(frozen=True)
class EndOfMessage:
    pass


@dataclass(frozen=True)
class ConnectionClosed:
    pass
