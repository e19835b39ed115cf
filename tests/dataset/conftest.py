"""Fixtures for the dataset preparation tests."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_customization import catalog

from .helpers import model_with_limits


@pytest.fixture
def patch_limits(monkeypatch):
    """Give one model smaller limits for a test: ``patch_limits(model_id, max_training_records=3)``."""

    def _patch(model_id: str, **limits: Any) -> None:
        monkeypatch.setattr(catalog, "get_model", model_with_limits(model_id, **limits))

    return _patch
