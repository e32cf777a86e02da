"""Names for states and roles (h11's sentinels, without the class swap): ``repr`` is the bare name."""

from __future__ import annotations

__all__ = ["Sentinel"]


class _SentinelMeta(type):
    def __repr__(cls) -> str:
        return cls.__name__


class Sentinel(metaclass=_SentinelMeta):
    """Subclass to name a state or role; the class itself is the value, never instantiated."""

    def __new__(cls, *args: object, **kwargs: object) -> "Sentinel":
        raise TypeError(f"{cls.__name__} is a sentinel; use the class itself")
