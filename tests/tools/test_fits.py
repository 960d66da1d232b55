"""The fit rules shared by the active-learning workchain and the random-selection comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aiida import orm

from aiida_pacemaker.tools.fits import (
    energy_rmse_of_first,
    force_rmse_of_first,
    has_stalled,
    labelled_train_errors,
)


@pytest.fixture
def errors(aiida_profile):
    """Per-structure errors of a fit on 3 labelled structures (2, 4, 4 atoms) and 2 augmented ones."""
    node = orm.ArrayData()
    node.set_array('energy', np.array([1.0, -2.0, 2.0, 4000.0, 9000.0]))  # meV/atom
    node.set_array('forces', np.array([3.0, 6.0, 0.0, 8000.0, 7000.0]))  # meV/Å
    return node


def test_rmse_of_the_first_structures(errors):
    natoms = [2, 4, 4]
    assert force_rmse_of_first(errors, natoms) == pytest.approx(math.sqrt((2 * 9 + 4 * 36) / 10))
    assert energy_rmse_of_first(errors, 3) == pytest.approx(math.sqrt((1 + 4 + 4) / 3))
    assert force_rmse_of_first(errors, [1] * 6) is None  # more structures than the fit had
    assert energy_rmse_of_first(errors, 0) is None


def test_labelled_train_errors_leave_out_the_augmented(errors):
    record = labelled_train_errors(5, errors, [2, 4, 4])
    assert record == {
        'num_augmented': 2,
        'labelled_train_energy_rmse': pytest.approx(math.sqrt(3)),
        'labelled_train_force_rmse': pytest.approx(math.sqrt(16.2)),
    }
    assert labelled_train_errors(5, None, [2, 4, 4])['labelled_train_force_rmse'] is None


@pytest.mark.parametrize(
    ('now', 'before', 'tolerance', 'stalled'),
    [
        (13.0, 10.0, 0.25, True),
        (12.0, 10.0, 0.25, False),
        (None, 10.0, 0.25, False),
        (10.1, 10.0, -1.0, True),
    ],
)
def test_has_stalled(now, before, tolerance, stalled):
    assert has_stalled(now, before, tolerance) is stalled
