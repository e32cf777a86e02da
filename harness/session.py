"""What one pytest run and one test carry: settings, stash keys, per-test context.

Everything lives in ``config.stash`` / ``item.stash`` under the keys below,
never in module globals (which xdist workers would each have their own copy
of) nor in private attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from postel.baseline import Baseline
from postel.requirements import Requirements
from postel.target import Target
from postel.verdict import Expect
from postel.wire import DEFAULT_TIMEOUT, TcpConnection, Transcript, UdpEndpoint

__all__ = ["ITEM_KEY", "SETTINGS_KEY", "ItemContext", "Settings", "Wire"]


@dataclass(frozen=True)
class Settings:
    """The run's options, validated once in ``pytest_configure``."""

    target: Target | None  # None: every protocol against its reference server
    options: Mapping[str, str]
    strict: bool
    allow_destructive: bool
    baseline: Baseline
    max_inconclusive: int | None
    seed: int | None
    report_dir: Path | None
    capture: bool
    progress: bool
    requirements: Requirements

    @property
    def timeout(self) -> float:
        return float(self.options.get("timeout", DEFAULT_TIMEOUT))

    def secrets(self) -> tuple[str, ...]:
        return self.target.secrets() if self.target else ()


@dataclass
class ItemContext:
    """One test's transcripts and checks; the plugin reads it when the test ends."""

    cited: tuple[str, ...]
    transcripts: list[Transcript] = field(default_factory=list)
    expect: Expect | None = None

    def excerpt(self, last: int = 2, lines: int = 40) -> str:
        """The most recent transcripts that carried bytes, for failure messages."""
        with_bytes = [t for t in self.transcripts if any(who != "*" for _, who, _ in t.entries)]
        return "\n".join(t.render(lines) for t in (with_bytes or self.transcripts)[-last:])


SETTINGS_KEY = pytest.StashKey[Settings]()
ITEM_KEY = pytest.StashKey[ItemContext]()


class Wire:
    """Connections to the test's target; each one's transcript joins the test's context."""

    def __init__(self, target: Target, context: ItemContext, timeout: float) -> None:
        self.target = target
        self.context = context
        self.timeout = timeout

    def transcript(self, label: str) -> Transcript:
        transcript = Transcript(label=label, transport=self.target.transport)
        transcript.redact(self.target.secrets())
        self.context.transcripts.append(transcript)
        return transcript

    def tcp(self, label: str = "tcp") -> TcpConnection:
        return TcpConnection.connect(self.target.address, self.transcript(label), self.timeout)

    def udp(self, label: str = "udp") -> UdpEndpoint:
        return UdpEndpoint(self.target.address, self.transcript(label), self.timeout)
