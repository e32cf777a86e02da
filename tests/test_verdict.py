"""requirement_verdicts(): the DESIGN table, and what a test that could not finish keeps."""

from __future__ import annotations

import pytest

from postel.requirements import load_requirements
from postel.verdict import Observation, Verdict, requirement_verdicts

REQS = load_requirements()
MUST, SHOULD = REQS["rfc9112/6.3/5"], REQS["rfc9112/2.2/6"]


@pytest.mark.parametrize(
    ("observation", "must", "should"),
    [
        (Observation.HELD, Verdict.PASS, Verdict.PASS),
        (Observation.UNDECIDED, Verdict.INCONCLUSIVE, Verdict.INCONCLUSIVE),
        (Observation.UNSUPPORTED, Verdict.NOT_APPLICABLE, Verdict.NOT_APPLICABLE),
    ],
)
def test_each_observation_maps_as_the_design_table_says(observation, must, should):
    assert requirement_verdicts([MUST, SHOULD], observation) == {MUST.id: must, SHOULD.id: should}


def test_a_broken_must_fails_only_the_sentence_it_names():
    assert requirement_verdicts([MUST, SHOULD], Observation.BROKEN, broken=MUST.id) == {MUST.id: Verdict.FAIL}


@pytest.mark.parametrize("observation", [Observation.HELD, Observation.UNDECIDED, Observation.UNSUPPORTED, Observation.BROKEN])
def test_a_warning_stands_however_the_test_ends(observation):
    """A SHOULD seen broken stays ``warn``, even when the test then became inconclusive or n/a."""
    verdicts = requirement_verdicts([MUST, SHOULD], observation, broken=MUST.id if observation is Observation.BROKEN else None, warned={SHOULD.id})
    assert verdicts[SHOULD.id] is Verdict.WARN
