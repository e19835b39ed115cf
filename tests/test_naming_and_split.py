"""Names and tokens are deterministic and valid for Bedrock; the train/validation split is stable."""

from __future__ import annotations

import re

import pytest

from bedrock_customization.dataset.split import assign_split
from bedrock_customization.naming import client_request_token, resource_name

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$")


def test_resource_names_are_deterministic_valid_and_distinct():
    run_id = "manual__2026-11-21T00:00:00+00:00"
    a = resource_name("retraining", "bedrock_retraining", run_id, "customize")
    assert a == resource_name("retraining", "bedrock_retraining", run_id, "customize")
    assert a != resource_name("retraining", "bedrock_retraining", run_id + "x", "customize")
    long = resource_name("a very_long prefix " * 10, run_id)
    for name in (a, long):
        assert JOB_NAME.match(name) and len(name) <= 63


def test_client_request_tokens_are_stable_per_inputs():
    assert client_request_token("d", "r", "t") == client_request_token("d", "r", "t")
    assert client_request_token("d", "r", "t") != client_request_token("d", "r", "u")


def test_split_is_stable_and_close_to_the_fraction():
    prompts = [f"question {i}" for i in range(2000)]
    sides = [assign_split(p, seed=42, validation_fraction=0.2) for p in prompts]
    assert sides == [assign_split(p, seed=42, validation_fraction=0.2) for p in prompts]
    assert 0.17 < sides.count("validation") / len(sides) < 0.23
    assert sides != [assign_split(p, seed=7, validation_fraction=0.2) for p in prompts]


def test_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="validation_fraction"):
        assign_split("x", validation_fraction=1.0)
