"""Which catalog requirement each POP3 codec and client rule enforces, in one place.

The codec raises ``RemoteProtocolError(requirement=REQ[...])``; a test of the
harness checks every ID here exists in ``specs/``.  Where a sentence binds both
sides, the ID is the one whose role is the peer that broke it.  RFC 1939 is
pre-2119: its declarative sentences are the catalog's MUSTs (see the header of
specs/rfc1939.toml).
"""

from __future__ import annotations

REQ: dict[str, str] = {
    # --- commands (the client's side of the line), RFC 1939 3 and RFC 2449 3/4
    "command_crlf": "rfc1939/3/4",  # "All commands are terminated by a CRLF pair."
    "command_printable": "rfc1939/3/5",  # "Keywords and arguments consist of printable ASCII characters."
    "command_single_space": "rfc1939/3/6",  # "... each separated by a single SPACE character."
    "keyword_length": "rfc1939/3/7",  # "Keywords are three or four characters long."
    "command_grammar": "rfc2449/3/1",  # command = keyword *(SP param) CRLF; param = 1*VCHAR
    "command_length": "rfc2449/4/1",  # "... to 255 octets, including the terminating CRLF."
    "pass_spaces": "rfc1939/7/27",  # PASS: "spaces in the argument as part of the password"
    # --- responses (the server's side), RFC 1939 3 and RFC 2449 3/4/8
    "status_indicator": "rfc1939/3/12",  # two status indicators: "+OK" and "-ERR"
    "status_upper_case": "rfc1939/3/13",  # "Servers MUST send the "+OK" and "-ERR" in upper case."
    "response_crlf": "rfc1939/3/10",  # "All responses are terminated by a CRLF pair."
    "single_line_grammar": "rfc2449/3/6",  # single-line = status [SP text] CRLF
    "resp_code_grammar": "rfc2449/3/5",  # resp-code = "[" resp-level *("/" resp-level) "]"
    "first_line_length": "rfc2449/4/4",  # first line of a response "unchanged at 512 octets"
    "one_response_per_command": "rfc1939/5/2",  # "After each command, the POP3 server issues a response."
    "pipelining_order": "rfc2449/6.6/3",  # "match server responses to commands in order"
    "greeting_positive": "rfc1939/4/2",  # the greeting "can be any positive response"
    "greeting_grammar": "rfc2449/3/3",
    "timestamp_msg_id": "rfc2449/3/7",  # timestamp "MUST conform to RFC-822 msg-id"
    "apop_digest": "rfc1939/7/35",  # 16 octets "in hexadecimal format, using lower-case ASCII characters"
    # --- multi-line responses, RFC 1939 3
    "multiline_crlf": "rfc1939/3/14",  # "any additional lines are sent, each terminated by a CRLF pair"
    "multiline_terminator": "rfc1939/3/15",  # "a final line is sent, consisting of a termination octet ... and a CRLF pair"
    "byte_stuffing": "rfc1939/3/16",  # a line that begins with the termination octet "is byte-stuffed"
    "multiline_grammar": "rfc2449/3/4",  # multi-line = single-line *dot-stuffed "." CRLF
    # --- CAPA, RFC 2449 5
    "capa_grammar": "rfc2449/3/2",  # capability = capa-tag *(SP param) CRLF; cchar excludes "."
    "capa_line_length": "rfc2449/5/10",  # "Each capability line is limited to 512 octets (including the CRLF)."
    # --- drop and scan listings, RFC 1939 5 and 7
    "stat_format": "rfc1939/5/7",  # "+OK" SP count SP octets
    "scan_listing_format": "rfc1939/5/17",  # msg-number SP exact size in octets
    "unique_id_listing_format": "rfc1939/7/11",  # msg-number SP unique-id
    "unique_id_nothing_follows": "rfc1939/7/12",
    "unique_id_chars": "rfc1939/7/13",  # "one to 70 characters in the range 0x21 to 0x7E"
    "decimal_numbers": "rfc1939/4/15",  # message-numbers and sizes "are expressed in base-10"
}
