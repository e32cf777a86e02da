"""HTTP-date: parse the three formats, generate only IMF-fixdate.

  HTTP-date    = IMF-fixdate / obs-date                    -- RFC 9110 5.6.7
  IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT   ; Sun, 06 Nov 1994 08:49:37 GMT
  rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT ; Sunday, 06-Nov-94 08:49:37 GMT
  asctime-date = day-name SP date3 SP time-of-day SP year      ; Sun Nov  6 08:49:37 1994

"A recipient that parses a timestamp value in an HTTP field MUST accept all
three HTTP-date formats.  When a sender generates a header field that contains
one or more timestamps defined as HTTP-date, the sender MUST generate those
timestamps in the IMF-fixdate format." -- RFC 9110 section 5.6.7
(RFC 1945 section 3.3 says the same of its three formats.)
"""

from __future__ import annotations

import datetime
import re

__all__ = ["DateError", "format_http_date", "parse_http_date"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_M = "|".join(MONTHS)
_TIME = r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
IMF_FIXDATE = re.compile(rf"(?P<dn>{'|'.join(DAYS)}), (?P<d>[0-9]{{2}}) (?P<mo>{_M}) (?P<y>[0-9]{{4}}) {_TIME} GMT")
RFC850 = re.compile(rf"(?P<dn>{'|'.join(LONG_DAYS)}), (?P<d>[0-9]{{2}})-(?P<mo>{_M})-(?P<y>[0-9]{{2}}) {_TIME} GMT")
ASCTIME = re.compile(rf"(?P<dn>{'|'.join(DAYS)}) (?P<mo>{_M}) (?P<d>[ 0-9][0-9]) {_TIME} (?P<y>[0-9]{{4}})")


class DateError(ValueError):
    """Not an HTTP-date; ``form`` says which grammar came closest."""


def parse_http_date(text: str | bytes, now: datetime.datetime | None = None) -> tuple[datetime.datetime, str]:
    """(moment in UTC, "imf-fixdate" | "rfc850" | "asctime")."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for form, pattern in (("imf-fixdate", IMF_FIXDATE), ("rfc850", RFC850), ("asctime", ASCTIME)):
        match = pattern.fullmatch(text)
        if match:
            year = int(match["y"])
            if form == "rfc850":
                year = _two_digit_year(year, now or datetime.datetime.now(datetime.UTC))
            try:
                moment = datetime.datetime(
                    year, MONTHS.index(match["mo"]) + 1, int(match["d"]), int(match["h"]), int(match["mi"]), int(match["s"]), tzinfo=datetime.UTC
                )
            except ValueError as exc:
                raise DateError(f"{text!r} is not a real date: {exc}") from None
            names = LONG_DAYS if form == "rfc850" else DAYS
            if names[moment.weekday()] != match["dn"]:
                raise DateError(f"{text!r}: {match['dn']} is the wrong day of the week for that date")
            return moment, form
    raise DateError(f"{text!r} is not an HTTP-date (IMF-fixdate, rfc850-date or asctime-date)")


def _two_digit_year(yy: int, now: datetime.datetime) -> int:
    """"MUST interpret a timestamp that appears to be more than 50 years in the future as representing
    the most recent year in the past that had the same last two digits." -- RFC 9110 5.6.7"""
    year = now.year - now.year % 100 + yy
    return year - 100 if year > now.year + 50 else year


def format_http_date(moment: datetime.datetime | float) -> str:
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.fromtimestamp(moment, datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    return f"{DAYS[moment.weekday()]}, {moment.day:02d} {MONTHS[moment.month - 1]} {moment.year:04d} {moment:%H:%M:%S} GMT"
