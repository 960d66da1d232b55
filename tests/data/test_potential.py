"""Tests of `PacePotentialData`: header parsing, reference energies, hashes."""

from __future__ import annotations

import pytest

from aiida_pacemaker.data.potential import PacePotentialData, PotentialError, summarize_potential_yaml

from ..conftest import DUMMY_POTENTIAL, DUMMY_YACE


def test_summary():
    summary = summarize_potential_yaml(DUMMY_POTENTIAL)
    assert summary == {
        'elements': ['Cu'],
        'cutoff': 5.0,
        'number_of_functions': 1,
        'has_zbl': False,
        'reference_energies': {},
    }


def test_reference_energy_with_shift():
    """pacemaker's `auto` reference: E = E_ACE + sum_e n_e (E_e - shift)."""
    text = DUMMY_POTENTIAL.replace(
        'reference_energy: "{}"', 'reference_energy: "{\\"Cu\\": 0.128, \\"shift\\": 0.066}"'
    )
    assert summarize_potential_yaml(text)['reference_energies'] == {'Cu': pytest.approx(0.062)}


@pytest.mark.parametrize(
    ('content', 'message'),
    [
        ('species: [', 'not valid YAML'),
        ('elements: [Cu]\nfunctions: {}\n', 'no `species` blocks'),
        ('species:\n  - {nbody: []}\n', 'no `speciesblock`'),
    ],
)
def test_not_a_potential(content, message):
    with pytest.raises(PotentialError, match=message):
        summarize_potential_yaml(content)


def test_hash_checked_on_read(aiida_profile):
    node = PacePotentialData(DUMMY_POTENTIAL, DUMMY_YACE.encode()).store()
    assert node.get_yaml_content().decode() == DUMMY_POTENTIAL
    clone = PacePotentialData(DUMMY_POTENTIAL)
    clone.base.attributes.set('yaml_sha256', 'f' * 64)
    with pytest.raises(PotentialError, match='does not match'):
        clone.get_yaml_content()
    assert node.lammps_lines() == ['pair_style pace', 'pair_coeff * * potential.yace Cu']
