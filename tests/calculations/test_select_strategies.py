"""`pacemaker.select` strategies beyond MaxVol, run for real with pace_select and pyace's B-projections."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import engine, orm
from aiida.plugins import CalculationFactory


def pool():
    """12 typical cells like the training data, and 2 outliers (one atom pushed against a neighbour)."""
    from aiida_pacemaker.tools.examples import random_bulk_structures

    typical = random_bulk_structures(12, seed=41)
    outliers = random_bulk_structures(2, seed=42)
    for atoms in outliers:
        atoms.positions[0] = atoms.positions[1] + [0.9, 0.0, 0.0]  # 0.9 Å: unphysical
    candidates = {f't{i:02d}': orm.StructureData(ase=atoms) for i, atoms in enumerate(typical)}
    candidates |= {f'x{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(outliers)}
    return candidates


@pytest.fixture(scope='module')
def candidates(fitted):
    return pool()


@pytest.fixture(scope='module')
def hybrid_report(fitted, fitted_active_set, candidates):
    """One hybrid selection of 4 (seed 1): the reference of the tests that vary its input."""
    report, _ = select(fitted, fitted_active_set, candidates, max_structures=4, strategy='hybrid', seed=1)
    return report


def run_select(fitted, active_set, **inputs):
    """Run `pacemaker.select` with the fitted potential, its code and ``inputs``; it must finish ok."""
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.select'),
        code=fitted['codes']['pace_select'],
        potential=fitted['potential'],
        active_set=active_set,
        **inputs,
    )
    assert node.is_finished_ok, node.exit_message
    return results, node


def select(fitted, active_set, candidates, with_training_set=True, **parameters):
    inputs = {'candidates': candidates, 'parameters': orm.Dict(parameters)}
    if with_training_set:
        inputs['training_set'] = fitted['training_set']
    results, _ = run_select(fitted, active_set, **inputs)
    return results['report'].get_dict(), results


@pytest.mark.pacemaker
@pytest.mark.parametrize(
    ('strategy', 'coverage'),
    [
        ('lcmd', None),
        ('representative', None),
        ('stratified', None),
        ('maxdist', None),
        ('hybrid', None),
        ('hybrid', 'representative'),
        ('hybrid', 'stratified'),
        ('random', None),
    ],
)
def test_strategy_spends_the_budget_reproducibly(fitted, fitted_active_set, candidates, strategy, coverage):
    extra = {'coverage': coverage} if coverage else {}
    report, results = select(
        fitted, fitted_active_set, candidates, max_structures=5, strategy=strategy, seed=3, **extra
    )
    assert report['strategy'] == strategy
    assert report['num_selected'] == len(results['selected']) == 5
    assert set(report['reasons']) == set(report['selected'])
    rest = coverage or ('lcmd' if strategy == 'hybrid' else strategy)
    assert set(report['reasons'].values()) <= {rest, 'maxvol'}
    if strategy == 'hybrid':  # half the budget (rounded) by MaxVol, the rest by coverage
        assert list(report['reasons'].values()).count(rest) >= 2
    else:
        assert set(report['reasons'].values()) == {rest}
    if strategy in ('hybrid', 'random') and not coverage:
        # reproducible for a seed: once through a real job for the strategy that computes features and
        # runs pace_select, and for the seeded draw (every strategy's own determinism: test_selection.py)
        again, _ = select(
            fitted, fitted_active_set, candidates, max_structures=5, strategy=strategy, seed=3, **extra
        )
        assert again['selected'] == report['selected']


@pytest.mark.pacemaker
def test_outliers_are_kept_out_by_distance_and_grade(fitted, fitted_active_set, candidates):
    """MaxVol spends its first picks on the two unphysical cells (they are the most extrapolative); a
    floor on interatomic distances, or an upper bound on the grade, keeps them out of every strategy
    while the budget is still spent."""
    report, _ = select(fitted, fitted_active_set, candidates, max_structures=3, fill_to_max=True)
    gamma = report['gamma']
    assert min(gamma['x0'], gamma['x1']) > max(g for key, g in gamma.items() if key.startswith('t'))
    assert {'x0', 'x1'} <= set(report['selected'])
    assert report['too_close'] == []
    # the floor is applied once, before any strategy runs: checked under the two that reach for
    # outliers first (MaxVol, farthest point) and the default hybrid
    for strategy in ('maxvol', 'maxdist', 'hybrid'):
        floored, _ = select(
            fitted,
            fitted_active_set,
            candidates,
            max_structures=4,
            strategy=strategy,
            fill_to_max=True,
            min_distance_factor=0.6,
        )
        assert sorted(floored['too_close']) == ['x0', 'x1'], strategy
        assert not {'x0', 'x1'} & set(floored['selected']), strategy
        assert floored['num_selected'] == 4, strategy
        assert floored['num_in_window'] == 12
    # a bound between the typical cells' grades and the outliers': the grades are recomputed in each
    # job and need not match the first job's to the last bit, so the bound is not set at an outlier's
    # own grade (CI saw x0 recomputed a hair below it and kept)
    typical = max(g for key, g in gamma.items() if key.startswith('t'))
    bounded, _ = select(
        fitted,
        fitted_active_set,
        candidates,
        max_structures=4,
        strategy='lcmd',
        gamma_max=(typical + min(gamma['x0'], gamma['x1'])) / 2,
    )
    assert not {'x0', 'x1'} & set(bounded['selected'])
    assert bounded['num_selected'] == 4


@pytest.mark.pacemaker
def test_hybrid_tail_takes_only_what_extrapolates(fitted, fitted_active_set, candidates, hybrid_report):
    """`tail_min_gamma`: MaxVol's share of a hybrid batch takes only candidates graded at least that
    high; the places it leaves go to coverage (here a random draw, then LCMD), and the budget is still
    spent."""
    gamma = hybrid_report['gamma']
    typical = max(g for key, g in gamma.items() if key.startswith('t'))
    outliers = min(gamma['x0'], gamma['x1'])
    between = (typical + outliers) / 2

    def gated(threshold: float, **extra) -> dict:
        report, _ = select(
            fitted,
            fitted_active_set,
            candidates,
            max_structures=4,
            strategy='hybrid',
            seed=1,
            tail_min_gamma=threshold,
            **extra,
        )
        return report

    some = gated(between, coverage='random')
    tail = [key for key, reason in some['reasons'].items() if reason == 'maxvol']
    assert tail and all(gamma[key] >= between for key in tail)
    assert set(some['reasons'].values()) == {'maxvol', 'random'}
    assert some['num_selected'] == 4
    nothing_extrapolates = gated(10 * max(gamma.values()))
    assert set(nothing_extrapolates['reasons'].values()) == {'lcmd'}
    assert nothing_extrapolates['num_selected'] == 4


@pytest.mark.pacemaker
def test_a_pool_node_selects_as_the_candidates_do(fitted, fitted_active_set, candidates, hybrid_report):
    """The same candidates as one `StructurePoolData`: the same grades and choice; only the selected
    structures become nodes, created by the selection from the pool."""
    from aiida.common.links import LinkType

    from aiida_pacemaker.data import StructurePoolData

    report = hybrid_report
    pool = StructurePoolData.from_structures(candidates).store()
    results, node = run_select(
        fitted,
        fitted_active_set,
        pool=pool,
        training_set=fitted['training_set'],
        parameters=orm.Dict({'max_structures': 4, 'strategy': 'hybrid', 'seed': 1}),
    )
    from_pool = results['report'].get_dict()
    assert from_pool['selected'] == report['selected'] and from_pool['reasons'] == report['reasons']
    assert from_pool['gamma'] == pytest.approx(report['gamma'])
    assert sorted(results['selected']) == sorted(report['selected'])
    for key, structure in results['selected'].items():
        assert structure.base.links.get_incoming(link_type=LinkType.CREATE).one().node.pk == node.pk
        assert structure.get_ase().get_chemical_formula() == candidates[key].get_ase().get_chemical_formula()
        assert np.allclose(structure.get_ase().positions, candidates[key].get_ase().positions)
    assert node.inputs.pool.uuid == pool.uuid  # where each selected structure came from


@pytest.mark.pacemaker
def test_a_pool_less_excluded_plus_candidates_selects_as_the_candidates_do(
    fitted, fitted_active_set, candidates, hybrid_report
):
    """What the active-learning workchain gives a selection with a `structure_pool`: the pool less the
    names taken out (`exclude`) plus the explored structures (`candidates`): the same grades and choice
    as the same candidates alone."""
    from aiida.common.links import LinkType

    from aiida_pacemaker.data import StructurePoolData
    from aiida_pacemaker.tools.examples import random_bulk_structures

    keys = sorted(candidates)
    in_pool, given = keys[:8], keys[8:]
    taken = random_bulk_structures(2, seed=43)  # labelled already: never graded, never picked
    pool = StructurePoolData.from_ase(
        [candidates[k].get_ase() for k in in_pool] + taken, [*in_pool, 'done0', 'done1']
    ).store()
    results, node = run_select(
        fitted,
        fitted_active_set,
        pool=pool,
        exclude=orm.List(['done0', 'done1', 'not_in_the_pool']),
        candidates={k: candidates[k] for k in given},
        training_set=fitted['training_set'],
        parameters=orm.Dict({'max_structures': 4, 'strategy': 'hybrid', 'seed': 1}),
    )
    report = results['report'].get_dict()
    assert sorted(report['gamma']) == keys and report['num_candidates'] == len(keys)
    assert report['gamma'] == pytest.approx(hybrid_report['gamma'])
    assert report['selected'] == hybrid_report['selected'] and report['reasons'] == hybrid_report['reasons']
    for key, structure in results['selected'].items():
        assert structure.base.links.get_incoming(link_type=LinkType.CREATE).one().node.pk == node.pk
        assert np.allclose(structure.get_ase().positions, candidates[key].get_ase().positions)


@pytest.mark.pacemaker
def test_an_ungraded_pool_selects_as_maxvol_does(fitted, fitted_active_set, candidates):
    """`grade_candidates: false` (exploration-scale pools): no grading pass, pace_select's choice as with
    the grades, which the report leaves out."""
    from aiida_pacemaker.data import StructurePoolData

    pool = StructurePoolData.from_structures(candidates).store()
    reports = []
    for graded in (True, False):
        results, _ = run_select(
            fitted,
            fitted_active_set,
            pool=pool,
            parameters=orm.Dict({'max_structures': 3, 'grade_candidates': graded}),
        )
        reports.append(results['report'].get_dict())
        assert sorted(results['selected']) == sorted(reports[-1]['selected'])
    graded_report, ungraded = reports
    assert ungraded['selected'] == graded_report['selected'] and len(ungraded['selected']) == 3
    assert ungraded['gamma'] == {} and ungraded['max_gamma'] is None
    assert ungraded['num_candidates'] == graded_report['num_candidates'] == len(candidates)
    assert ungraded['num_in_window'] == len(candidates)


@pytest.mark.pacemaker
def test_grades_from_projections_match_the_calculator(fitted, fitted_active_set, candidates, tmp_path):
    """The job grades all candidates from their B-projections at once; the grades are the calculator's."""
    import types

    from aiida_pacemaker.scripts import script_text

    gamma_report = types.ModuleType('gamma_report')
    exec(compile(script_text('gamma_report.py'), 'gamma_report.py', 'exec'), gamma_report.__dict__)
    (tmp_path / 'potential.yaml').write_bytes(fitted['potential'].get_yaml_content())
    (tmp_path / 'potential.asi').write_bytes(fitted_active_set.get_asi_content())
    atoms_list = [structure.get_ase() for structure in candidates.values()]
    potential, asi = str(tmp_path / 'potential.yaml'), str(tmp_path / 'potential.asi')
    by_calculator = gamma_report.grades_by_calculator(potential, asi, atoms_list)
    by_projections = gamma_report.grades_by_projections(
        potential, asi, atoms_list, full=fitted_active_set.base.attributes.get('mode') == 'full'
    )
    assert by_projections == pytest.approx(by_calculator, rel=1e-6)
    assert max(by_calculator) > 1.0  # the outliers extrapolate: the comparison covers large grades too
