"""RFC 868 Time as a scapy layer: a second, independent parser of the wire.

Why: tests cross-check :mod:`postel.protocols.time.codec` against scapy's
field machinery, and a pcap dissected with :func:`bind_time_layer` shows the
time value.  Deliberately tiny and free of imports from the codec.
"""

from __future__ import annotations

from scapy.fields import IntField
from scapy.layers.inet import TCP, UDP
from scapy.packet import Packet, bind_layers

__all__ = ["EPOCH_OFFSET", "RFC868Time", "bind_time_layer"]

EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01 (RFC 868: "2,208,988,800 corresponds to 00:00 1 Jan 1970 GMT")


class RFC868Time(Packet):
    """The server's answer: "a 32 bit binary number" (RFC 868), seconds since 1900."""

    name = "RFC868Time"
    #  0                   1                   2                   3
    #  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    # +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    # |        seconds since 1900-01-01T00:00:00Z, modulo 2**32       |
    # +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    fields_desc = [IntField("seconds", 0)]  # IntField: 4 octets, network (big-endian) order


def bind_time_layer(port: int = 37) -> None:
    """Dissect what a Time server on ``port`` sends (TCP and UDP) as :class:`RFC868Time`."""
    bind_layers(TCP, RFC868Time, sport=port)
    bind_layers(UDP, RFC868Time, sport=port)
