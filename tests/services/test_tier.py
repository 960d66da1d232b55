"""The tier's own rule: a service that cannot be had fails the tier, or with an opt-in, skips it loudly."""

from __future__ import annotations

import pytest

from .conftest import service_unavailable

pytestmark = pytest.mark.services


def test_missing_service_fails(monkeypatch):
    monkeypatch.delenv('AIIDA_PACEMAKER_SERVICES', raising=False)
    with pytest.raises(pytest.fail.Exception, match='services tier: RabbitMQ is not installed'):
        service_unavailable('RabbitMQ is not installed')


def test_missing_service_skips_with_a_warning_when_optional(monkeypatch):
    monkeypatch.setenv('AIIDA_PACEMAKER_SERVICES', 'optional')
    with pytest.warns(pytest.PytestWarning, match='RabbitMQ'), pytest.raises(pytest.skip.Exception):
        service_unavailable('RabbitMQ is not installed')
