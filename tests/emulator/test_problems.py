"""Problem details: every shape the emulator sends parses into the LUSID SDK's own models."""

from __future__ import annotations

import json

import pytest
from lusid.models import LusidProblemDetails, LusidValidationProblemDetails

from iasync.emulator.problems import CODES, STATUS_PROBLEMS, problem


@pytest.mark.parametrize("name", sorted(set(CODES) | set(STATUS_PROBLEMS.values())))
def test_every_problem_parses_as_the_sdks_problem_details(name: str) -> None:
    response = problem("REQ:1", "http://127.0.0.1:1", 400, name, "what went wrong")

    parsed = LusidProblemDetails.from_json(response.body.decode())

    assert (parsed.name, parsed.code) == (name, CODES.get(name, 0))
    assert parsed.instance == "http://127.0.0.1:1/app/insights/logs/REQ:1"


def test_validation_problem_carries_errors() -> None:
    response = problem(
        "R", "http://h", 400, "InvalidRequestFailure", "bad", errors={"a.displayName": ["x"]}
    )

    parsed = LusidValidationProblemDetails.from_json(response.body.decode())

    assert parsed.errors == {"a.displayName": ["x"]}
    assert json.loads(response.body)["status"] == 400
