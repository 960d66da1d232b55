"""Fixtures of the utilities' tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope='module')
def utility_codes(aiida_profile):
    """The utilities of this environment as codes on a local computer of their own (polls every 0.5 s)."""
    from aiida_pacemaker.codes import get_or_create_localhost
    from aiida_pacemaker.utilities import setup_utility_codes

    computer = get_or_create_localhost('localhost-utilities')
    computer.set_minimum_job_poll_interval(0.5)
    return setup_utility_codes(computer)
