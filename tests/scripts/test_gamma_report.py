"""The job-side `gamma_report.py choose` step on files like those a `pacemaker.select` job writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aiida_pacemaker.scripts as scripts_package

SCRIPTS = Path(scripts_package.__file__).parent


@pytest.fixture
def gamma_report(monkeypatch):
    """The script imported as the job imports it: with `selection` next to it on the path."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import gamma_report

    yield gamma_report
    for name in ('gamma_report', 'selection'):
        sys.modules.pop(name, None)


def job_folder(
    folder: Path, grades: dict[str, float], maxvol: list[str], structures: list | None = None, **settings
) -> Path:
    """The files the filter and pace_select steps leave: the in-window candidates (Cu cells unless
    ``structures`` are given), their grades, MaxVol's order."""
    from aiida_pacemaker.tools.examples import random_bulk_structures

    names = list(grades)
    structures = structures if structures is not None else random_bulk_structures(len(names), seed=5)
    frame = pd.DataFrame({'name': names, 'ase_atoms': structures})
    frame.to_pickle(folder / 'candidates.pckl.gzip', compression='gzip')
    (folder / 'gamma.json').write_text(json.dumps(grades))
    (folder / 'selected.json').write_text(json.dumps(maxvol))
    defaults = {
        'strategy': 'hybrid',
        'tail_fraction': 0.5,
        'tail_min_gamma': 0.0,
        'seed': 0,
        'potential': 'unused.yaml',
        'candidates': 'candidates.pckl.gzip',
        'maxvol': 'selected.json',
        'training': None,
    }
    (folder / 'settings.json').write_text(json.dumps(defaults | settings))
    return folder / 'settings.json'


def chosen(gamma_report, folder: Path, settings: Path) -> list[list[str]]:
    gamma_report.choose(str(settings))
    return json.loads((folder / 'choice.json').read_text())


def test_hybrid_with_random_coverage_gates_the_tail_and_draws_the_rest(gamma_report, tmp_path, monkeypatch):
    """`coverage: random`: MaxVol's share takes only what grades at least `tail_min_gamma`, in MaxVol's
    order; the rest of the budget is a seeded draw among the others, no candidate twice."""
    monkeypatch.chdir(tmp_path)
    grades = {f'c{i:02d}': 0.5 + 0.1 * i for i in range(20)}  # c06 and above grade >= 1.1
    maxvol = ['c19', 'c02', 'c15', 'c11', 'c00']
    settings = job_folder(tmp_path, grades, maxvol, max_structures=8, coverage='random', tail_min_gamma=1.1)
    choice = chosen(gamma_report, tmp_path, settings)
    assert len(choice) == 8
    assert [name for name, reason in choice if reason == 'maxvol'] == ['c19', 'c15', 'c11']
    drawn = [name for name, reason in choice if reason == 'random']
    assert len(drawn) == 5 and not {'c19', 'c15', 'c11'} & set(drawn)
    assert len({name for name, _ in choice}) == 8
    assert chosen(gamma_report, tmp_path, settings) == choice
    other_seed = job_folder(
        tmp_path, grades, maxvol, max_structures=8, coverage='random', tail_min_gamma=1.1, seed=1
    )
    assert chosen(gamma_report, tmp_path, other_seed) != choice


def test_random_coverage_takes_the_whole_budget_when_nothing_extrapolates(
    gamma_report, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    grades = {f'c{i}': 0.4 for i in range(6)}
    settings = job_folder(
        tmp_path, grades, ['c1', 'c2'], max_structures=4, coverage='random', tail_min_gamma=1.0
    )
    choice = chosen(gamma_report, tmp_path, settings)
    assert {reason for _, reason in choice} == {'random'}
    assert len(choice) == 4
    too_many = job_folder(tmp_path, grades, ['c1'], max_structures=10, coverage='random', tail_min_gamma=1.0)
    assert len(chosen(gamma_report, tmp_path, too_many)) == 6  # the pool runs out, no repeats


@pytest.fixture(scope='module')
def binary_potential(tmp_path_factory) -> Path:
    """A Cu-Au ACE potential with seeded random coefficients: pyace evaluates it as it does a fitted one."""
    from pyace import create_multispecies_basis_config

    basis = create_multispecies_basis_config(
        {
            'deltaSplineBins': 0.001,
            'elements': ['Cu', 'Au'],
            'embeddings': {
                'ALL': {'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1, 1, 1, 0.5], 'ndensity': 2}
            },
            'bonds': {'ALL': {'radbase': 'ChebExpCos', 'radparameters': [5.25], 'rcut': 5.0, 'dcut': 0.01}},
            'functions': {
                'number_of_functions_per_element': 10,
                'ALL': {'nradmax_by_orders': [5, 2], 'lmax_by_orders': [0, 1]},
            },
        }
    )
    size = len(basis.get_func_coeffs())
    basis.set_func_coeffs(list(np.random.default_rng(0).normal(scale=0.1, size=size)))
    path = tmp_path_factory.mktemp('potential') / 'cu_au.yaml'
    basis.save(str(path))
    return path


def test_stratified_coverage_of_a_binary_pool_with_a_real_potential(
    gamma_report, binary_potential, tmp_path, monkeypatch
):
    """`coverage: stratified` through the job's own steps on Cu-Au cells: pyace's energies and
    B-projections, the compositions, the strata; the budget spent after MaxVol's share."""
    from aiida_pacemaker.tools.examples import random_alloy_structures

    monkeypatch.chdir(tmp_path)
    candidates = random_alloy_structures(24, elements=('Cu', 'Au'), seed=3)
    training = random_alloy_structures(6, elements=('Cu', 'Au'), seed=4)
    energy, training_energy, composition, training_composition = gamma_report.energies_above_composition(
        str(binary_potential), candidates, training
    )
    assert composition.shape == (24, 2) and training_composition.shape == (6, 2)
    assert composition.sum(axis=1).tolist() == [len(atoms) for atoms in candidates]
    assert np.isfinite(energy).all() and np.isfinite(training_energy).all() and np.ptp(energy) > 0
    names = [f'c{index:02d}' for index in range(24)]
    pd.DataFrame({'ase_atoms': training}).to_pickle('training.pckl.gzip', compression='gzip')
    settings = job_folder(
        tmp_path,
        {name: 2.0 for name in names},
        names[:6],
        structures=candidates,
        coverage='stratified',
        max_structures=8,
        potential=str(binary_potential),
        training='training.pckl.gzip',
    )
    choice = chosen(gamma_report, tmp_path, settings)
    assert [name for name, reason in choice if reason == 'maxvol'] == names[:4]
    assert len({name for name, _ in choice}) == 8 and {reason for _, reason in choice[4:]} == {'stratified'}
    assert chosen(gamma_report, tmp_path, settings) == choice  # deterministic
