"""Verdicts: what a check observed, turned into pass/fail/warn/... in one place.

DESIGN.md's verdict table is implemented by :func:`determine_verdict` (level x
observation) and :func:`requirement_verdicts` (one test's cited requirements);
the pytest outcome, the reports and the gate all read verdicts from here and
never re-derive them (the habit of cache-tests' ``determineTestResult``).

Checks raise typed exceptions that carry what the verdict needs:
:class:`ConformanceFailure` (requirement, expected, actual, transcript),
:class:`NotApplicable` and :class:`Inconclusive` (pytest skips with the
``n/a:`` / ``inconclusive:`` reasons of the table).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pytest

from postel.requirements import Level, Requirement, Requirements

__all__ = [
    "ConformanceFailure",
    "Expect",
    "HarnessError",
    "Inconclusive",
    "NotApplicable",
    "Observation",
    "Verdict",
    "determine_verdict",
    "requirement_verdicts",
    "worst",
]


class Verdict(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOT_APPLICABLE = "not-applicable"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class Observation(enum.Enum):
    """What a test saw, before the requirement level is applied."""

    HELD = "held"  # the check's condition was true
    BROKEN = "broken"  # the check's condition was false
    UNSUPPORTED = "unsupported"  # the target does not offer the feature
    UNDECIDED = "undecided"  # timeout, reset, flaky example: cannot say
    HARNESS_BROKE = "harness-broke"  # a bug or setup failure in postel itself


# Most severe first: a requirement tested by several tests gets the worst verdict.
# A pass outranks an inconclusive: tests that decided say more than one that
# could not (a requirement with 5 passes and 1 timeout held where it was seen).
SEVERITY: tuple[Verdict, ...] = (
    Verdict.ERROR,
    Verdict.FAIL,
    Verdict.WARN,
    Verdict.PASS,
    Verdict.INCONCLUSIVE,
    Verdict.NOT_APPLICABLE,
)


def worst(verdicts: Iterable[Verdict]) -> Verdict | None:
    ranked = sorted(verdicts, key=SEVERITY.index)
    return ranked[0] if ranked else None


def determine_verdict(level: Level, observation: Observation) -> Verdict:
    """The DESIGN table: a broken MUST fails, a broken SHOULD or MAY warns."""
    if observation is Observation.HELD:
        return Verdict.PASS
    if observation is Observation.BROKEN:
        return Verdict.FAIL if level is Level.MUST else Verdict.WARN
    if observation is Observation.UNSUPPORTED:
        return Verdict.NOT_APPLICABLE
    if observation is Observation.UNDECIDED:
        return Verdict.INCONCLUSIVE
    return Verdict.ERROR


def requirement_verdicts(
    cited: Sequence[Requirement],
    observation: Observation,
    *,
    broken: str | None = None,
    warned: Iterable[str] = (),
) -> dict[str, Verdict]:
    """One test's verdict for each requirement it cites.

    ``broken`` is the requirement a :class:`ConformanceFailure` named; the other
    cited requirements were not reached and get no verdict from this test
    (unless a SHOULD check on them already warned).  A bare ``assert`` names
    none, so every cited requirement takes the failure.
    """
    warned = set(warned)
    result: dict[str, Verdict] = {}
    for req in cited:
        if observation is Observation.BROKEN and broken is not None and req.id != broken:
            if req.id in warned:
                result[req.id] = Verdict.WARN
            continue
        if observation in (Observation.HELD, Observation.UNDECIDED, Observation.UNSUPPORTED) and req.id in warned:
            # A SHOULD that was seen broken stays a warning, even if the test then could not go on.
            result[req.id] = Verdict.WARN
            continue
        result[req.id] = determine_verdict(req.level, observation)
    return result


class HarnessError(Exception):
    """postel itself is wrong (a check citing the wrong level, an uncited ID): verdict ``error``."""


class NotApplicable(pytest.skip.Exception):
    """The target does not offer the feature the check needs (FEAT/CAPA/EHLO, a non-default port)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"n/a: {reason}", allow_module_level=False)


class Inconclusive(pytest.skip.Exception):
    """The harness could not decide: a timeout, a reset, an example that did not replay."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"inconclusive: {reason}", allow_module_level=False)


class ConformanceFailure(AssertionError):
    """A requirement did not hold; says which sentence, what was expected, what was seen.

    ``expected`` is a list because an RFC often allows several answers
    (h2spec's ``TestError.Expected``).
    """

    def __init__(
        self,
        requirement: Requirement,
        *,
        expected: Sequence[str],
        actual: str,
        transcript: str = "",
        detail: str = "",
    ) -> None:
        self.requirement = requirement
        self.expected = list(expected)
        self.actual = actual
        self.transcript = transcript
        self.detail = detail
        super().__init__(self.render())

    def render(self) -> str:
        req = self.requirement
        lines = [
            f"{req.id} ({req.level.value}, {req.role}) violated",
            f'  RFC {req.rfc}, section {req.section}: "{req.text}"',
            f"  {req.url}",
            "  expected: " + (self.expected[0] if self.expected else "(nothing)"),
            *(f"        or: {e}" for e in self.expected[1:]),
            f"  actual:   {self.actual}",
        ]
        if self.detail:
            lines.append(f"  detail:   {self.detail}")
        if self.transcript:
            lines.append("  transcript:")
            lines.extend("    " + line for line in self.transcript.splitlines())
        return "\n".join(lines)


@dataclass
class Expect:
    """The verifying helpers a suite test gets as the ``expect`` fixture.

    ``transcripts`` is a callable returning the current transcript excerpt, so a
    failure carries the bytes that prove it without the test passing them in.
    Warnings (broken SHOULD/MAY checks) are recorded here for the plugin; with
    ``strict`` they raise like MUST failures.
    """

    requirements: Requirements
    strict: bool = False
    transcript: object = None  # Callable[[], str]
    cited: frozenset[str] | None = None  # the test's requirement marker; None: any ID
    secrets: tuple[str, ...] = ()  # masked in every message (the target's password)
    warned: dict[str, ConformanceFailure] = field(default_factory=dict)

    def must(self, condition: object, requirement: str, *, expected: Sequence[str] | str, actual: object, detail: str = "") -> None:
        self._check(Level.MUST, condition, requirement, expected, actual, detail)

    def should(self, condition: object, requirement: str, *, expected: Sequence[str] | str, actual: object, detail: str = "") -> None:
        self._check(Level.SHOULD, condition, requirement, expected, actual, detail)

    def may(self, condition: object, requirement: str, *, expected: Sequence[str] | str, actual: object, detail: str = "") -> None:
        """A MAY check: the feature is optional, but where offered it must be right."""
        self._check(Level.MAY, condition, requirement, expected, actual, detail)

    def not_applicable(self, reason: str) -> None:
        raise NotApplicable(reason)

    def inconclusive(self, reason: str) -> None:
        raise Inconclusive(reason)

    def _check(self, level: Level, condition: object, rid: str, expected: Sequence[str] | str, actual: object, detail: str) -> None:
        req = self._lookup(rid)
        if self.cited is not None and rid not in self.cited:
            raise HarnessError(f"a check on {rid} in a test whose requirement marker does not cite it")
        if req.level is not level:
            raise HarnessError(f"expect.{level.value.lower()}() used for {rid}, which the catalog says is {req.level.value}")
        if condition:
            return
        failure = ConformanceFailure(
            req,
            expected=[self._mask(e) for e in ([expected] if isinstance(expected, str) else expected)],
            actual=self._mask(str(actual)),
            transcript=self.transcript() if callable(self.transcript) else "",
            detail=self._mask(detail),
        )
        if level is Level.MUST or self.strict:
            raise failure
        self.warned.setdefault(rid, failure)

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _lookup(self, rid: str) -> Requirement:
        try:
            return self.requirements[rid]
        except KeyError:
            hint = self.requirements.suggest(rid)
            raise HarnessError(f"unknown requirement {rid!r}" + (f"; did you mean {hint!r}?" if hint else "")) from None

