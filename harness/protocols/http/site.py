"""The sample site the reference HTTP server serves when no root is given.

Small, fixed files the suites can name: an index, a text file, a binary file,
a subdirectory, and a symlink pointing out of the root (which the server must
refuse to follow).  Third-party targets name their own resource with the
target option ``resource`` (default: the URL's path).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SAMPLE_RESOURCE", "SECRET_NAME", "SECRET_TEXT", "make_sample_site"]

SAMPLE_RESOURCE = "/index.html"
SECRET_NAME = "postel-outside-root.txt"
SECRET_TEXT = "outside the HTTP root; serving it is a traversal"


def make_sample_site(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<html><head><title>postel</title></head><body><p>postel reference HTTP server</p></body></html>\n")
    (root / "hello.txt").write_text("hello, world\n")
    (root / "bytes.bin").write_bytes(bytes(range(256)) * 4)
    (root / "dir").mkdir(exist_ok=True)
    (root / "dir" / "inner.txt").write_text("inside a directory\n")
    outside = root.parent / SECRET_NAME
    outside.write_text(f"this file is {SECRET_TEXT}\n")
    link = root / "escape"
    if not link.is_symlink():
        os.symlink(outside, link)
    return root
