"""Responses to well-formed HTTP/1.0 requests: status-line, Date, length, HEAD, close (RFC 1945, RFC 9110, RFC 9112)."""

from __future__ import annotations

import hashlib
import urllib.parse

import pytest

from postel.protocols.http.dates import DateError, parse_http_date
from postel.protocols.http.events import Request
from postel.suites.http.checks import (
    describe,
    directory,
    expect_answer,
    expect_closed,
    expect_date,
    expect_length_of_get,
    fetch,
    field_names,
    missing,
    post_path,
    request,
    resource,
    send,
    status_class,
)

pytestmark = pytest.mark.service("http")

# Fields whose value may differ between two responses to the same request.
VOLATILE = {b"date", b"expires", b"set-cookie", b"age", b"x-request-id"}


def _get_ok(expect, target, wire, requirement: str, label: str = "GET"):
    """GET the resource; anything but a 200 means the suite cannot judge what follows."""
    ex = fetch(target, wire, request(target), label=label)
    expect_answer(expect, ex, requirement)
    if ex.response.status_code != 200:
        expect.inconclusive(f"GET {resource(target).decode('latin-1')} gave {describe(ex)}, not 200: set --target-option resource=/a/file")
    return ex


@pytest.mark.requirement("rfc9112/4/1", "rfc1945/6.1/1", "rfc9112/2.3/2", "rfc1945/6/1", "rfc9110/6.2/1")
def test_status_line_is_http_version_code_reason(target, wire, expect):
    """The first line is ``HTTP/1.x 3DIGIT SP reason CRLF``; the strict codec rejects anything else."""
    ex = fetch(target, wire, request(target))
    expect_answer(expect, ex, "rfc1945/6.1/1", simple_ok=True)
    if ex.response.simple:
        case_only = ex.raw[:5].upper() == b"HTTP/"
        first_line = ex.raw.split(b"\r\n", 1)[0][:80]
        expect.must(
            not case_only,
            "rfc9112/2.3/2",
            expected=["'HTTP/' in capitals: HTTP-version is case-sensitive"],
            actual=f"status-line {first_line!r}",
        )
        expect.should(False, "rfc1945/6/1", expected=["a Status-Line in answer to a Full-Request"], actual=f"a response without one: {ex.raw[:60]!r}")
    expect.should(
        ex.response.http_version.startswith(b"1."),
        "rfc9110/6.2/1",
        expected=["a response version with major version 1 (the request's) "],
        actual=f"HTTP/{ex.response.http_version.decode()}",
    )


@pytest.mark.requirement("rfc9110/6.6.1/2", "rfc9110/5.6.7/2", "rfc9110/6.6.1/1")
@pytest.mark.parametrize("which", ["found", "missing"])
def test_date_is_present_and_an_imf_fixdate(target, wire, expect, which):
    """Date on a 2xx and on a 4xx, in IMF-fixdate, close to our clock."""
    ex = fetch(target, wire, request(target, path=resource(target) if which == "found" else missing(target)))
    expect_answer(expect, ex, "rfc9110/6.6.1/2")
    if status_class(ex) not in (2, 3, 4):
        expect.not_applicable(f"{describe(ex)}: Date is required on 2xx, 3xx and 4xx only")
    expect_date(expect, target, ex)


@pytest.mark.requirement("rfc1945/7.2.2/1", "rfc9112/6.3/7", "rfc9110/8.6/4")
def test_content_length_equals_the_body(target, wire, expect):
    """Content-Length is sent and counts the octets that follow; the codec reads exactly that many."""
    ex = _get_ok(expect, target, wire, "rfc1945/7.2.2/1")
    declared = ex.response.headers.get(b"content-length")
    expect.should(
        declared is not None,
        "rfc9110/8.6/4",
        expected=["a Content-Length for a static file, whose size is known before the header section is sent"],
        actual="no Content-Length: the body is delimited by the close",
    )
    if declared is not None:
        expect.must(
            declared == str(len(ex.body)).encode(),
            "rfc1945/7.2.2/1",
            expected=[f"Content-Length: {len(ex.body)} (the octets received before the close)"],
            actual=f"Content-Length: {declared.decode('latin-1')}",
        )


@pytest.mark.requirement("rfc1945/7.2.2/2", "rfc9112/6.3/11", "rfc1945/1.3/1")
def test_body_ends_at_a_declared_length_or_at_the_close(target, wire, expect):
    """Two GETs of a static file read the same body, whether it is length- or close-delimited."""
    first = _get_ok(expect, target, wire, "rfc1945/1.3/1", "GET 1")
    second = _get_ok(expect, target, wire, "rfc1945/1.3/1", "GET 2")
    expect_closed(expect, first, "rfc1945/1.3/1", wire.timeout)
    expect_closed(expect, second, "rfc1945/1.3/1", wire.timeout)
    close_delimited = b"content-length" not in field_names(first)
    expect.should(
        not close_delimited,
        "rfc9112/6.3/11",
        expected=["length-delimiting metadata, so a truncated body can be told from a complete one"],
        actual="a close-delimited body",
    )
    if close_delimited:
        expect.must(
            first.body == second.body,
            "rfc1945/7.2.2/2",
            expected=["the same body both times, ended by the server's close"],
            actual=f"{len(first.body)} octets, then {len(second.body)} octets",
        )


@pytest.mark.requirement("rfc9110/9.3.2/1", "rfc1945/8.2/1", "rfc9110/9.3.2/2", "rfc9110/8.6/1")
def test_head_has_no_body_and_the_fields_of_get(target, wire, expect):
    """HEAD: the same status and fields as GET, no body (octets after the head fail rfc9110/9.3.2/1)."""
    get = _get_ok(expect, target, wire, "rfc9110/9.3.2/1")
    head = fetch(target, wire, request(target, b"HEAD"))
    expect_answer(expect, head, "rfc1945/8.2/1")
    expect.must(not head.body, "rfc1945/8.2/1", expected=["no Entity-Body after the HEAD response's header section"], actual=f"{len(head.body)} octets of body")
    expect.should(
        head.response.status_code == get.response.status_code and field_names(get) - VOLATILE <= field_names(head),
        "rfc9110/9.3.2/2",
        expected=[f"{get.response.status_code} with the fields of GET: {sorted(n.decode() for n in field_names(get) - VOLATILE)}"],
        actual=f"{describe(head)} with {sorted(n.decode() for n in field_names(head))}",
    )
    expect_length_of_get(expect, head, get.body, "rfc9110/8.6/1")


@pytest.mark.requirement("rfc9110/8.8.2.1/1", "rfc9110/8.8.2.1/2", "rfc9110/5.6.7/2")
def test_last_modified_is_an_imf_fixdate_not_after_date(target, wire, expect):
    ex = _get_ok(expect, target, wire, "rfc9110/8.8.2.1/2")
    value = ex.response.headers.get(b"last-modified")
    expect.should(value is not None, "rfc9110/8.8.2.1/1", expected=["Last-Modified on a static file"], actual="no Last-Modified field")
    if value is None:
        return
    try:
        modified, form = parse_http_date(value)
    except DateError as exc:
        modified, form = None, str(exc)
    expect.must(form == "imf-fixdate", "rfc9110/5.6.7/2", expected=["Last-Modified in IMF-fixdate"], actual=f"Last-Modified: {value.decode('latin-1')} ({form})")
    date = ex.response.headers.get(b"date")
    if date is not None:
        try:
            sent, _ = parse_http_date(date)
        except DateError:
            return  # the Date test reports that
        expect.must(
            modified <= sent,
            "rfc9110/8.8.2.1/2",
            expected=[f"Last-Modified no later than Date ({date.decode('latin-1')})"],
            actual=f"Last-Modified: {value.decode('latin-1')}",
        )


@pytest.mark.requirement("rfc1945/7.2.1/1", "rfc9110/8.3/1")
def test_a_body_comes_with_its_content_type(target, wire, expect):
    ex = _get_ok(expect, target, wire, "rfc1945/7.2.1/1")
    if not ex.body:
        expect.not_applicable("the resource is empty")
    expect.should(b"content-type" in field_names(ex), "rfc1945/7.2.1/1", expected=["a Content-Type for the body"], actual="no Content-Type field")


@pytest.mark.requirement("rfc1945/1.3/1", "rfc9112/9.6/2", "rfc9112/6.1/2")
@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
def test_server_closes_after_the_response(target, wire, expect, version):
    """HTTP/1.0: one request per connection.  HTTP/1.1 with "Connection: close": the server closes too."""
    fields = [(b"Connection", b"close")] if version == b"1.1" else []
    ex = fetch(target, wire, request(target, version=version, fields=fields), label=f"GET, HTTP/{version.decode()}")
    rule = "rfc1945/1.3/1" if version == b"1.0" else "rfc9112/9.6/2"
    expect_answer(expect, ex, rule)
    expect_closed(expect, ex, rule, wire.timeout)
    if version == b"1.0":
        expect.must(
            b"transfer-encoding" not in field_names(ex),
            "rfc9112/6.1/2",
            expected=["no Transfer-Encoding in a response to an HTTP/1.0 request"],
            actual=f"Transfer-Encoding: {(ex.response.headers.get(b'transfer-encoding') or b'').decode('latin-1')}",
        )


@pytest.mark.requirement("rfc1945/9.4/4", "rfc9110/15.5/1", "rfc1945/7.2/5")
def test_a_missing_resource_is_not_found(target, wire, expect):
    """A path nobody has: 404 (or another 4xx), with a short explanation."""
    path = missing(target)
    ex = fetch(target, wire, request(target, path=path))
    expect_answer(expect, ex, "rfc1945/9.4/4")
    expect.must(
        status_class(ex) == 4,
        "rfc1945/9.4/4",
        expected=["404 Not Found (or another 4xx)"],
        actual=f"{describe(ex)} for {path.decode('latin-1')}",
    )
    expect.must(
        bool(ex.body) or ex.response.headers.get(b"content-length") == b"0",
        "rfc1945/7.2/5",
        expected=["an entity body, or Content-Length: 0"],
        actual="no body and no Content-Length: 0",
    )
    expect.should(bool(ex.body), "rfc9110/15.5/1", expected=["an entity explaining the error"], actual="an empty body")


@pytest.mark.requirement("rfc1945/9.3/1", "rfc1945/9.3/3", "rfc1945/10.11/2", "rfc9110/10.2.2/1")
def test_a_redirect_gives_one_absolute_location(target, wire, expect):
    """A directory without its trailing slash: 301/302 with one Location, an absolute URL."""
    path = directory(target)
    if path is None:
        expect.not_applicable("no directory is known: set --target-option directory=/path")
    ex = fetch(target, wire, request(target, path=path), label=f"GET {path.decode('latin-1')} (no trailing slash)")
    expect_answer(expect, ex, "rfc1945/9.3/1")
    code = ex.response.status_code
    if code not in (301, 302):
        expect.not_applicable(f"{describe(ex)}: the server does not redirect a directory without its slash")
    rule = "rfc1945/9.3/1" if code == 301 else "rfc1945/9.3/3"
    locations = ex.response.headers.get_all(b"location")
    expect.must(bool(locations), rule, expected=[f"a Location field in the {code}"], actual="no Location field")
    expect.must(
        len(locations) == 1 and b" " not in locations[0] and b"," not in locations[0],
        "rfc9110/10.2.2/1",
        expected=["a single URI-reference"],
        actual=f"Location: {b' | '.join(locations)!r}",
    )
    location = locations[0].decode("latin-1")
    absolute = urllib.parse.urlsplit(location)
    expect.must(
        bool(absolute.scheme and absolute.netloc),
        "rfc1945/10.11/2",
        expected=["an absoluteURI (RFC 1945 10.11; RFC 9110 10.2.2 now allows a relative reference: accept this with a baseline if you follow RFC 9110)"],
        actual=f"Location: {location}",
    )
    # What the new URL then serves (a listing, or 403 where listings are off) is another request's business.


@pytest.mark.requirement("rfc9110/9.1/2", "rfc1945/5.1.1/2", "rfc9110/15.5.6/1")
def test_an_unknown_method_is_not_implemented(target, wire, expect):
    ex = fetch(target, wire, request(target, b"POSTELPROBE"))
    expect_answer(expect, ex, "rfc9110/9.1/2")
    code = ex.response.status_code
    if code == 405:
        expect.must(
            b"allow" in field_names(ex),
            "rfc9110/15.5.6/1",
            expected=["an Allow field listing the methods the resource supports"],
            actual="405 without Allow",
        )
    expect.should(code == 501, "rfc9110/9.1/2", expected=["501 Not Implemented"], actual=describe(ex))
    expect.should(code == 501, "rfc1945/5.1.1/2", expected=["501 Not Implemented"], actual=describe(ex))


@pytest.mark.requirement("rfc1945/5.1.1/1")
def test_method_names_are_case_sensitive(target, wire, expect):
    """"get" is not GET: a server that serves the file for it folded the case."""
    get = _get_ok(expect, target, wire, "rfc1945/5.1.1/1")
    ex = send(target, wire, b"get " + resource(target) + b" HTTP/1.0\r\nHost: x\r\n\r\n", "lowercase get")
    expect_answer(expect, ex, "rfc1945/5.1.1/1", simple_ok=True)
    expect.must(
        not (status_class(ex) == 2 and ex.body == get.body),
        "rfc1945/5.1.1/1",
        expected=["an error (501 or 400): the method 'get' is not 'GET'"],
        actual=f"{describe(ex)} with the resource's body",
    )


@pytest.mark.requirement("rfc9110/15.2/1", "rfc1945/9.1/1")
def test_no_1xx_response_to_an_http10_request(target, wire, expect):
    """An HTTP/1.0 request asking for "100-continue" gets its final response, never a 1xx."""
    body = b"postel"
    path = post_path(target) or resource(target)
    data = b"POST %s HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n%s" % (path, len(body), body)
    ex = send(target, wire, data, "POST with Expect: 100-continue", half_close=False)
    first = ex.raw.split(b"\r\n", 1)[0]
    interim = first[:5] == b"HTTP/" and first[9:10] == b"1"
    for rule in ("rfc9110/15.2/1", "rfc1945/9.1/1"):
        expect.must(not interim, rule, expected=["a final status (2xx-5xx) as the first response"], actual=f"first line {first[:60]!r}")
    expect_answer(expect, ex, "rfc1945/9.1/1")


@pytest.mark.requirement("rfc9110/7.8/1")
def test_upgrade_is_ignored_in_http10(target, wire, expect):
    """Upgrade in an HTTP/1.0 request is ignored: the answer is the GET's, never 101."""
    ex = fetch(target, wire, request(target, fields=[(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]))
    expect_answer(expect, ex, "rfc9110/7.8/1")
    expect.must(
        status_class(ex) != 1,
        "rfc9110/7.8/1",
        expected=["the response to a plain GET (Upgrade ignored)"],
        actual=describe(ex),
    )


@pytest.mark.requirement("rfc1945/5/1", "rfc1945/6/3")
def test_simple_request_gets_a_simple_response(target, wire, expect):
    """``GET /path CRLF`` (HTTP/0.9): the entity body alone, ended by the close."""
    get = _get_ok(expect, target, wire, "rfc1945/5/1")
    ex = send(target, wire, b"GET " + resource(target) + b"\r\n", "HTTP/0.9 Simple-Request", half_close=False)
    expect_answer(expect, ex, "rfc1945/5/1", "a Simple-Response", simple_ok=True)
    expect.must(
        ex.response.simple,
        "rfc1945/5/1",
        expected=["the entity body alone, with no Status-Line or header fields"],
        actual=f"a Full-Response: {describe(ex)}",
    )
    expect.must(ex.closed and not ex.timed_out, "rfc1945/6/3", expected=["the server closes after the body"], actual="the connection stayed open")
    expect.must(ex.body == get.body, "rfc1945/5/1", expected=[f"the {len(get.body)} octets GET returns"], actual=f"{len(ex.body)} octets: {ex.body[:60]!r}")


@pytest.mark.requirement("rfc9112/3.2.2/2", "rfc9112/3.2.2/1")
def test_absolute_form_request_target_is_accepted(target, wire, expect):
    """``GET http://host:port/path HTTP/1.0`` with a wrong Host: served from the target URI, not Host."""
    get = _get_ok(expect, target, wire, "rfc9112/3.2.2/2")
    host, port = target.address
    absolute = f"http://{host if ':' not in host else f'[{host}]'}:{port}".encode() + resource(target)
    ex = fetch(target, wire, Request(b"GET", absolute, b"1.0", [(b"Host", b"postel-elsewhere.invalid")]), label="GET, absolute-form")
    expect_answer(expect, ex, "rfc9112/3.2.2/2")
    expect.must(status_class(ex) == 2, "rfc9112/3.2.2/2", expected=["200, as for the origin-form"], actual=describe(ex))
    expect.must(
        ex.body == get.body,
        "rfc9112/3.2.2/1",
        expected=["the resource the absolute-form names (the Host field is ignored)"],
        actual=f"{len(ex.body)} octets that differ from GET's {len(get.body)}",
    )


@pytest.mark.requirement("rfc1945/7.2/1", "rfc1945/8.3/1", "rfc9112/6.3/7")
def test_post_body_is_read_by_its_content_length(target, wire, expect):
    """A POST whose body is framed by Content-Length gets an answer without the client closing."""
    path = post_path(target)
    if path is None:
        expect.not_applicable("no POST resource: set --target-option post=/path")
    body = bytes(range(256)) * 3
    ex = fetch(target, wire, request(target, b"POST", path, fields=[(b"Content-Length", str(len(body)).encode()), (b"Content-Type", b"application/octet-stream")]), body)
    expect_answer(expect, ex, "rfc1945/7.2/1", "a response once the Content-Length octets have arrived (not only after the client closes)")
    expect.must(
        status_class(ex) == 2,
        "rfc1945/8.3/1",
        expected=["200, 201 or 204 for an accepted POST"],
        actual=describe(ex),
    )
    if target.is_reference:
        digest = hashlib.sha256(body).hexdigest().encode()
        expect.must(
            b"%d octets" % len(body) in ex.body and digest in ex.body,
            "rfc9112/6.3/7",
            expected=[f"the sink counted {len(body)} octets, sha256 {digest.decode()}"],
            actual=ex.body[:120].decode("latin-1"),
        )
