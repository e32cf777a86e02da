"""Hypothesis strategies from the HTTP grammar (RFC 9110 5.6.2 token, RFC 3986 pchar, RFC 9110 5.5 field-content)."""

from __future__ import annotations

from hypothesis import strategies as st

from postel.protocols.http.codec import CLIENT, Connection
from postel.protocols.http.events import Data, EndOfMessage, Request

__all__ = ["field_names", "field_values", "methods", "mutated", "paths", "requests", "wire_requests"]

TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
SUB_DELIMS = "!$&'()*+,;="
FIELD_VCHARS = "".join(chr(c) for c in range(0x21, 0x7F))


def tokens(max_size: int = 16) -> st.SearchStrategy[bytes]:
    return st.text(TCHAR, min_size=1, max_size=max_size).map(str.encode)


def methods() -> st.SearchStrategy[bytes]:
    """The implemented methods most of the time, and any token (which a server must answer, 501 if unknown)."""
    return st.one_of(st.sampled_from([b"GET", b"HEAD", b"POST"]), tokens(12))


def _segment() -> st.SearchStrategy[str]:
    pct = st.integers(0x20, 0x7E).map(lambda c: f"%{c:02X}").filter(lambda s: s.upper() not in ("%2E", "%2F", "%5C"))
    char = st.one_of(st.sampled_from(UNRESERVED + SUB_DELIMS + ":@"), pct)
    return st.lists(char, max_size=12).map("".join).filter(lambda s: s not in (".", ".."))


def paths() -> st.SearchStrategy[bytes]:
    """absolute-path = 1*( "/" segment ), RFC 9110 4.1, without dot segments."""
    return st.lists(_segment(), min_size=1, max_size=5).map(lambda segs: ("/" + "/".join(segs)).encode())


def field_names() -> st.SearchStrategy[bytes]:
    return tokens(20).filter(lambda n: n.lower() not in (b"content-length", b"transfer-encoding", b"host", b"connection"))


def field_values() -> st.SearchStrategy[bytes]:
    """field-content without leading/trailing whitespace (RFC 9110 5.5)."""
    inner = st.text(FIELD_VCHARS + " \t", max_size=40).map(str.encode)
    return st.tuples(st.text(FIELD_VCHARS, min_size=1, max_size=1).map(str.encode), inner, st.text(FIELD_VCHARS, max_size=1).map(str.encode)).map(
        lambda t: (t[0] + t[1] + t[2]) if t[2] else t[0]
    )


@st.composite
def requests(draw, host: bytes = b"localhost") -> tuple[Request, bytes]:
    """A well-formed HTTP/1.0 or 1.1 request and its body."""
    method = draw(methods())
    version = draw(st.sampled_from([b"1.0", b"1.1"]))
    body = draw(st.binary(max_size=64)) if method == b"POST" else b""
    fields = [(b"Host", host)] + draw(st.lists(st.tuples(field_names(), field_values()), max_size=5))
    if body or method == b"POST":
        fields.append((b"Content-Length", str(len(body)).encode()))
    if version == b"1.1":
        # One request per connection, said the HTTP/1.1 way (RFC 9112 9.6): a keep-alive server
        # would otherwise rightly read octets a mutation left over as a second request.
        fields.append((b"Connection", b"close"))
    return Request(method=method, target=draw(paths()), http_version=version, headers=fields), body


def wire_requests(host: bytes = b"localhost") -> st.SearchStrategy[bytes]:
    """The octets of a well-formed request, written by the client codec."""

    def encode(pair: tuple[Request, bytes]) -> bytes:
        request, body = pair
        codec = Connection(CLIENT)
        return codec.send(request) + (codec.send(Data(body)) if body else b"") + codec.send(EndOfMessage())

    return requests(host).map(encode)


@st.composite
def mutated(draw, host: bytes = b"localhost") -> bytes:
    """A well-formed request with one flip, truncation or insertion."""
    # Not from HEAD: a mutation can make it a GET to the server while the reader still expects
    # a bodiless HEAD response, and would blame the server for the misreading.
    wire = draw(wire_requests(host).filter(lambda octets: not octets.startswith(b"HEAD ")))
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    at = draw(st.integers(0, len(wire) - 1))
    if kind == "flip":
        return wire[:at] + bytes([wire[at] ^ (1 << draw(st.integers(0, 7)))]) + wire[at + 1 :]
    if kind == "truncate":
        return wire[:at]
    if kind == "insert":
        junk = draw(st.sampled_from([b"\r", b"\n", b" ", b"\x00", b":", b"\r\n", b" :", b"\x7f", b"\xff"]))
        return wire[:at] + junk + wire[at:]
    return wire[:at] + wire[at + 1 :]
