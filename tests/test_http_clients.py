"""Real HTTP clients against the reference HTTP/1.0 server, started as a user starts it: ``postel serve http``.

The suites read the server's answers with postel's own codec, and a codec and a
server written together can share a misreading.  curl, ``http.client`` and
``urllib`` are independent readers: each must get the file's exact octets, the
status, and well-formed header fields (read here with the standard library's
date parser, not postel's).

curl sends ``--http1.0`` requests and, by default, HTTP/1.1 ones, which the
server answers as HTTP/1.0.  Without curl the curl tests skip, but fail when
``CI`` is set (``.ci/run`` installs curl).
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import hashlib
import http.client
import random
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postel.protocols.http.server import SINK_PATH
from postel.protocols.http.site import make_sample_site
from tests.conftest import POSTEL
from tests.processes import STOP_TIMEOUT, installed, postel_serve

CLIENT_TIMEOUT = 20  # seconds for one client command; each takes milliseconds
ANNOUNCEMENT = re.compile(r"postel: http server on (?P<url>http://\S+/) serving (?P<what>.+) \(Ctrl-C stops\)")
IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
SINK_ANSWER = re.compile(rb"received (\d+) octets, sha256 ([0-9a-f]{64})\n")
LONG_AGO = "Sat, 01 Jan 2000 00:00:00 GMT"  # older than every file of the site
CONTENT_TYPES = {"hello.txt": "text/plain", "index.html": "text/html", "bytes.bin": "application/octet-stream", "large.bin": "application/octet-stream"}
FILES = ["hello.txt", "bytes.bin", "large.bin"]

# (extra curl options, the request version curl then sends)
CURL_MODES = [pytest.param(["--http1.0"], "1.0", id="curl-http1.0"), pytest.param([], "1.1", id="curl-default")]


# ---------------------------------------------------------------- the server, as a subprocess


@contextlib.contextmanager
def postel_serve_http(*args: str) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """``postel serve http ARGS``; yields the process, its base URL and what it serves.  Killed on the way out, whatever happened."""
    with postel_serve("http", *args) as (proc, line):
        match = ANNOUNCEMENT.fullmatch(line)
        assert match, f"unexpected first line from postel serve http: {line!r}"
        yield proc, match["url"], match["what"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The sample site plus a file larger than one socket buffer's worth of segments."""
    root = make_sample_site(tmp_path_factory.mktemp("http-clients") / "site")
    (root / "large.bin").write_bytes(random.Random(1945).randbytes(300_000))
    return root


@pytest.fixture(scope="module")
def base_url(site) -> Iterator[str]:
    with postel_serve_http("--root", str(site), "--port", "0") as (_proc, url, what):
        assert what == str(site.resolve())
        yield url


@pytest.fixture(scope="module")
def curl() -> str:
    return installed("curl")


# ---------------------------------------------------------------- reading what came back


@dataclass
class Head:
    status_line: str
    fields: list[tuple[str, str]]

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    def get(self, name: str) -> str | None:
        values = [v for n, v in self.fields if n.lower() == name.lower()]
        assert len(values) <= 1, f"{name} appears {len(values)} times: {self.fields}"
        return values[0] if values else None


def parse_heads(dump: bytes) -> list[Head]:
    """curl's ``--dump-header -``: one head per response (several with ``-L``), each ending in an empty line."""
    heads = []
    for block in dump.split(b"\r\n\r\n"):
        if not block:
            continue
        status_line, *lines = block.decode("latin-1").split("\r\n")
        heads.append(Head(status_line, [tuple(part.strip() for part in line.split(":", 1)) for line in lines]))  # type: ignore[misc]
    return heads


def check_well_formed(status_line: str, fields: list[tuple[str, str]], status: int) -> None:
    """Status line of HTTP/1.0, field names that are tokens, none repeated, a Date that is an IMF-fixdate of about now."""
    assert re.fullmatch(rf"HTTP/1\.0 {status} [A-Za-z][A-Za-z ]*", status_line), status_line
    names = [name.lower() for name, _ in fields]
    assert all(TOKEN.fullmatch(name) for name in names), fields
    assert len(names) == len(set(names)), f"repeated fields: {fields}"
    values = {name.lower(): value for name, value in fields}
    assert "date" in values, f"no Date field: {fields}"
    assert IMF_FIXDATE.fullmatch(values["date"]), values["date"]
    age = datetime.datetime.now(datetime.UTC) - email.utils.parsedate_to_datetime(values["date"])
    assert abs(age.total_seconds()) < 60, f"Date {values['date']} is {age} off this machine's clock"
    assert values.get("server"), "no Server field"


def check_file_fields(fields: list[tuple[str, str]], path: Path) -> None:
    """Content-Length is the file's size, Last-Modified its mtime, Content-Type what its name says."""
    values = {name.lower(): value for name, value in fields}
    missing = {"content-length", "last-modified", "content-type"} - set(values)
    assert not missing, f"no {sorted(missing)} field: {fields}"
    assert values["content-length"] == str(path.stat().st_size)
    assert IMF_FIXDATE.fullmatch(values["last-modified"]), values["last-modified"]
    assert email.utils.parsedate_to_datetime(values["last-modified"]).timestamp() == int(path.stat().st_mtime)
    assert values["content-type"].split(";")[0] == CONTENT_TYPES[path.name]


def last_modified(path: Path) -> str:
    return email.utils.formatdate(int(path.stat().st_mtime), usegmt=True)


def check_sink_answer(body: bytes, sent: bytes) -> None:
    match = SINK_ANSWER.fullmatch(body)
    assert match, f"unexpected sink answer: {body!r}"
    assert int(match[1]) == len(sent)
    assert match[2].decode() == hashlib.sha256(sent).hexdigest()


# ---------------------------------------------------------------- curl


@dataclass
class CurlResult:
    returncode: int
    heads: list[Head]
    body: bytes
    stderr: str


def run_curl(curl: str, tmp_path: Path, *args: str, expect_exit: tuple[int, ...] = (0,)) -> CurlResult:
    out = tmp_path / "curl-body"
    out.unlink(missing_ok=True)
    cmd = [curl, "--silent", "--show-error", "--max-time", "10", "--dump-header", "-", "--output", str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=CLIENT_TIMEOUT)
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode in expect_exit, f"{' '.join(cmd)} exited {proc.returncode}: {stderr}"
    return CurlResult(proc.returncode, parse_heads(proc.stdout), out.read_bytes() if out.exists() else b"", stderr)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(("mode", "version"), CURL_MODES)
def test_curl_get_file(curl, base_url, site, tmp_path, mode, version, name):
    result = run_curl(curl, tmp_path, *mode, "--verbose", base_url + name)
    assert f"> GET /{name} HTTP/{version}" in result.stderr  # the request really was 1.0 / 1.1
    [head] = result.heads
    check_well_formed(head.status_line, head.fields, 200)
    check_file_fields(head.fields, site / name)
    assert result.body == (site / name).read_bytes()


@pytest.mark.parametrize(("mode", "version"), CURL_MODES)
def test_curl_head(curl, base_url, site, tmp_path, mode, version):
    """``-I``: GET's fields, no body.  curl -I never reads past the head, so ``-X HEAD`` (which reads
    Content-Length octets) checks that none follow: it gets 0 and, the server closing, exits 18."""
    path = site / "hello.txt"
    get = run_curl(curl, tmp_path, *mode, base_url + "hello.txt").heads[0]
    head = run_curl(curl, tmp_path, *mode, "--head", base_url + "hello.txt")
    [response] = head.heads
    check_well_formed(response.status_line, response.fields, 200)
    check_file_fields(response.fields, path)
    assert [f for f in response.fields if f[0] != "Date"] == [f for f in get.fields if f[0] != "Date"]
    assert head.body == b"\r\n".join([response.status_line.encode()] + [f"{n}: {v}".encode() for n, v in response.fields]) + b"\r\n\r\n"
    raw = run_curl(curl, tmp_path, *mode, "--request", "HEAD", "--write-out", "%{stderr}downloaded %{size_download}\n", base_url + "hello.txt", expect_exit=(0, 18))
    assert "downloaded 0\n" in raw.stderr
    assert raw.body == b""


@pytest.mark.parametrize("name", ["bytes.bin", "large.bin"])
@pytest.mark.parametrize(("mode", "version"), CURL_MODES)
def test_curl_post_to_sink(curl, base_url, site, tmp_path, mode, version, name):
    result = run_curl(curl, tmp_path, *mode, "--data-binary", f"@{site / name}", base_url + SINK_PATH.lstrip("/"))
    [head] = result.heads
    check_well_formed(head.status_line, head.fields, 201)
    assert head.get("Content-Length") == str(len(result.body))
    check_sink_answer(result.body, (site / name).read_bytes())


@pytest.mark.parametrize(("mode", "version"), CURL_MODES)
def test_curl_conditional_get(curl, base_url, site, tmp_path, mode, version):
    path = site / "hello.txt"
    modified = last_modified(path)
    for condition in (["--time-cond", modified], ["--header", f"If-Modified-Since: {modified}"]):
        result = run_curl(curl, tmp_path, *mode, *condition, base_url + "hello.txt")
        [head] = result.heads
        check_well_formed(head.status_line, head.fields, 304)
        assert head.get("Last-Modified") == modified
        assert head.get("Content-Length") is None
        assert result.body == b""
    older = run_curl(curl, tmp_path, *mode, "--time-cond", LONG_AGO, base_url + "hello.txt")
    check_well_formed(older.heads[0].status_line, older.heads[0].fields, 200)
    check_file_fields(older.heads[0].fields, path)
    assert older.body == path.read_bytes()


@pytest.mark.parametrize(("mode", "version"), CURL_MODES)
def test_curl_missing_file_is_404(curl, base_url, tmp_path, mode, version):
    result = run_curl(curl, tmp_path, *mode, base_url + "no-such-file.txt")
    [head] = result.heads
    check_well_formed(head.status_line, head.fields, 404)
    assert head.get("Content-Length") == str(len(result.body))
    assert b"404" in result.body


@pytest.mark.parametrize(("mode", "version"), CURL_MODES)
def test_curl_directory_redirects_and_location_is_followed(curl, base_url, site, tmp_path, mode, version):
    """/dir is 301 with an absolute Location (RFC 1945 10.11: absoluteURI); ``-L`` gets the listing."""
    moved = run_curl(curl, tmp_path, *mode, base_url + "dir")
    [head] = moved.heads
    check_well_formed(head.status_line, head.fields, 301)
    assert head.get("Location") == base_url + "dir/"
    followed = run_curl(curl, tmp_path, *mode, "--location", "--write-out", "%{stderr}%{url_effective}\n", base_url + "dir")
    assert [h.status for h in followed.heads] == [301, 200]
    check_well_formed(followed.heads[1].status_line, followed.heads[1].fields, 200)
    assert followed.heads[1].get("Content-Length") == str(len(followed.body))
    assert followed.stderr.rstrip("\n").endswith(base_url + "dir/")
    assert b'href="/dir/inner.txt"' in followed.body


# ---------------------------------------------------------------- http.client


def connection(base_url: str) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(base_url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=CLIENT_TIMEOUT)


def exchange(conn: http.client.HTTPConnection, method: str, path: str, **kwargs) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, **kwargs)
    response = conn.getresponse()
    return response, response.read()


def status_line(response: http.client.HTTPResponse) -> str:
    assert response.version == 10, f"http.client read HTTP version {response.version}"
    return f"HTTP/1.0 {response.status} {response.reason}"


@pytest.mark.parametrize("name", FILES)
def test_http_client_get(base_url, site, name):
    """One HTTPConnection, two GETs: the server closes after each (HTTP/1.0) and http.client reconnects."""
    conn = connection(base_url)
    try:
        for _ in range(2):
            response, body = exchange(conn, "GET", "/" + name)
            check_well_formed(status_line(response), response.getheaders(), 200)
            check_file_fields(response.getheaders(), site / name)
            assert response.will_close
            assert body == (site / name).read_bytes()
    finally:
        conn.close()


def test_http_client_head(base_url, site):
    conn = connection(base_url)
    try:
        get, _ = exchange(conn, "GET", "/bytes.bin")
        head, body = exchange(conn, "HEAD", "/bytes.bin")
    finally:
        conn.close()
    check_well_formed(status_line(head), head.getheaders(), 200)
    check_file_fields(head.getheaders(), site / "bytes.bin")
    assert [f for f in head.getheaders() if f[0] != "Date"] == [f for f in get.getheaders() if f[0] != "Date"]
    assert body == b""


@pytest.mark.parametrize("name", ["bytes.bin", "large.bin"])
def test_http_client_post_to_sink(base_url, site, name):
    data = (site / name).read_bytes()
    conn = connection(base_url)
    try:
        response, body = exchange(conn, "POST", SINK_PATH, body=data, headers={"Content-Type": "application/octet-stream"})
    finally:
        conn.close()
    check_well_formed(status_line(response), response.getheaders(), 201)
    check_sink_answer(body, data)


def test_http_client_conditional_get(base_url, site):
    path = site / "index.html"
    conn = connection(base_url)
    try:
        not_modified, body = exchange(conn, "GET", "/index.html", headers={"If-Modified-Since": last_modified(path)})
        modified, full = exchange(conn, "GET", "/index.html", headers={"If-Modified-Since": LONG_AGO})
    finally:
        conn.close()
    check_well_formed(status_line(not_modified), not_modified.getheaders(), 304)
    assert not_modified.getheader("Last-Modified") == last_modified(path)
    assert body == b""
    check_well_formed(status_line(modified), modified.getheaders(), 200)
    check_file_fields(modified.getheaders(), path)
    assert full == path.read_bytes()


# ---------------------------------------------------------------- urllib


def test_urllib_get_file(base_url, site):
    with urllib.request.urlopen(base_url + "large.bin", timeout=CLIENT_TIMEOUT) as response:
        body = response.read()
        fields = response.getheaders()
    assert response.status == 200
    check_well_formed(f"HTTP/1.0 200 {response.reason}", fields, 200)
    check_file_fields(fields, site / "large.bin")
    assert body == (site / "large.bin").read_bytes()


def test_urllib_follows_the_directory_redirect(base_url, site):
    with urllib.request.urlopen(base_url + "dir", timeout=CLIENT_TIMEOUT) as response:
        body = response.read()
    assert response.status == 200
    assert response.url == base_url + "dir/"
    assert b'href="/dir/inner.txt"' in body
    with urllib.request.urlopen(response.url + "inner.txt", timeout=CLIENT_TIMEOUT) as inner:
        assert inner.read() == (site / "dir" / "inner.txt").read_bytes()


def test_urllib_missing_file_raises_404(base_url):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(base_url + "no-such-file.txt", timeout=CLIENT_TIMEOUT)
    with caught.value as error:
        assert error.code == 404
        assert b"404" in error.read()


# ---------------------------------------------------------------- a slow reader


@pytest.mark.slow  # 2.5 s of waiting; the rest of the module takes about 3 s
def test_a_slow_reader_gets_the_whole_file(base_url, site):
    """A client on a slow link: a small receive window, nothing read for 2.5 s, then everything.

    The server once reset every connection 2 s after queueing its response,
    sent or not; a reader slower than that lost the rest of the body.
    """
    size = 24 << 20  # more than the kernel's send and receive buffers hold
    (site / "huge.bin").write_bytes(bytes(size))
    url = urllib.parse.urlsplit(base_url)
    received = bytearray()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.settimeout(CLIENT_TIMEOUT)
        sock.connect((url.hostname, url.port))
        sock.sendall(b"GET /huge.bin HTTP/1.0\r\n\r\n")
        time.sleep(2.5)
        try:
            while chunk := sock.recv(1 << 16):
                received += chunk
        except ConnectionResetError:
            pass
    _head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert len(body) == size, f"got {len(body)} of {size} body octets"


# ---------------------------------------------------------------- the command itself


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_without_root_serves_the_sample_site_and_stops_cleanly(sig):
    with postel_serve_http() as (proc, url, what):
        assert what.startswith("the sample site in ")
        root = Path(what.removeprefix("the sample site in "))
        with urllib.request.urlopen(url + "hello.txt", timeout=CLIENT_TIMEOUT) as response:
            assert response.read() == (root / "hello.txt").read_bytes() == b"hello, world\n"
        proc.send_signal(sig)
        assert proc.wait(STOP_TIMEOUT) == 0
        assert proc.stderr.read() == b""
    assert not root.parent.exists(), f"the temporary sample site {root.parent} outlived the server"


@pytest.mark.parametrize("what", ["missing", "file"])
def test_root_that_is_no_directory_exits_2_with_one_line(tmp_path, what):
    root = tmp_path / "nonexistent"
    if what == "file":
        root.write_text("not a folder\n")
    proc = subprocess.run([POSTEL, "serve", "http", "--root", str(root)], capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("postel: ") and str(root) in line


def test_udp_port_is_for_time_only():
    proc = subprocess.run([POSTEL, "serve", "http", "--udp-port", "3737"], capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["postel: --udp-port is for 'serve time' only"]
