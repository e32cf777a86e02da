"""The arguments of announced capabilities (RFC 2449 6.7, 6.9): what EXPIRE and IMPLEMENTATION say, before and after login.

A capability that is not announced in either state leaves its check not
applicable.  CAPA is asked in the AUTHORIZATION state, then again in the
TRANSACTION state of the same session: EXPIRE may change after login
("Announced states / possible differences: both / yes"), but only upwards.
"""

from __future__ import annotations

import math
import re

import pytest

from postel.suites.pop3.checks import Session, authenticate, capa, session
from postel.verdict import Expect

pytestmark = pytest.mark.service("pop3")

DAYS = re.compile(r"[0-9]+")


def both_states(expect: Expect, target, s: Session) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """CAPA before login and after it; not applicable when CAPA is refused before login."""
    before = capa(s)
    if before is None:
        expect.not_applicable("CAPA is refused: the server does not implement RFC 2449")
    login = authenticate(expect, target, s)
    if not login.ok:
        expect.inconclusive(f"the target refused the URL's credentials: {login.show()}")
    return before, capa(s) or {}


def retention(params: list[str]) -> float | None:
    """EXPIRE's days as a number (NEVER: infinity); None when it is neither."""
    value = params[0].upper() if params else ""
    if value == "NEVER":
        return math.inf
    return int(value) if DAYS.fullmatch(value) else None


@pytest.mark.requirement("rfc2449/6.9/1")
def test_implementation_names_the_server(target, wire, expect):
    """IMPLEMENTATION, when announced: "The argument to the IMPLEMENTATION capability consists of one or more
    tokens which identify the server."  (It may be announced in the TRANSACTION state only.)
    """
    with session(expect, target, wire, "IMPLEMENTATION", login=False) as s:
        before, after = both_states(expect, target, s)
    announced = {state: found["IMPLEMENTATION"] for state, found in (("AUTHORIZATION", before), ("TRANSACTION", after)) if "IMPLEMENTATION" in found}
    if not announced:
        expect.not_applicable("CAPA does not announce IMPLEMENTATION in either state")
    for state, params in announced.items():
        expect.must(params, "rfc2449/6.9/1", expected=["IMPLEMENTATION SP token *(SP token)"], actual=f"in the {state} state: IMPLEMENTATION with no argument")


@pytest.mark.requirement("rfc2449/6.7/1", "rfc2449/6.7/6", "rfc2449/6.7/7", "rfc2449/6.7/8")
def test_expire_gives_days_or_never_and_no_more_before_login(target, wire, expect):
    """EXPIRE, when announced: "server-guaranteed minimum retention days, or NEVER; optionally followed by USER in
    AUTHENTICATION state".  "If the expiration policy differs per user ..., the server MUST announce in
    AUTHENTICATION state the smallest value which could be set for any user"; it "SHOULD append the token "USER""
    then, and "SHOULD announce the more accurate value in TRANSACTION state."
    """
    with session(expect, target, wire, "EXPIRE", login=False) as s:
        before, after = both_states(expect, target, s)
    if "EXPIRE" not in before and "EXPIRE" not in after:
        expect.not_applicable("CAPA does not announce EXPIRE in either state")
    days = {}
    for state, found in (("AUTHORIZATION", before), ("TRANSACTION", after)):
        if "EXPIRE" in found:
            params = found["EXPIRE"]
            days[state] = retention(params)
            well_formed = days[state] is not None and (params[1:] == [] or [p.upper() for p in params[1:]] == ["USER"])
            expect.must(well_formed, "rfc2449/6.7/1", expected=["EXPIRE SP (days / NEVER) [SP USER]"], actual=f"in the {state} state: EXPIRE {' '.join(params)}")
    if len(days) < 2:
        expect.should("TRANSACTION" in days, "rfc2449/6.7/8", expected=["EXPIRE announced after login too"], actual="EXPIRE only before login")
        return  # announced after login only: nothing to compare
    first, then = days["AUTHORIZATION"], days["TRANSACTION"]
    expect.must(
        first <= then,
        "rfc2449/6.7/6",
        expected=["before login, the smallest value any user could have: not more than this user's"],
        actual=f"EXPIRE {' '.join(before['EXPIRE'])} before login, EXPIRE {' '.join(after['EXPIRE'])} after it",
    )
    if first != then:
        tokens = [p.upper() for p in before["EXPIRE"][1:]]
        expect.should(tokens == ["USER"], "rfc2449/6.7/7", expected=["'USER' after the value before login, since it changes"], actual=f"EXPIRE {' '.join(before['EXPIRE'])}")
