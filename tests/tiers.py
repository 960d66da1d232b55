"""The opt-in test tiers (services, cluster, DFT): what happens when a tier cannot run here.

A plain ``pytest`` on a machine without PostgreSQL, RabbitMQ, SLURM or CP2K skips those tiers, with
a warning that names what is missing (``pytest -rs`` lists them). ``make test`` sets
``AIIDA_PACEMAKER_SERVICES``, ``AIIDA_PACEMAKER_CLUSTER`` and ``AIIDA_PACEMAKER_DFT`` to ``required``
(after installing what they need), and then a tier that cannot run fails, loudly, with what to run.
"""

from __future__ import annotations

import os
import typing as t
import warnings

import pytest


def unavailable(tier: str, message: str) -> t.NoReturn:
    """Skip the test (a warning says why), or fail it where ``AIIDA_PACEMAKER_<TIER>=required``."""
    message = f'{tier} tier: {message}'
    if os.environ.get(f'AIIDA_PACEMAKER_{tier.upper()}', 'optional') == 'required':
        pytest.fail(message, pytrace=False)
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)
