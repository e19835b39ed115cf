"""Fixtures for the dataset preparation tests."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_customization import catalog

from .helpers import model_with_limits, with_plain_model


@pytest.fixture(autouse=True)
def plain_model(monkeypatch):
    """Every dataset test can use the prompt/completion test model ``helpers.PLAIN``."""
    with_plain_model(monkeypatch)


@pytest.fixture
def patch_limits(monkeypatch):
    """Give one model smaller limits for a test: ``patch_limits(model_id, max_training_records=3)``."""

    def _patch(model_id: str, **limits: Any) -> None:
        monkeypatch.setattr(catalog, "get_model", model_with_limits(model_id, **limits))

    return _patch
