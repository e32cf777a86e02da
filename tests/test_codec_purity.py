"""A codec does no I/O: no protocol codec imports socket, asyncio, selectors or ssl."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROTOCOLS = Path(__file__).resolve().parents[1] / "harness" / "protocols"
FORBIDDEN = {"socket", "asyncio", "selectors", "ssl", "socketserver"}
CODECS = sorted(PROTOCOLS.glob("*/codec.py"))


def test_there_are_codecs():
    assert CODECS, f"no codec.py under {PROTOCOLS}"


@pytest.mark.parametrize("path", CODECS, ids=[p.parent.name for p in CODECS])
def test_codec_imports_no_io(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{path.name} imports {sorted(imported & FORBIDDEN)}"
