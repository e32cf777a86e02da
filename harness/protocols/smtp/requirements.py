"""Which catalog requirement each SMTP codec rule enforces, in one place.

The codec raises ``RemoteProtocolError(requirement=REQ[...])``; a test of the
harness checks every ID here exists in ``specs/``.  Where a sentence binds both
sides, the ID is the one whose role is the peer that broke it.
"""

from __future__ import annotations

REQ: dict[str, str] = {
    # line terminators: "MUST NOT recognize or generate any other character or character sequence" (2.3.8)
    "bare_line_end_client": "rfc5321/2.3.8/4",
    "bare_line_end_server": "rfc5321/2.3.8/1",
    # commands
    "command_syntax": "rfc5321/4.1.1/1",
    "non_ascii_command": "rfc5321/2.4/11",
    "unknown_command": "rfc5321/4.2.4/2",
    "ehlo_syntax": "rfc5321/4.1.1.1/8",
    "mail_syntax": "rfc5321/4.1.1.2/2",
    "rcpt_syntax": "rfc5321/4.1.1.3/8",
    "path_syntax": "rfc5321/4.1.2/1",
    "space_around_colon": "rfc5321/3.3/10",
    "data_syntax": "rfc5321/4.1.1.4/15",
    "rset_syntax": "rfc5321/4.1.1.5/5",
    "vrfy_syntax": "rfc5321/4.1.1.6/2",
    "expn_syntax": "rfc5321/4.1.1.7/2",
    "help_syntax": "rfc5321/4.1.1.8/4",
    "noop_syntax": "rfc5321/4.1.1.9/4",
    "quit_syntax": "rfc5321/4.1.1.10/7",
    # size limits, 4.5.3.1
    "local_part_length": "rfc5321/4.5.3.1.1/1",
    "domain_length": "rfc5321/4.5.3.1.2/1",
    "path_length": "rfc5321/4.5.3.1.3/1",
    "command_line_length": "rfc5321/4.5.3.1.4/2",
    "reply_line_length": "rfc5321/4.5.3.1.5/1",
    "text_line_length": "rfc5321/4.5.3.1.6/2",
    "message_size": "rfc1870/4/2",
    # replies
    "one_reply_per_command": "rfc5321/4.2/1",
    "reply_unterminated": "rfc5321/4.2/2",
    "reply_syntax": "rfc5321/4.2/7",
    "reply_code_range": "rfc5321/4.3.2/2",
    "multiline_same_code": "rfc5321/4.2.1/5",
    "ehlo_line_syntax": "rfc5321/4.1.1.1/11",
    "enhanced_syntax": "rfc2034/4/2",
    "enhanced_class": "rfc2034/4/4",
    # mail data
    "data_before_354": "rfc5321/3.3/13",
    "unterminated_last_line": "rfc5321/4.1.1.4/5",
    "close_without_quit": "rfc5321/4.1.1.10/3",
}
