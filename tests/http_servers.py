"""Two real HTTP servers, started for one test: CPython's ``http.server`` and nginx.

Why these two: the HTTP suites were written against postel's own reference
server, and a harness that only meets its own server can share its misreadings
of the RFCs.  ``python -m http.server`` (``http.server.SimpleHTTPRequestHandler``)
and nginx are independent, widely used readings of HTTP/1.0 and 1.1.

Both serve the same temporary site, made by
:func:`postel.protocols.http.site.make_sample_site` (the reference server's own
sample site): ``/index.html``, ``/hello.txt``, ``/bytes.bin``, ``/dir/inner.txt``,
a secret file *beside* the document root (``ROOT/../postel-outside-root.txt``,
with a marker sentence in it) and ``/escape``, a symlink in the root pointing
at that secret.  :func:`target_options` names those paths for the suites.

How nginx is started, and why that way:

- ``nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/error.log -g 'daemon off;'``:
  ``daemon off`` keeps the master in the foreground, so the PID of our
  ``Popen`` is the master and we stop it by that PID (SIGTERM is nginx's "fast
  shutdown"; then SIGKILL to its process group, which holds the workers: it is
  started in a session of its own).  ``-e`` because a packaged nginx opens its
  compiled-in error log (``/var/log/nginx/error.log`` on some builds) before it
  reads the configuration.
- Everything nginx writes (pid, lock file, error and access log, the five temp
  folders) is inside PREFIX, a temporary folder; the configuration includes
  nothing from ``/etc/nginx`` (no ``mime.types``: a two-line ``types`` block).
- Unprivileged: when the test runs as root (CI containers do), nginx is started
  as ``nobody`` (``Popen(user=..., group=...)``) and PREFIX is handed to that
  user; the site is world-readable, the secret too, so a refusal to serve it is
  nginx's decision, not a permission error.  Run as any other user, nginx runs
  as that user.  Either way the master never has root, so the ``user``
  directive is not written.
- ``client_header_timeout 10s`` (the default is 60 s) so the slowloris check is
  quick; :data:`NGINX_HEADER_TIMEOUT` is passed to the suites as ``slow_limit``
  with some slack.  ``autoindex off`` (the default, written out).
- ``disable_symlinks`` is left at its default, ``off``: nginx then follows a
  symlink out of the root, and whether that is allowed is for the suites to
  judge (RFC 1945 12.5), not for this helper to hide.  ``nginx_http(disable_symlinks="on")``
  writes the directive, to show that the deviation is a configuration default.

``python -m http.server --bind 127.0.0.1 PORT --directory ROOT`` is run with
``sys.executable``.  Either server is ready when it answers ``GET /hello.txt``
with 200 (so a site it cannot read is a startup error, not a suite verdict).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.daemons import DaemonError, start_on_free_port, stop, tail
from postel.protocols.http.site import SECRET_NAME, SECRET_TEXT, make_sample_site

__all__ = [
    "NGINX_HEADER_TIMEOUT",
    "HttpServerError",
    "NginxUnavailable",
    "RunningServer",
    "find_nginx",
    "nginx_http",
    "nginx_version",
    "python_http_server",
    "render_nginx_config",
    "target_options",
]

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
NGINX_HEADER_TIMEOUT = 10  # seconds: client_header_timeout in the generated nginx.conf
RESOURCE = "/hello.txt"  # a small text file of the sample site
SYMLINK = "/escape"  # the sample site's symlink to the secret beside the root
DIRECTORY = "/dir"
# Temp folders of the modules a stock nginx has; a build "--without-http_X_module" lacks the directive.
TEMP_PATHS = {"client_body": None, "proxy": "http_proxy", "fastcgi": "http_fastcgi", "uwsgi": "http_uwsgi", "scgi": "http_scgi"}


class NginxUnavailable(RuntimeError):
    """nginx is not installed here."""


class HttpServerError(DaemonError):
    """The server is installed but did not come up."""


@dataclass(frozen=True)
class RunningServer:
    """A server serving the sample site: where, as which process, and the site's paths."""

    url: str  # http://127.0.0.1:PORT/hello.txt
    port: int
    pid: int
    root: Path
    secret: Path  # the file outside the root


def target_options(server: RunningServer) -> dict[str, str]:
    """The ``--target-option``s that name the sample site's files (see suites/http/checks.py)."""
    return {
        "resource": RESOURCE,
        "directory": DIRECTORY,
        # Relative to the root's parent: the traversal probes reach it with one "../".
        "traversal_file": server.secret.relative_to(server.root.parent).as_posix(),
        "traversal_marker": SECRET_TEXT,
        "symlink": SYMLINK,
    }


def find_nginx() -> str | None:
    """``nginx`` on PATH, or in the sbin folders a non-root PATH often lacks."""
    return shutil.which("nginx") or shutil.which("nginx", path=os.pathsep.join(SBIN_DIRS))


def nginx_version(binary: str | None = None) -> str:
    """``nginx/1.22.1`` (from ``nginx -v``, which prints to stderr)."""
    binary = binary or find_nginx()
    if binary is None:
        raise NginxUnavailable("nginx is not installed")
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def _configure_arguments(binary: str) -> str:
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10)
    return out.stderr + out.stdout


def render_nginx_config(
    prefix: Path, root: Path, port: int, host: str = "127.0.0.1", *, without: str = "", disable_symlinks: str | None = None
) -> str:
    """The whole nginx.conf: one static server for ``root`` on ``host:port``, all state in ``prefix``.

    ``without`` is ``nginx -V``'s output: a temp-path directive is left out for a
    module the build lacks (it would be an unknown directive).  ``disable_symlinks``
    (``"on"``, ``"if_not_owner"``) is written only when given: nginx's default is off.
    """
    symlinks = (
        f"        disable_symlinks {disable_symlinks};\n"
        if disable_symlinks
        else "        # disable_symlinks: left at its default (off) on purpose; the suites judge /escape.\n"
    )
    temp = "".join(
        f"    {name}_temp_path {prefix / ('temp_' + name)};\n"
        for name, module in TEMP_PATHS.items()
        if module is None or f"--without-{module}_module" not in without
    )
    return (
        "# generated by tests/http_servers.py\n"
        "worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"lock_file {prefix / 'nginx.lock'};\n"
        f"error_log {prefix / 'error.log'} notice;\n"
        "events {\n    worker_connections 512;\n}\n"
        "http {\n"
        "    types {\n        text/html html;\n        text/plain txt;\n    }\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}"
        f"    client_header_timeout {NGINX_HEADER_TIMEOUT}s;\n"
        "    server {\n"
        f"        listen {host}:{port};\n"
        "        server_name localhost;\n"
        f"        root {root};\n"
        "        index index.html;\n"
        "        autoindex off;\n"
        f"{symlinks}"
        "    }\n"
        "}\n"
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _make_site(folder: Path) -> tuple[Path, Path]:
    """The sample site in ``folder/root``, its secret in ``folder``; world-readable."""
    root = make_sample_site(folder / "root")
    secret = folder / SECRET_NAME
    for path in (folder, root, root / "dir"):
        path.chmod(0o755)
    for path in (secret, *root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o644)
    return root, secret


def _unprivileged() -> pwd.struct_passwd | None:
    """``nobody``'s entry when we are root (nginx must not keep root), else None: run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise HttpServerError("running as root, and there is no user 'nobody' to run nginx as") from None


@contextmanager
def nginx_http(host: str = "127.0.0.1", *, disable_symlinks: str | None = None, startup_timeout: float = 10.0) -> Iterator[RunningServer]:
    """Run nginx on a free high port, serving the sample site; yields a :class:`RunningServer`.

    Raises :class:`NginxUnavailable` when nginx is not installed and
    :class:`HttpServerError` (with nginx's log) when it does not come up.
    nginx is stopped on exit: SIGTERM, then SIGKILL to its process group after 5 s.
    """
    binary = find_nginx()
    if binary is None:
        raise NginxUnavailable("nginx is not installed (not on PATH, nor in " + ", ".join(SBIN_DIRS) + "); Debian/Ubuntu: apt-get install nginx-light")
    built = _configure_arguments(binary)
    account = _unprivileged()
    with tempfile.TemporaryDirectory(prefix="postel-nginx-") as tmp:
        folder = Path(tmp)
        root, secret = _make_site(folder)
        prefix = folder / "nginx"
        prefix.mkdir()
        if account is not None:
            os.chown(prefix, account.pw_uid, account.pw_gid)
        drop = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
        conf, log = prefix / "nginx.conf", prefix / "error.log"

        def launch(port: int, attempt: int) -> subprocess.Popen:
            conf.write_text(render_nginx_config(prefix, root, port, host, without=built, disable_symlinks=disable_symlinks))
            command = [binary, "-p", f"{prefix}/", "-c", str(conf), "-e", str(log), "-g", "daemon off;"]
            with open(folder / "nginx.out", "wb") as out:
                return subprocess.Popen(command, cwd=prefix, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **drop)

        proc, port = start_on_free_port(
            f"nginx ({binary}) on {host}",
            lambda: _free_port(host),
            launch,
            lambda proc, port: _wait_until_serving(proc, host, port, startup_timeout, (log, folder / "nginx.out")),
            lambda port: f"\nconfig:\n{conf.read_text()}",
            HttpServerError,
        )
        try:
            yield RunningServer(f"http://{host}:{port}{RESOURCE}", port, proc.pid, root, secret)
        finally:
            stop(proc)


@contextmanager
def python_http_server(host: str = "127.0.0.1", *, startup_timeout: float = 10.0) -> Iterator[RunningServer]:
    """Run ``python -m http.server`` (this interpreter's) on a free high port, serving the sample site."""
    with tempfile.TemporaryDirectory(prefix="postel-httpserver-") as tmp:
        folder = Path(tmp)
        root, secret = _make_site(folder)

        def launch(port: int, attempt: int) -> subprocess.Popen:
            command = [sys.executable, "-m", "http.server", "--bind", host, str(port), "--directory", str(root)]
            with open(folder / f"http.server-{attempt}.log", "wb") as out:
                return subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        proc, port = start_on_free_port(
            f"python -m http.server on {host}",
            lambda: _free_port(host),
            launch,
            lambda proc, port: _wait_until_serving(proc, host, port, startup_timeout, tuple(folder.glob("http.server-*.log"))),
            error=HttpServerError,
        )
        try:
            yield RunningServer(f"http://{host}:{port}{RESOURCE}", port, proc.pid, root, secret)
        finally:
            stop(proc)


def _wait_until_serving(proc: subprocess.Popen, host: str, port: int, timeout: float, logs: tuple[Path, ...]) -> str:
    """'' once the server answers ``GET RESOURCE`` with 200 on ``host:port``; otherwise what went wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode}\n" + "".join(tail(log) for log in logs)
        try:
            sock = socket.create_connection((host, port), timeout=1.0)
        except OSError:
            time.sleep(0.02)  # not accepting yet: try again
            continue
        with sock:
            status = _first_line(sock, host, port)
        if b" 200 " in status:
            return ""
        # Accepting, but not serving the site (a permission problem, a wrong root): say so.
        return f"GET {RESOURCE} was answered {status!r}, not 200\n" + "".join(tail(log) for log in logs)
    return f"not serving within {timeout:g}s\n" + "".join(tail(log) for log in logs)


def _first_line(sock: socket.socket, host: str, port: int) -> bytes:
    """The status-line of ``GET RESOURCE``: proof that the site itself is served."""
    try:
        sock.settimeout(5.0)
        sock.sendall(f"GET {RESOURCE} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data and len(data) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        return f"({exc})".encode()
    return data.split(b"\r\n", 1)[0]
