"""What active learning bought: the same fits on randomly chosen structures, for comparison.

:func:`fit_schedule` fits a sequence of growing training sets exactly as
`PaceActiveLearningWorkChain` does (each fit continuing from the previous potential, refitted from
scratch when it stalled: see ``refit_tolerance``); :func:`random_selection_curve` uses it to build
the random-selection arm of a finished active-learning run from the same pool, with the same
budgets, fit settings and test set.
"""

from __future__ import annotations

import typing as t

import numpy as np
from aiida import engine, orm

from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.tools.fits import force_rmse_of_first, has_stalled

__all__ = ('fit_schedule', 'random_selection_curve')


def _fit(inputs: dict[str, t.Any]) -> orm.ProcessNode:
    from aiida_pacemaker.workflows.train import PaceTrainWorkChain

    _, node = engine.run_get_node(PaceTrainWorkChain, train=inputs)
    if not node.is_finished_ok:
        raise RuntimeError(f'PaceTrainWorkChain<{node.pk}> failed: {node.exit_message}')
    return node


def fit_schedule(
    training_sets: t.Sequence[TrainingSetData],
    *,
    code: orm.AbstractCode,
    parameters: orm.Dict,
    test_set: TrainingSetData | None = None,
    fine_tune: bool = True,
    refit_tolerance: float = 0.25,
) -> list[dict[str, t.Any]]:
    """Fit every training set in turn, as the active-learning workchain fits its cycles.

    Each set must begin with the structures of the one before (as the workchain's merges do). Returns one
    dict per set: ``potential``, ``metrics`` (the kept fit's, a dict), ``training_set``, ``refitted``.
    """
    results: list[dict[str, t.Any]] = []
    previous: dict[str, t.Any] | None = None
    for training_set in training_sets:
        inputs: dict[str, t.Any] = {'code': code, 'training_set': training_set, 'parameters': parameters}
        if test_set is not None:
            inputs['test_set'] = test_set
        node = _fit(
            {**inputs, **({'initial_potential': previous['potential']} if previous and fine_tune else {})}
        )
        refitted = False
        if previous is not None and fine_tune and 'per_structure_errors' in node.outputs:
            now = force_rmse_of_first(node.outputs.per_structure_errors, previous['natoms'])
            if has_stalled(now, previous['force_rmse'], refit_tolerance):
                scratch = _fit(inputs)
                if scratch.outputs.metrics.get('loss', np.inf) < node.outputs.metrics.get('loss', np.inf):
                    node, refitted = scratch, True
        natoms = training_set.get_arrays()['natoms']
        own = (
            force_rmse_of_first(node.outputs.per_structure_errors, natoms)
            if 'per_structure_errors' in node.outputs
            else None
        )
        previous = {'potential': node.outputs.potential, 'natoms': natoms, 'force_rmse': own}
        results.append(
            {
                'potential': node.outputs.potential,
                'metrics': node.outputs.metrics.get_dict(),
                'training_set': training_set,
                'refitted': refitted,
            }
        )
    return results


def random_selection_curve(
    workchain: orm.WorkflowNode,
    label: t.Callable[[list[t.Any]], list[t.Any]],
    seed: int = 0,
) -> list[dict[str, t.Any]]:
    """The learning curve of random selection for a finished `PaceActiveLearningWorkChain`.

    The same budgets (training-set size of every cycle), the same first training set, fit settings and
    test set; the structures added at each budget are drawn at random (``seed``) from the workchain's
    ``pool`` (or ``structure_pool``, by name) and labelled by ``label`` (ASE Atoms in, Atoms with energy and forces in ``atoms.calc`` out,
    e.g. :func:`aiida_pacemaker.tools.examples.emt_label`).

    Returns rows with ``num_structures``, the train and test RMSEs (meV/atom, meV/Å), ``refitted`` and
    ``potential_uuid``.
    """
    if 'baseline' in workchain.inputs:
        raise ValueError(
            'the random-selection arm does not fit residuals: not available for a run with a baseline'
        )
    outputs = {link.link_label: link.node for link in workchain.base.links.get_outgoing().all()}
    cycles = sorted(
        int(name.rsplit('_', 1)[1]) for name in outputs if name.startswith('training_sets__cycle_')
    )
    if not cycles:
        raise ValueError(f'{workchain.process_label}<{workchain.pk}> has finished no cycle')
    first = t.cast(TrainingSetData, outputs['training_sets__cycle_1'])
    budgets = [t.cast(TrainingSetData, outputs[f'training_sets__cycle_{k}']).num_structures for k in cycles]
    if 'structure_pool' in workchain.inputs:
        by_name = dict(
            zip(workchain.inputs.structure_pool.names, workchain.inputs.structure_pool.to_ase(), strict=True)
        )
    else:
        by_name = {key: structure.get_ase() for key, structure in workchain.inputs.pool.items()}
    pool = [by_name[key] for key in sorted(by_name)]
    order = np.random.default_rng(seed).permutation(len(pool))
    needed = max(budgets) - first.num_structures
    if needed > len(pool):
        raise ValueError(f'the pool holds {len(pool)} structures; the random arm needs {needed}')
    labelled = label([pool[i] for i in order[:needed]])
    start = first.to_ase()
    training_sets = []
    for budget in budgets:
        training_set = TrainingSetData.from_ase(start + labelled[: budget - first.num_structures])
        training_sets.append(training_set.store())
    train = workchain.inputs.train.train
    fits = fit_schedule(
        training_sets,
        code=train.code,
        parameters=train.parameters,
        test_set=workchain.inputs.test_set if 'test_set' in workchain.inputs else None,
        fine_tune=workchain.inputs.fine_tune.value,
        refit_tolerance=workchain.inputs.refit_tolerance.value,
    )
    keys = ('train_energy_rmse', 'train_force_rmse', 'test_energy_rmse', 'test_force_rmse')
    return [
        {
            'num_structures': fit['training_set'].num_structures,
            **{key: fit['metrics'].get(key) for key in keys},
            'refitted': fit['refitted'],
            'potential_uuid': fit['potential'].uuid,
        }
        for fit in fits
    ]
