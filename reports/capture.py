"""Live packet capture on loopback, for when the user can open raw sockets.

Why a wrapper: scapy's ``AsyncSniffer`` fails inside its own thread (the
error surfaces only at ``stop()``), may miss packets sent before its socket
is open, and ``stop()`` joins without a timeout.  :class:`LiveCapture` waits
until the socket is really open, never waits forever, and turns every
failure into :class:`CaptureUnavailable` with the reason.

Three scapy facts shape it.  Loopback frames dissect as Ethernet only once
``scapy.layers.l2`` is imported; before that they are Raw.  scapy 2.8
compiles BPF filters only through libpcap; without it a ``filter=`` makes
sniffing fail, so the port filter then runs in Python instead.  And a
PF_PACKET socket on loopback sees each packet twice (once leaving, once
arriving); like libpcap we drop the outgoing copy, so the capture matches
what tcpdump would show.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["CaptureUnavailable", "LiveCapture", "capture_available"]

CAP_NET_RAW = 13  # bit in /proc/self/status CapEff (linux/capability.h)
START_TIMEOUT = 5.0  # seconds for the sniffer to open its socket
STOP_TIMEOUT = 5.0  # seconds for the sniffer thread to finish
SETTLE_QUIET = 0.3  # seconds without a frame before the capture stops
SETTLE_LIMIT = 2.0
PACKET_OUTGOING = 4  # sockaddr_ll.sll_pkttype of a packet we sent (linux/if_packet.h)


class CaptureUnavailable(RuntimeError):
    """Live capture cannot run here (or stopped working); the message says why."""


def capture_available(iface: str = "lo") -> tuple[bool, str]:
    """(True, "") if a raw packet socket can be opened on ``iface``, else (False, why not)."""
    if not sys.platform.startswith("linux"):
        return False, f"live capture is implemented for Linux PF_PACKET sockets only, not {sys.platform}"
    if not os.path.exists(f"/sys/class/net/{iface}"):
        return False, f"network interface {iface!r} does not exist"
    if os.geteuid() != 0 and not _has_cap_net_raw():
        return False, "needs root or CAP_NET_RAW to open a raw packet socket"
    try:
        probe = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: receives nothing
    except OSError as exc:
        return False, f"cannot open a raw packet socket: {exc.strerror or exc}"
    probe.close()
    return True, ""


def _has_cap_net_raw() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_RAW & 1)
    except OSError:
        pass
    return False


class LiveCapture:
    """Capture TCP/UDP traffic to or from ``port`` (``None``: any port) on ``iface`` while the context is open.

    ``with LiveCapture(port) as capture: ...`` then ``capture.packets`` or
    ``capture.write(path)``.  ``stop()`` returns the packets.
    """

    def __init__(self, port: int | None, iface: str = "lo", stop_timeout: float = STOP_TIMEOUT) -> None:
        self.port = port
        self.iface = iface
        self.stop_timeout = stop_timeout
        self.packets: list[Any] = []
        self._sniffer: Any = None
        self._last_seen = time.monotonic()

    def __enter__(self) -> LiveCapture:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._sniffer is not None:
            try:
                self.stop()
            except CaptureUnavailable:
                if exc_type is None:
                    raise

    def start(self) -> None:
        ok, why = capture_available(self.iface)
        if not ok:
            raise CaptureUnavailable(why)
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        # Importing the layers registers loopback (ARPHRD_LOOPBACK) as Ethernet and
        # TCP/UDP over IP; without them scapy 2.8 dissects every frame as Raw.
        import scapy.layers.inet  # noqa: F401
        import scapy.layers.inet6  # noqa: F401
        import scapy.layers.l2  # noqa: F401
        from scapy.sendrecv import AsyncSniffer

        opened = threading.Event()
        options: dict[str, Any] = {
            "iface": self.iface,
            "store": True,
            "lfilter": self._matches,
            "started_callback": opened.set,
            "prn": self._seen,
            "L2socket": _loopback_listen_socket(),
        }
        bpf = "tcp or udp" if self.port is None else f"port {self.port}"
        if _bpf_compiles(bpf):
            options["filter"] = bpf  # kernel-side filter when libpcap can compile it
        self._sniffer = AsyncSniffer(**options)
        self._sniffer.start()
        if not _wait_while_alive(opened, self._sniffer.thread, START_TIMEOUT):
            failure = self._sniffer.exception
            self._abandon()
            raise CaptureUnavailable(f"sniffer on {self.iface} did not start: {failure or f'no socket within {START_TIMEOUT:g}s'}")

    def stop(self) -> list[Any]:
        """Stop sniffing (waiting at most ``stop_timeout`` seconds) and return the packets."""
        sniffer, self._sniffer = self._sniffer, None
        if sniffer is None:
            return self.packets
        self._settle()
        sniffer.stop_cb()  # wakes the sniffer's select(); does not wait, and drops what is still queued
        sniffer.thread.join(self.stop_timeout)
        if sniffer.thread.is_alive():
            raise CaptureUnavailable(f"sniffer on {self.iface} did not stop within {self.stop_timeout:g}s")
        if sniffer.exception is not None:
            raise CaptureUnavailable(f"sniffing on {self.iface} failed: {sniffer.exception}")
        self.packets = list(sniffer.results or [])
        return self.packets

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the captured packets as a pcap file (linktype from the interface: Ethernet on lo)."""
        from scapy.utils import PcapWriter

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = PcapWriter(str(path), linktype=1 if not self.packets else None, sync=False)
        try:
            if not self.packets:
                writer.write_header(None)
            for packet in self.packets:
                writer.write(packet)
        finally:
            writer.close()
        return path

    def _seen(self, packet: Any) -> None:
        self._last_seen = time.monotonic()

    def _settle(self, quiet: float = SETTLE_QUIET, limit: float = SETTLE_LIMIT) -> None:
        """Wait until no frame has arrived for ``quiet`` seconds (at most ``limit``).

        Frames on lo reach the sniffer thread a moment after the socket calls
        that sent them return; stopping at once loses the last of them.
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.monotonic() - self._last_seen < quiet:
            time.sleep(quiet / 4)

    def _matches(self, packet: Any) -> bool:
        layer = packet.getlayer("TCP") or packet.getlayer("UDP")
        return layer is not None and (self.port is None or self.port in (layer.sport, layer.dport))

    def _abandon(self) -> None:
        sniffer, self._sniffer = self._sniffer, None
        if sniffer is not None:
            sniffer.stop_cb()
            sniffer.thread.join(1.0)


def _wait_while_alive(event: threading.Event, thread: threading.Thread, timeout: float) -> bool:
    """Wait for ``event``, but give up as soon as ``thread`` has died (it failed to open its socket)."""
    deadline = time.monotonic() + timeout
    while not event.wait(0.05):
        if not thread.is_alive() or time.monotonic() > deadline:
            return event.is_set()
    return True


def _bpf_compiles(expression: str) -> bool:
    from scapy.arch.common import compile_filter

    try:
        compile_filter(expression, linktype=1)
    except Exception:  # ImportError without libpcap, Scapy_Exception for a bad expression
        return False
    return True


def _loopback_listen_socket() -> type:
    """scapy's listen socket, minus the outgoing copy of every packet on loopback."""
    from scapy.arch.linux import L2ListenSocket

    class LoopbackListenSocket(L2ListenSocket):  # type: ignore[misc, valid-type]
        desc = "PF_PACKET listen socket that drops PACKET_OUTGOING on loopback, like libpcap"

        def recv_raw(self, x: int = 65535) -> tuple[Any, Any, Any]:
            packet, sa_ll, ts = self._recv_raw(self.ins, x)
            if self.iface == "lo" and sa_ll[2] == PACKET_OUTGOING:
                return None, None, None
            if ts is None:
                from scapy.arch.linux import get_last_packet_timestamp

                ts = get_last_packet_timestamp(self.ins)
            return self.LL, packet, ts

    return LoopbackListenSocket
