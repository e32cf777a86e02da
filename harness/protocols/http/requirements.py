"""Which catalog requirement each codec rule enforces, in one place.

The codec raises ``RemoteProtocolError(requirement=REQ[...])``; a test of the
harness checks every ID here exists in ``specs/``.
"""

from __future__ import annotations

REQ: dict[str, str] = {
    "bare_cr": "rfc9112/2.2/4",
    "start_line_whitespace": "rfc9112/2.2/8",
    "request_grammar": "rfc9112/2.2/9",
    "request_line_length": "rfc9112/3/4",
    "status_line": "rfc9112/4/1",
    "field_grammar": "rfc9112/5/1",
    "space_before_colon": "rfc9112/5.1/2",
    "te_in_http10": "rfc9112/6.1/5",
    "te_unknown": "rfc9112/6.1/1",
    "content_length_invalid": "rfc9112/6.3/4",
    "incomplete_body": "rfc9112/6.3/8",
    "content_length_value": "rfc9112/6.3/7",
    "response_length": "rfc1945/7.2.2/1",
    "body_on_head": "rfc9110/9.3.2/1",
    "body_on_bodiless_status": "rfc1945/7.2/4",
    "header_too_large": "rfc9110/5.4/1",
    "body_too_large": "rfc9110/15.5.14/1",
}
