"""Synthesise a pcap from transcripts, so a run can be opened in Wireshark.

Why synthesise: a real capture needs root and must be running before the
first connect; the transcripts exist for every run anyway.  From them we
rebuild what the wire must have carried -- the TCP handshake, every data
segment with consistent sequence/acknowledgement numbers, FIN/ACK exchanges,
resets, UDP datagrams (empty ones too) and ICMP port unreachable -- well
enough that Wireshark's TCP analysis reports no errors.  Nothing here claims
to be a recording: window sizes, MACs and initial sequence numbers are made
up (deterministically, so the same transcripts give the same file).

scapy is imported inside the functions: importing it takes about a second.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["transcripts_to_packets", "write_pcap"]

DLT_EN10MB = 1  # pcap linktype: Ethernet
CLIENT_MAC = "02:00:00:00:00:01"  # locally administered, never a real NIC
SERVER_MAC = "02:00:00:00:00:02"
FIRST_EPHEMERAL_PORT = 40000  # made-up client port when "local" is "?"
WINDOW = 65535
MSS = {4: 1460, 6: 1440}  # payload per segment: Ethernet MTU minus IP and TCP headers

EV_CONNECTED = "connected"
EV_SERVER_CLOSED = "server closed the connection"
EV_CLIENT_CLOSED = "client closed"
EV_HALF_CLOSED = "client half-closed"
EV_RESET = "connection reset"
EV_CONNECT_FAILED = "connect to"
EV_PORT_UNREACHABLE = "ICMP port unreachable"


def transcripts_to_packets(transcripts: list[dict], *, default_port: int = 37) -> list[Any]:
    """Ethernet frames for ``Transcript.to_dict()`` dicts, ordered by time.

    ``default_port`` is the server port used when a transcript's ``peer`` is
    ``"?"`` (the connection never got that far).
    """
    _quiet_scapy()
    packets: list[Any] = []
    for index, transcript in enumerate(transcripts):
        ends = _endpoints(transcript, index, default_port)
        if transcript.get("transport", "tcp") == "udp":
            packets.extend(_udp_packets(transcript, ends))
        else:
            packets.extend(_tcp_packets(transcript, ends, index))
    # Stable sort: packets of one transcript keep their order (their times never decrease).
    packets.sort(key=lambda p: float(p.time))
    return packets


def write_pcap(transcripts: list[dict], path: str | os.PathLike[str], *, default_port: int = 37) -> Path:
    """Write :func:`transcripts_to_packets` as a classic pcap file (linktype Ethernet)."""
    packets = transcripts_to_packets(transcripts, default_port=default_port)
    from scapy.utils import PcapWriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PcapWriter(str(path), linktype=DLT_EN10MB, sync=False)
    try:
        writer.write_header(None)  # an empty run still gives a valid (empty) capture
        for packet in packets:
            writer.write(packet)
    finally:
        writer.close()
    return path


# ---------------------------------------------------------------- addresses


@dataclass(frozen=True)
class _Endpoints:
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    version: int  # 4 or 6


def _parse_addr(text: str | None) -> tuple[str | None, int | None]:
    """``"127.0.0.1:37"``, ``"::1:37"`` or ``"[::1]:37"`` -> (host, port); ``"?"`` -> (None, None)."""
    if not text or text == "?" or ":" not in text:
        return None, None
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = None  # a name, not an address: scapy would try to resolve it
    try:
        return host, int(port)
    except ValueError:
        return host, None


def _endpoints(transcript: dict, index: int, default_port: int) -> _Endpoints:
    client_ip, client_port = _parse_addr(transcript.get("local"))
    server_ip, server_port = _parse_addr(transcript.get("peer"))
    known = client_ip or server_ip
    version = ipaddress.ip_address(known).version if known else 4
    loopback = "::1" if version == 6 else "127.0.0.1"
    if client_ip and server_ip and ipaddress.ip_address(client_ip).version != ipaddress.ip_address(server_ip).version:
        client_ip = server_ip  # mixed families cannot share one IP header
    return _Endpoints(
        client_ip=client_ip or loopback,
        client_port=client_port or FIRST_EPHEMERAL_PORT + index,
        server_ip=server_ip or loopback,
        server_port=server_port or default_port,
        version=version,
    )


# ---------------------------------------------------------------- building blocks


def _quiet_scapy() -> None:
    # scapy logs "MAC address not found" and friends on this logger; we set every field.
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy").setLevel(logging.ERROR)


def _frame(ends: _Endpoints, from_client: bool, payload: Any, when: float) -> Any:
    """Ethernet + IP(v6) around ``payload`` (a TCP, UDP or ICMP layer), stamped ``when``."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    src, dst = (ends.client_ip, ends.server_ip) if from_client else (ends.server_ip, ends.client_ip)
    macs = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
    network = IPv6(src=src, dst=dst) if ends.version == 6 else IP(src=src, dst=dst)
    packet = Ether(src=macs[0], dst=macs[1]) / network / payload
    # Whole microseconds: scapy's writer rounds the fraction and could produce usec == 1000000.
    packet.time = round(when, 6)
    return packet


def _entries(transcript: dict) -> list[tuple[float, str, bytes]]:
    """(absolute time, direction, bytes); times made non-decreasing so sorting keeps order."""
    started = float(transcript.get("started") or 0.0)
    out: list[tuple[float, str, bytes]] = []
    last = started
    for entry in transcript.get("entries", []):
        when = max(last, started + float(entry.get("t", 0.0)))
        data = bytes.fromhex(entry["hex"]) if "hex" in entry else entry.get("text", "").encode()
        out.append((when, entry.get("dir", "*"), data))
        last = when
    return out


def _event_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- TCP


class _TcpFlow:
    """One synthetic TCP connection: keeps both sides' next sequence numbers."""

    def __init__(self, ends: _Endpoints, client_isn: int, server_isn: int) -> None:
        self.ends = ends
        self.client_seq = client_isn  # next sequence number the client will use
        self.server_seq = server_isn
        self.established = False
        self.client_fin = False
        self.server_fin = False
        self.reset = False
        self.packets: list[Any] = []

    def _segment(self, from_client: bool, flags: str, when: float, data: bytes = b"", options: list | None = None) -> None:
        from scapy.layers.inet import TCP
        from scapy.packet import Raw

        e = self.ends
        seq, ack = (self.client_seq, self.server_seq) if from_client else (self.server_seq, self.client_seq)
        sport, dport = (e.client_port, e.server_port) if from_client else (e.server_port, e.client_port)
        tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack if "A" in flags else 0, flags=flags, window=WINDOW, options=options or [])
        self.packets.append(_frame(e, from_client, tcp / Raw(load=data) if data else tcp, when))

    def handshake(self, when: float) -> None:
        if self.established or self.reset:
            return
        mss = [("MSS", MSS[self.ends.version])]
        self._segment(True, "S", when, options=mss)
        self.client_seq += 1  # SYN takes one sequence number
        self._segment(False, "SA", when, options=mss)
        self.server_seq += 1
        self._segment(True, "A", when)
        self.established = True

    def refused(self, when: float) -> None:
        """SYN answered by RST/ACK: nothing listens on the port."""
        self._segment(True, "S", when, options=[("MSS", MSS[self.ends.version])])
        self.client_seq += 1
        self.server_seq = 0  # RFC 793: a reset answering a segment without ACK has sequence number zero
        self._segment(False, "RA", when)
        self.reset = True

    def data(self, from_client: bool, payload: bytes, when: float) -> None:
        if self.reset or not payload:
            return
        self.handshake(when)  # a transcript that starts mid-connection still gets one
        mss = MSS[self.ends.version]
        for start in range(0, len(payload), mss):
            chunk = payload[start : start + mss]
            self._segment(from_client, "PA", when, chunk)
            if from_client:
                self.client_seq += len(chunk)
            else:
                self.server_seq += len(chunk)

    def fin(self, from_client: bool, when: float) -> None:
        """FIN/ACK from one side, ACKed by the other (which has read everything)."""
        if self.reset or not self.established or (self.client_fin if from_client else self.server_fin):
            return
        self._segment(from_client, "FA", when)
        if from_client:
            self.client_seq += 1  # FIN takes one sequence number
            self.client_fin = True
        else:
            self.server_seq += 1
            self.server_fin = True
        self._segment(not from_client, "A", when)

    def server_reset(self, when: float) -> None:
        if self.reset or not self.established:
            return
        self._segment(False, "RA", when)
        self.reset = True


def _tcp_packets(transcript: dict, ends: _Endpoints, index: int) -> list[Any]:
    seed = f"{index}|{transcript.get('label', '')}|{transcript.get('started', 0)}".encode()
    flow = _TcpFlow(ends, zlib.crc32(seed + b"|C"), zlib.crc32(seed + b"|S"))
    for when, direction, data in _entries(transcript):
        if direction in ("C", "S"):
            flow.data(direction == "C", data, when)
            continue
        text = _event_text(data)
        if text == EV_CONNECTED:
            flow.handshake(when)
        elif text == EV_SERVER_CLOSED:
            flow.fin(False, when)
        elif text == EV_CLIENT_CLOSED or text.startswith(EV_HALF_CLOSED):
            flow.fin(True, when)
        elif text.startswith(EV_RESET):
            flow.server_reset(when)
        elif text.startswith(EV_CONNECT_FAILED) and "refused" in text.lower() and not flow.established:
            flow.refused(when)
        # Other events (timeouts, limits) put nothing on the wire.
    return flow.packets


# ---------------------------------------------------------------- UDP


def _udp_packets(transcript: dict, ends: _Endpoints) -> list[Any]:
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.inet6 import IPv6, ICMPv6DestUnreach
    from scapy.packet import Raw

    packets: list[Any] = []
    last_client: bytes | None = None
    for when, direction, data in _entries(transcript):
        if direction in ("C", "S"):
            from_client = direction == "C"
            sport, dport = (ends.client_port, ends.server_port) if from_client else (ends.server_port, ends.client_port)
            udp = UDP(sport=sport, dport=dport)
            packets.append(_frame(ends, from_client, udp / Raw(load=data) if data else udp, when))
            if from_client:
                last_client = data
        elif _event_text(data).startswith(EV_PORT_UNREACHABLE) and last_client is not None:
            # The error quotes the offending datagram, as the server's kernel would.
            quoted_udp = UDP(sport=ends.client_port, dport=ends.server_port) / Raw(load=last_client)
            if ends.version == 6:
                error = ICMPv6DestUnreach(code=4) / IPv6(src=ends.client_ip, dst=ends.server_ip) / quoted_udp
            else:
                error = ICMP(type=3, code=3) / IP(src=ends.client_ip, dst=ends.server_ip) / quoted_udp
            packets.append(_frame(ends, False, error, when))
    return packets
