"""The HTTP grammar as regexes, each under the ABNF it implements.

Sources: RFC 9110 (semantics) and RFC 9112 (HTTP/1.1 message syntax, which
also governs how an HTTP/1.0 message is parsed today), with RFC 1945's
HTTP/0.9 Simple-Request.  All patterns work on bytes: RFC 9112 section 2.2,
"A recipient MUST parse an HTTP message as a sequence of octets".
"""

from __future__ import annotations

import re

# tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA      -- RFC 9110 5.6.2
# token = 1*tchar
TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"

# HTTP-version = HTTP-name "/" DIGIT "." DIGIT ; HTTP-name = %s"HTTP"   -- RFC 9112 2.3
HTTP_VERSION = rb"HTTP/[0-9]\.[0-9]"

# request-target: any visible octets (its form is judged in targets.py)
REQUEST_TARGET = rb"[\x21-\x7e\x80-\xff]+"

# request-line = method SP request-target SP HTTP-version          -- RFC 9112 3
REQUEST_LINE = re.compile(rb"(?P<method>" + TOKEN + rb") (?P<target>" + REQUEST_TARGET + rb") (?P<version>" + HTTP_VERSION + rb")")

# Simple-Request = "GET" SP Request-URI CRLF                         -- RFC 1945 4.1
SIMPLE_REQUEST = re.compile(rb"GET (?P<target>" + REQUEST_TARGET + rb")")

# status-line = HTTP-version SP status-code SP [ reason-phrase ]     -- RFC 9112 4
# reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
STATUS_LINE = re.compile(rb"(?P<version>" + HTTP_VERSION + rb") (?P<status>[0-9]{3}) (?P<reason>[\t \x21-\x7e\x80-\xff]*)")

# field-line = field-name ":" OWS field-value OWS                   -- RFC 9112 5
# field-value = *field-content ; field-vchar = VCHAR / obs-text       -- RFC 9110 5.5
FIELD_NAME = re.compile(TOKEN)
FIELD_VALUE = re.compile(rb"[\t \x21-\x7e\x80-\xff]*")
OWS = b" \t"

# Content-Length = 1*DIGIT                                           -- RFC 9110 8.6
CONTENT_LENGTH = re.compile(rb"[0-9]+")
