"""SMTP (RFC 5321, with SIZE, PIPELINING, ENHANCEDSTATUSCODES and 8BITMIME) sans-I/O: events, session state, codec."""
