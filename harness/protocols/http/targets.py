"""Request-targets (RFC 9112 3.2) and the path a server may map to a file (RFC 3986 2.1, 5.2.4).

  request-target = origin-form / absolute-form / authority-form / asterisk-form
  origin-form    = absolute-path [ "?" query ]
  absolute-form  = absolute-URI

Percent-decoding happens per path segment, after splitting on "/", so an
encoded slash (%2F) stays inside its segment and is refused rather than
becoming a directory separator; "." and ".." segments (also as %2e) are
refused, never resolved: a server that resolved them against its root could
be walked out of it (RFC 9110 17.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RequestTarget", "TargetError", "parse_request_target"]

_PCT = re.compile(rb"%([0-9A-Fa-f]{2})")
_BAD_PCT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# pchar = unreserved / pct-encoded / sub-delims / ":" / "@"  -- RFC 3986 3.3
_PATH = re.compile(rb"(/[-A-Za-z0-9._~!$&'()*+,;=:@%]*)+")
_QUERY = re.compile(rb"[-A-Za-z0-9._~!$&'()*+,;=:@%/?]*")
_ABSOLUTE = re.compile(rb"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>/[^?#]*)?(\?(?P<query>[^#]*))?")


class TargetError(ValueError):
    """A request-target a server must refuse; ``status`` is the reply to send."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RequestTarget:
    form: str  # "origin" | "absolute" | "asterisk" | "authority"
    path: bytes  # as sent, percent-encoded
    query: bytes | None
    authority: bytes | None = None

    def segments(self) -> list[str]:
        """Decoded path segments, refusing anything that could leave the root."""
        parts = self.path.split(b"/")[1:]
        decoded = []
        for raw in parts:
            if _BAD_PCT.search(raw):
                raise TargetError(f"malformed percent-encoding in {raw!r}")
            octets = _PCT.sub(lambda m: bytes([int(m[1], 16)]), raw)
            if b"/" in octets or b"\\" in octets or b"\x00" in octets:
                raise TargetError(f"encoded slash, backslash or NUL in path segment {raw!r}", status=404)
            if octets in (b".", b".."):
                raise TargetError(f"dot segment {raw!r} in the path", status=404)
            try:
                decoded.append(octets.decode("utf-8"))
            except UnicodeDecodeError:
                raise TargetError(f"path segment {raw!r} is not UTF-8", status=404) from None
        return [d for d in decoded if d != ""] if decoded != [""] else []


def parse_request_target(target: bytes, method: bytes = b"GET") -> RequestTarget:
    if target == b"*":
        return RequestTarget("asterisk", b"", None)
    if target.startswith(b"/"):
        path, question, query = target.partition(b"?")
        if not _PATH.fullmatch(path) or (question and not _QUERY.fullmatch(query)):
            raise TargetError(f"request-target {target[:80]!r} is not an origin-form")
        return RequestTarget("origin", path, query if question else None)
    match = _ABSOLUTE.fullmatch(target)
    if match:
        if match["scheme"].lower() != b"http":
            raise TargetError(f"absolute-form with scheme {match['scheme']!r}: this server serves http only", status=400)
        path = match["path"] or b"/"
        if not _PATH.fullmatch(path):
            raise TargetError(f"path {path[:80]!r} of the absolute-form is not valid")
        return RequestTarget("absolute", path, match["query"], authority=match["authority"])
    if method == b"CONNECT":
        return RequestTarget("authority", b"", None, authority=target)
    raise TargetError(f"request-target {target[:80]!r} is none of the four forms")
