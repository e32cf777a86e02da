"""Synthesised pcaps, the scapy RFC 868 layer, and live capture.

Why these checks: a pcap that Wireshark flags ("previous segment not
captured", "ACKed unseen segment") is worse than none, so the TCP bookkeeping
is checked from the first principles of RFC 793 -- each side's sequence
number advances by its payload plus one for SYN and FIN, and every ACK names
the other side's next sequence number -- against bytes taken from the
transcripts themselves.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postel.protocols.time.codec import EPOCH_OFFSET, TimeValue, decode_datagram, encode_datagram
from postel.protocols.time.scapy_layer import RFC868Time, bind_time_layer
from postel.reports.capture import CaptureUnavailable, LiveCapture, capture_available
from postel.reports.pcap import transcripts_to_packets, write_pcap
from postel.wire import Transcript

STARTED = 1764586800.123
TIME_VALUE = EPOCH_OFFSET + 1_764_586_800  # 2025-12-01T11:00:00Z on the 1900 epoch
SERVER = ("127.0.0.1", 37)
CLIENT = ("127.0.0.1", 51515)


def tcp_transcript(payload: bytes = struct.pack(">I", TIME_VALUE)) -> dict:
    """connect, the server's 4 bytes, server close, client close."""
    transcript = Transcript("tcp query", peer=SERVER, local=CLIENT, transport="tcp", started=STARTED)
    transcript.entries = [
        (0.001, "*", b"connected"),
        (0.002, "S", payload),
        (0.003, "*", b"server closed the connection"),
        (0.004, "*", b"client closed"),
    ]
    return transcript.to_dict()


def udp_transcript() -> dict:
    """An empty client datagram, a 4-byte answer."""
    transcript = Transcript("udp query", peer=SERVER, local=CLIENT, transport="udp", started=STARTED + 1)
    transcript.entries = [(0.010, "C", b""), (0.020, "S", struct.pack(">I", TIME_VALUE))]
    return transcript.to_dict()


def entry_bytes(transcript: dict, direction: str) -> bytes:
    return b"".join(bytes.fromhex(e["hex"]) for e in transcript["entries"] if e["dir"] == direction)


def read_back(tmp_path: Path, transcripts: list[dict]) -> list:
    from scapy.utils import rdpcap

    path = write_pcap(transcripts, tmp_path / "run.pcap")
    assert path.stat().st_size > 24  # more than the pcap global header
    return list(rdpcap(str(path)))


def tcp_of(packets: list) -> list:
    from scapy.layers.inet import TCP

    return [p for p in packets if TCP in p]


def from_client(packet, transcript: dict) -> bool:
    from scapy.layers.inet import IP

    return (packet[IP].src, packet.sport) == (transcript["local"].rpartition(":")[0], int(transcript["local"].rpartition(":")[2]))


def check_tcp_sequence_numbers(segments: list, transcript: dict) -> None:
    """RFC 793 bookkeeping for one connection, starting from the two SYNs."""
    next_seq: dict[bool, int] = {}
    for segment in segments:
        side = from_client(segment, transcript)
        tcp = segment["TCP"]
        flags = str(tcp.flags)
        if "S" in flags:
            next_seq[side] = tcp.seq
        assert tcp.seq == next_seq[side], f"{flags} seq {tcp.seq} != expected {next_seq[side]}"
        if "A" in flags:
            assert tcp.ack == next_seq[not side], f"{flags} ack {tcp.ack} != other side's next seq {next_seq[not side]}"
        next_seq[side] += len(bytes(tcp.payload)) + ("S" in flags) + ("F" in flags)


# ---------------------------------------------------------------- synthesised TCP


def test_tcp_handshake_payload_and_close(tmp_path: Path) -> None:
    transcript = tcp_transcript()
    segments = tcp_of(read_back(tmp_path, [transcript]))
    flags = [str(s["TCP"].flags) for s in segments]

    assert flags[:3] == ["S", "SA", "A"]
    assert [from_client(s, transcript) for s in segments[:3]] == [True, False, True]
    server_bytes = b"".join(bytes(s["TCP"].payload) for s in segments if not from_client(s, transcript))
    client_bytes = b"".join(bytes(s["TCP"].payload) for s in segments if from_client(s, transcript))
    assert server_bytes == entry_bytes(transcript, "S")
    assert client_bytes == entry_bytes(transcript, "C") == b""
    # Both sides send exactly one FIN, the server's first; the last segment ACKs the client's FIN.
    fins = [from_client(s, transcript) for s in segments if "F" in str(s["TCP"].flags)]
    assert fins == [False, True]
    assert flags[-1] == "A" and not from_client(segments[-1], transcript)
    check_tcp_sequence_numbers(segments, transcript)


def test_tcp_addresses_come_from_the_transcript(tmp_path: Path) -> None:
    transcript = tcp_transcript()
    syn = tcp_of(read_back(tmp_path, [transcript]))[0]
    assert (syn["IP"].src, syn.sport) == CLIENT
    assert (syn["IP"].dst, syn.dport) == SERVER


def test_tcp_client_data_half_close_and_large_reply(tmp_path: Path) -> None:
    """Data both ways, a half-close, and a reply larger than one segment."""
    transcript = Transcript("http get", peer=("127.0.0.1", 8080), local=CLIENT, started=STARTED)
    reply = bytes(range(256)) * 20  # 5120 bytes: several segments
    transcript.entries = [
        (0.001, "*", b"connected"),
        (0.002, "C", b"GET / HTTP/1.0\r\n\r\n"),
        (0.003, "*", b"client half-closed (SHUT_WR)"),
        (0.004, "S", reply),
        (0.005, "*", b"server closed the connection"),
        (0.006, "*", b"client closed"),
    ]
    as_dict = transcript.to_dict()
    segments = tcp_of(read_back(tmp_path, [as_dict]))
    assert b"".join(bytes(s["TCP"].payload) for s in segments if from_client(s, as_dict)) == entry_bytes(as_dict, "C")
    assert b"".join(bytes(s["TCP"].payload) for s in segments if not from_client(s, as_dict)) == reply
    assert max(len(bytes(s["TCP"].payload)) for s in segments) < len(reply)
    fins = [from_client(s, as_dict) for s in segments if "F" in str(s["TCP"].flags)]
    assert fins == [True, False]  # the half-close is the client's only FIN
    check_tcp_sequence_numbers(segments, as_dict)


def test_tcp_reset_ends_the_connection(tmp_path: Path) -> None:
    transcript = Transcript("reset", peer=SERVER, local=CLIENT, started=STARTED)
    transcript.entries = [
        (0.001, "*", b"connected"),
        (0.002, "C", b"x"),
        (0.003, "*", b"connection reset by peer (ECONNRESET)"),
        (0.004, "*", b"client closed"),
    ]
    as_dict = transcript.to_dict()
    segments = tcp_of(read_back(tmp_path, [as_dict]))
    last = segments[-1]
    assert "R" in str(last["TCP"].flags) and not from_client(last, as_dict)
    assert not any("F" in str(s["TCP"].flags) for s in segments)  # nothing after a reset
    check_tcp_sequence_numbers(segments, as_dict)


def test_unknown_and_ipv6_addresses(tmp_path: Path) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    unknown = {"label": "no addresses", "transport": "tcp", "peer": "?", "local": "?", "started": STARTED,
               "entries": [{"t": 0.0, "dir": "*", "hex": b"connected".hex(), "text": "connected"}]}
    six = tcp_transcript()
    six["peer"], six["local"] = "::1:37", "::1:40001"
    packets = transcripts_to_packets([unknown, six])
    v4 = [p for p in packets if IP in p]
    v6 = [p for p in packets if IPv6 in p]
    assert v4 and v6 and len(v4) + len(v6) == len(packets)
    assert (v4[0][IP].src, v4[0].dport) == ("127.0.0.1", 37)
    assert (v6[0][IPv6].src, v6[0][IPv6].dst, v6[0].sport, v6[0].dport) == ("::1", "::1", 40001, 37)


# ---------------------------------------------------------------- synthesised UDP and timestamps


def test_udp_datagrams_including_empty(tmp_path: Path) -> None:
    from scapy.layers.inet import UDP

    transcript = udp_transcript()
    datagrams = [p for p in read_back(tmp_path, [transcript]) if UDP in p]
    expected = [(e["dir"], bytes.fromhex(e["hex"])) for e in transcript["entries"] if e["dir"] in "CS"]
    got = [("C" if d[UDP].dport == SERVER[1] else "S", bytes(d[UDP].payload)) for d in datagrams]
    assert got == expected
    assert all(d[UDP].len == 8 + len(payload) for d, (_, payload) in zip(datagrams, expected))


def test_timestamps_are_transcript_times_in_order(tmp_path: Path) -> None:
    transcripts = [udp_transcript(), tcp_transcript()]  # out of order on purpose
    packets = read_back(tmp_path, transcripts)
    times = [float(p.time) for p in packets]
    assert times == sorted(times)
    allowed = {round(t["started"] + e["t"], 6) for t in transcripts for e in t["entries"]}
    assert {round(t, 6) for t in times} <= allowed
    assert times[0] == pytest.approx(transcripts[1]["started"] + transcripts[1]["entries"][0]["t"], abs=1e-6)


def test_empty_run_gives_a_valid_empty_pcap(tmp_path: Path) -> None:
    from scapy.utils import rdpcap

    path = write_pcap([], tmp_path / "empty.pcap")
    assert list(rdpcap(str(path))) == []


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_the_capture(tmp_path: Path) -> None:
    path = write_pcap([tcp_transcript(), udp_transcript()], tmp_path / "run.pcap")
    result = subprocess.run(["tshark", "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- the RFC 868 layer


@pytest.fixture
def time_layer():
    from scapy.layers.inet import TCP, UDP
    from scapy.packet import split_layers

    bind_time_layer(37)
    yield
    split_layers(TCP, RFC868Time, sport=37)
    split_layers(UDP, RFC868Time, sport=37)


def test_time_layer_dissects_the_server_packets(tmp_path: Path, time_layer: None) -> None:
    tcp, udp = tcp_transcript(), udp_transcript()
    packets = read_back(tmp_path, [tcp, udp])  # rdpcap dissects with the binding in place
    answers = [p for p in packets if RFC868Time in p]
    expected = [int.from_bytes(entry_bytes(t, "S"), "big") for t in (tcp, udp)]
    assert [a[RFC868Time].seconds for a in answers] == expected
    assert all(a.sport == 37 for a in answers)


def test_rfc868_unix_epoch_value() -> None:
    # RFC 868: "2,208,988,800 corresponds to 00:00  1 Jan 1970 GMT"
    assert RFC868Time(bytes.fromhex("83aa7e80")).seconds == 2208988800


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_layer_agrees_with_codec(seconds: int) -> None:
    wire = encode_datagram(TimeValue(seconds))
    assert bytes(RFC868Time(seconds=seconds)) == wire
    assert RFC868Time(wire).seconds == decode_datagram(bytes(RFC868Time(seconds=seconds))).seconds == seconds


# ---------------------------------------------------------------- live capture


def test_live_capture_sees_the_payload(tmp_path: Path) -> None:
    available, why = capture_available("lo")
    if not available:
        pytest.skip(f"live capture unavailable: {why}")
    payload = struct.pack(">I", TIME_VALUE)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(5)

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(payload)

        with LiveCapture(port) as capture:
            thread = threading.Thread(target=answer, daemon=True)
            thread.start()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                received = b""
                while chunk := client.recv(64):
                    received += chunk
            thread.join(5)
            time.sleep(0.3)  # frames on lo can reach the sniffer a moment after recv() returns
        packets = capture.packets

    assert received == payload
    tcp = [p for p in packets if p.haslayer("TCP")]
    assert all(port in (p["TCP"].sport, p["TCP"].dport) for p in tcp)
    assert b"".join(bytes(p["TCP"].payload) for p in tcp if p["TCP"].sport == port) == payload
    syns = [p for p in tcp if str(p["TCP"].flags) == "S"]
    assert len(syns) == 1  # the loopback duplicate (outgoing copy) is dropped
    path = capture.write(tmp_path / "live.pcap")
    from scapy.utils import rdpcap

    assert len(rdpcap(str(path))) == len(packets)


def test_live_capture_unavailable_is_a_clear_error() -> None:
    with pytest.raises(CaptureUnavailable, match="does not exist"):
        LiveCapture(9, iface="no-such-if0").start()


def test_live_capture_failure_in_the_sniffer_thread_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    available, why = capture_available("lo")
    if not available:
        pytest.skip(f"live capture unavailable: {why}")
    from postel.reports import capture as capture_module
    from scapy.arch.linux import L2ListenSocket

    class BrokenSocket(L2ListenSocket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise OSError(19, "No such device (simulated)")

    monkeypatch.setattr(capture_module, "_loopback_listen_socket", lambda: BrokenSocket)
    started = time.monotonic()
    with pytest.raises(CaptureUnavailable, match="simulated"):
        LiveCapture(9).start()
    assert time.monotonic() - started < 2
