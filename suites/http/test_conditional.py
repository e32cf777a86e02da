"""Conditional GET with If-Modified-Since (RFC 1945 10.9, RFC 9110 13.1.3 and 15.4.5)."""

from __future__ import annotations

import pytest

from postel.protocols.http.dates import DAYS, LONG_DAYS, MONTHS, DateError, parse_http_date
from postel.suites.http.checks import describe, expect_answer, expect_length_of_get, fetch, field_names, request, resource

pytestmark = pytest.mark.service("http")

LONG_AGO = b"Sun, 06 Nov 1994 08:49:37 GMT"  # RFC 9110's example date, before any file we fetch


def _modified(expect, target, wire, requirement: str):
    """GET the resource and return (exchange, its Last-Modified); n/a without one."""
    ex = fetch(target, wire, request(target), label="GET (unconditional)")
    expect_answer(expect, ex, requirement)
    if ex.response.status_code != 200:
        expect.inconclusive(f"GET {resource(target).decode('latin-1')} gave {describe(ex)}, not 200")
    value = ex.response.headers.get(b"last-modified")
    if value is None:
        expect.not_applicable("the resource has no Last-Modified, so If-Modified-Since has nothing to compare with")
    return ex, value


def _conditional(target, wire, since: bytes, label: str):
    return fetch(target, wire, request(target, fields=[(b"If-Modified-Since", since)]), label=label)


@pytest.mark.requirement("rfc1945/10.9/4", "rfc9110/15.4.5/3", "rfc1945/7.2/4", "rfc9110/15.4.5/1", "rfc9110/8.6/2")
def test_unmodified_resource_gets_304_without_body(target, wire, expect):
    """If-Modified-Since equal to Last-Modified: 304, no body, and the fields a 200 would carry."""
    full, modified = _modified(expect, target, wire, "rfc1945/10.9/4")
    ex = _conditional(target, wire, modified, "GET, If-Modified-Since: Last-Modified")
    expect_answer(expect, ex, "rfc1945/10.9/4")
    expect.must(ex.response.status_code == 304, "rfc1945/10.9/4", expected=["304 Not Modified"], actual=describe(ex))
    expect.must(not ex.body, "rfc9110/15.4.5/3", expected=["no content after a 304's header section"], actual=f"{len(ex.body)} octets")
    carried = {b"date", b"etag", b"content-location", b"vary", b"cache-control", b"expires"} & field_names(full)
    expect.must(
        carried <= field_names(ex),
        "rfc9110/15.4.5/1",
        expected=[f"the 200's {sorted(n.decode() for n in carried)} also in the 304"],
        actual=f"304 fields: {sorted(n.decode() for n in field_names(ex))}",
    )
    expect_length_of_get(expect, ex, full.body, "rfc9110/8.6/2")


@pytest.mark.requirement("rfc1945/10.9/3")
def test_modified_resource_gets_the_full_response(target, wire, expect):
    """If-Modified-Since long before Last-Modified: exactly the unconditional GET's response."""
    full, _modified_at = _modified(expect, target, wire, "rfc1945/10.9/3")
    ex = _conditional(target, wire, LONG_AGO, "GET, If-Modified-Since: 1994")
    expect_answer(expect, ex, "rfc1945/10.9/3")
    expect.must(
        ex.response.status_code == 200 and ex.body == full.body,
        "rfc1945/10.9/3",
        expected=[f"200 with the {len(full.body)} octets of a normal GET"],
        actual=f"{describe(ex)} with {len(ex.body)} octets",
    )


@pytest.mark.requirement("rfc1945/10.9/1", "rfc9110/13.1.3/2")
@pytest.mark.parametrize("since", [b"yesterday", b"Sun, 32 Nov 1994 08:49:37 GMT", b"Mon, 06 Nov 1994 08:49:37 GMT"], ids=["words", "no-such-day", "wrong-weekday"])
def test_invalid_if_modified_since_is_ignored(target, wire, expect, since):
    """A field value that is not an HTTP-date is ignored: the response is the normal GET's."""
    full, _modified_at = _modified(expect, target, wire, "rfc1945/10.9/1")
    ex = _conditional(target, wire, since, f"GET, If-Modified-Since: {since.decode()}")
    expect_answer(expect, ex, "rfc9110/13.1.3/2")
    expect.must(
        ex.response.status_code == 200 and ex.body == full.body,
        "rfc9110/13.1.3/2",
        expected=["200 with the normal body: an invalid If-Modified-Since is ignored"],
        actual=describe(ex),
    )


@pytest.mark.requirement("rfc9110/5.6.7/1", "rfc1945/10.9/4")
@pytest.mark.parametrize("form", ["rfc850", "asctime"])
def test_if_modified_since_is_read_in_every_date_format(target, wire, expect, form):
    """The obsolete formats name the same moment: "MUST accept all three HTTP-date formats"."""
    _full, modified = _modified(expect, target, wire, "rfc9110/5.6.7/1")
    try:
        moment, _ = parse_http_date(modified)
    except DateError:
        expect.inconclusive(f"Last-Modified {modified!r} is not an HTTP-date (the Last-Modified test reports it)")
    # A server that ignores If-Modified-Since altogether fails the 304 test, not this one.
    fixdate = _conditional(target, wire, modified, "GET, If-Modified-Since in IMF-fixdate")
    expect_answer(expect, fixdate, "rfc9110/5.6.7/1")
    if fixdate.response.status_code != 304:
        expect.inconclusive(f"even the IMF-fixdate If-Modified-Since got {describe(fixdate)}, not 304")
    month = MONTHS[moment.month - 1]
    if form == "rfc850":
        since = f"{LONG_DAYS[moment.weekday()]}, {moment.day:02d}-{month}-{moment.year % 100:02d} {moment:%H:%M:%S} GMT"
    else:
        since = f"{DAYS[moment.weekday()]} {month} {moment.day:2d} {moment:%H:%M:%S} {moment.year}"
    ex = _conditional(target, wire, since.encode(), f"GET, If-Modified-Since in {form}")
    expect_answer(expect, ex, "rfc9110/5.6.7/1")
    expect.must(
        ex.response.status_code == 304,
        "rfc9110/5.6.7/1",
        expected=[f"304, as for the IMF-fixdate {modified.decode()}"],
        actual=f"{describe(ex)} for If-Modified-Since: {since}",
    )


@pytest.mark.requirement("rfc1945/4.2/2", "rfc1945/10.9/4")
def test_field_names_are_case_insensitive(target, wire, expect):
    """"iF-mOdIfIeD-sInCe" is If-Modified-Since: the 304 must not depend on the case of the name."""
    _full, modified = _modified(expect, target, wire, "rfc1945/4.2/2")
    plain = _conditional(target, wire, modified, "GET, If-Modified-Since")
    expect_answer(expect, plain, "rfc1945/10.9/4")
    if plain.response.status_code != 304:
        expect.inconclusive(f"even If-Modified-Since spelled as usual got {describe(plain)}, not 304")
    odd = fetch(target, wire, request(target, fields=[(b"iF-mOdIfIeD-sInCe", modified)]), label="GET, iF-mOdIfIeD-sInCe")
    expect_answer(expect, odd, "rfc1945/4.2/2")
    expect.must(odd.response.status_code == 304, "rfc1945/4.2/2", expected=["304, as for If-Modified-Since"], actual=describe(odd))
