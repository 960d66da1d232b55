"""The job-side `gamma_report.py choose` step on files like those a `pacemaker.select` job writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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


def job_folder(folder: Path, grades: dict[str, float], maxvol: list[str], **settings) -> Path:
    """The files the filter and pace_select steps leave: the in-window candidates, their grades, MaxVol's order."""
    from aiida_pacemaker.tools.examples import random_bulk_structures

    names = list(grades)
    frame = pd.DataFrame({'name': names, 'ase_atoms': random_bulk_structures(len(names), seed=5)})
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
