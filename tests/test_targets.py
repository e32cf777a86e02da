"""Target URLs: every scheme of DESIGN.md, default ports, credentials, and one-line errors."""

from __future__ import annotations

import pytest

from postel.target import SCHEMES, SERVICES, TargetError, parse_target, reference_target


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "transport", "service"),
    [
        ("time://example.net", "time", "example.net", 37, "tcp", "time"),
        ("time+udp://127.0.0.1:3737", "time+udp", "127.0.0.1", 3737, "udp", "time+udp"),
        ("http://www.example.com/base/", "http", "www.example.com", 80, "tcp", "http"),
        ("ftp://ftp.example.net", "ftp", "ftp.example.net", 21, "tcp", "ftp"),
        ("pop3://mail.example.net", "pop3", "mail.example.net", 110, "tcp", "pop3"),
        ("pop://mail.example.net:1110", "pop", "mail.example.net", 1110, "tcp", "pop3"),
        ("smtp://[::1]:2525", "smtp", "::1", 2525, "tcp", "smtp"),
        ("nntp://news.example.net/comp.lang.python", "nntp", "news.example.net", 119, "tcp", "nntp"),
        ("TIME://Example.net:37", "time", "Example.net", 37, "tcp", "time"),
    ],
)
def test_every_scheme_parses_with_its_default_port(url, scheme, host, port, transport, service):
    target = parse_target(url)
    assert (target.scheme, target.host, target.port, target.transport, target.service) == (scheme, host, port, transport, service)
    assert not target.is_reference


def test_every_design_scheme_is_known_and_every_service_has_a_scheme():
    assert set(SCHEMES) == {"time", "time+udp", "http", "ftp", "pop3", "pop", "smtp", "nntp"}
    assert {s.name if s.name != "pop" else "pop3" for s in SCHEMES.values()} == set(SERVICES)


def test_path_is_kept_and_ftp_path_is_percent_decoded():
    assert parse_target("http://h/base/x?y").path == "/base/x?y"
    assert parse_target("ftp://h/pub%20files/").path == "/pub files/"


def test_credentials_are_parsed_and_never_printed():
    target = parse_target("ftp://alice:s%40cret@ftp.example.net:2121/pub")
    assert (target.user, target.password) == ("alice", "s@cret")
    for text in (repr(target), str(target), target.redacted_url(), f"{target!r} {target}"):
        assert "s@cret" not in text and "s%40cret" not in text
        assert "alice:***@" in text
    assert target.secrets() == ("s@cret",)


def test_pop_url_auth_parameter_rfc2384():
    target = parse_target("pop://rg;auth=+APOP:secret@mail.eudora.com:8110")
    assert (target.user, target.auth, target.password, target.port) == ("rg", "+APOP", "secret", 8110)
    assert "secret" not in repr(target)


def test_reference_keyword():
    assert parse_target("time://reference").is_reference
    assert reference_target("time+udp").transport == "udp"
    with pytest.raises(TargetError, match="unknown service"):
        reference_target("gopher")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gopher://h", "unknown scheme 'gopher'"),
        ("time://h:0", "bad port '0'"),
        ("time://h:99999", "bad port '99999'"),
        ("time://h:3x", "bad port '3x'"),
        ("time://:37", "has no host"),
        ("time://", "has no host"),
        ("time://user:pw@h", "carry no credentials"),
        ("http://user:pw@h/", "carry no credentials"),
        ("127.0.0.1:37", "is not a URL"),
        ("", "empty target URL"),
        ("smtp://[::1", "unclosed '['"),
        ("smtp://[nothex]:25", "is not an IPv6 address"),
        ("time://ho st", "is not a host name"),
        ("pop://u;x=y:p@h", "is not ';auth=<mechanism>'"),
    ],
)
def test_bad_urls_give_one_clear_line(url, message):
    with pytest.raises(TargetError) as info:
        parse_target(url)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert "pw@" not in text and ":p@" not in text


def test_error_messages_mask_passwords():
    with pytest.raises(TargetError) as info:
        parse_target("ftp://bob:hunter2@h:70000/")
    assert "hunter2" not in str(info.value)


def test_a_pop_url_without_a_password_takes_it_from_the_environment():
    """RFC 2384 3: no clear-text password in a pop URL; POSTEL_PASSWORD supplies it instead."""
    from postel.target import with_environment_password

    bare = parse_target("pop://alice;auth=+APOP@mail.example:110")
    assert with_environment_password(bare, {"POSTEL_PASSWORD": "s3"}).password == "s3"
    assert with_environment_password(bare, {}).password is None
    written = parse_target("pop3://alice:inline@mail.example")
    assert with_environment_password(written, {"POSTEL_PASSWORD": "s3"}).password == "inline"
    anonymous = parse_target("smtp://mail.example")
    assert with_environment_password(anonymous, {"POSTEL_PASSWORD": "s3"}).password is None
    assert "s3" not in with_environment_password(bare, {"POSTEL_PASSWORD": "s3"}).redacted_url()
