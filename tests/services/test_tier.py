"""The tier's own rule: a service that cannot be had fails the tier where it is required (`make test`),
and skips it loudly otherwise (a plain `pytest`: the variable unset, or `optional`)."""

from __future__ import annotations

import pytest

from .conftest import service_unavailable

pytestmark = pytest.mark.services


def test_missing_service_fails_where_required(monkeypatch):
    monkeypatch.setenv('AIIDA_PACEMAKER_SERVICES', 'required')
    with pytest.raises(pytest.fail.Exception, match='services tier: RabbitMQ is not installed'):
        service_unavailable('RabbitMQ is not installed')


@pytest.mark.parametrize('setting', [None, 'optional'])
def test_missing_service_skips_with_a_warning_otherwise(monkeypatch, setting):
    if setting is None:
        monkeypatch.delenv('AIIDA_PACEMAKER_SERVICES', raising=False)
    else:
        monkeypatch.setenv('AIIDA_PACEMAKER_SERVICES', setting)
    with pytest.warns(pytest.PytestWarning, match='RabbitMQ'), pytest.raises(pytest.skip.Exception):
        service_unavailable('RabbitMQ is not installed')
