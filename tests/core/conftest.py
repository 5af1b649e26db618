"""Fixtures of the policy edge tests: every test runs on both classifiers."""

from __future__ import annotations

import pytest

from sensorhub.engine import ClassifierName


@pytest.fixture(params=["fast", "reference"])
def classifier(request: pytest.FixtureRequest) -> ClassifierName:
    """The classifier ``replay`` runs: the numba core, then the pure-Python reference."""
    name: ClassifierName = request.param
    return name
