"""Two-sided protocol errors, shared by every codec (h11's ``_util.py``, plus a requirement).

``LocalProtocolError``: *we* tried to do something the RFC forbids (a bug in the
caller).  ``RemoteProtocolError``: the *peer* did; ``requirement`` names the
catalog ID it broke and ``reply_hint`` the reply a server should answer with, so
a strict client's error becomes a ``fail`` verdict without a translation table.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Abstract: raise :class:`LocalProtocolError` or :class:`RemoteProtocolError`."""

    def __init__(self, message: str, *, requirement: str | None = None, reply_hint: int | None = None) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise LocalProtocolError or RemoteProtocolError")
        super().__init__(message)
        self.requirement = requirement
        self.reply_hint = reply_hint


class LocalProtocolError(ProtocolError):
    """We were about to break the protocol."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol; ``requirement`` says which sentence."""
