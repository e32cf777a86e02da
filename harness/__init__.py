"""postel: protocol conformance test harness.

Every verdict names the RFC sentence it checks and carries the bytes that
prove it.  See DESIGN in the README; the package maps the repository's
top-level folders (harness/ -> postel, suites/ -> postel.suites, ...).
"""

__version__ = "0.1.0"
