"""Figures of an active-learning run: learning curve, parity plots, extrapolation grades.

Each ``plot_*`` function writes one PNG with matplotlib's Agg backend (no display needed)
and returns its path. Units: energies in eV/atom (parity) or meV/atom (RMSE), forces in
eV/Å (parity) or meV/Å (RMSE); the extrapolation grade gamma has none.
"""

from __future__ import annotations

import dataclasses
import pathlib
import typing as t

import numpy as np

if t.TYPE_CHECKING:
    from aiida_pacemaker.data.potential import PacePotentialData
    from aiida_pacemaker.data.training_set import TrainingSetData

__all__ = (
    'Predictions',
    'cumulative_labelling_seconds',
    'evaluate_potential',
    'plot_gamma_histogram',
    'plot_labelling_cost',
    'plot_learning_curve',
    'plot_parity',
    'pyplot',
    'save_figure',
)

_DPI = 120


def pyplot() -> t.Any:
    """matplotlib's pyplot on the Agg backend (files only, no screen)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


@dataclasses.dataclass
class Predictions:
    """Reference and predicted labels of one data set.

    :param energy_reference: energy per atom of each structure, eV/atom.
    :param energy_predicted: the potential's energy per atom, eV/atom.
    :param forces_reference: every force component, eV/Å.
    :param forces_predicted: the potential's force components, eV/Å.
    """

    energy_reference: np.ndarray
    energy_predicted: np.ndarray
    forces_reference: np.ndarray
    forces_predicted: np.ndarray

    @property
    def energy_rmse(self) -> float:
        """RMSE of the energy per atom, meV/atom."""
        return 1000.0 * float(np.sqrt(np.mean((self.energy_predicted - self.energy_reference) ** 2)))

    @property
    def force_rmse(self) -> float:
        """RMSE of the force components, meV/Å."""
        return 1000.0 * float(np.sqrt(np.mean((self.forces_predicted - self.forces_reference) ** 2)))


def evaluate_potential(potential: PacePotentialData, data: TrainingSetData) -> Predictions:
    """Evaluate ``potential`` (with its baseline and reference energies; needs pyace) on ``data``."""
    calculator = potential.get_ase_calculator()
    energies_ref, energies_pred, forces_ref, forces_pred = [], [], [], []
    for atoms in data.to_ase():
        reference = atoms.calc.results
        energies_ref.append(reference['energy'] / len(atoms))
        forces_ref.append(np.asarray(reference['forces']).ravel())
        atoms.calc = calculator
        energies_pred.append(atoms.get_potential_energy() / len(atoms))
        forces_pred.append(np.asarray(atoms.get_forces()).ravel())
    return Predictions(
        np.array(energies_ref),
        np.array(energies_pred),
        np.concatenate(forces_ref),
        np.concatenate(forces_pred),
    )


def _column(rows: t.Sequence[dict[str, t.Any]], key: str) -> np.ndarray:
    return np.array([np.nan if row.get(key) is None else float(row[key]) for row in rows])


def plot_learning_curve(
    rows: t.Sequence[dict[str, t.Any]],
    path: str | pathlib.Path,
    compare: dict[str, t.Sequence[dict[str, t.Any]]] | None = None,
) -> pathlib.Path:
    """Energy and force RMSE (train and test) against the training-set size, log-scaled y.

    :param rows: the learning curve (see :func:`aiida_pacemaker.tools.provenance.learning_curve`).
    :param compare: other arms by name (e.g. ``{'random': rows}`` from
        :func:`aiida_pacemaker.tools.comparison.random_selection_curve`): their test RMSEs, dotted.
    """
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    sizes = _column(rows, 'num_structures')
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout='constrained')
    panels = (('energy', 'Energy RMSE (meV/atom)'), ('force', 'Force RMSE (meV/Å)'))
    for axis, (quantity, ylabel) in zip(axes, panels, strict=True):
        for split, style in (
            ('train', {'ls': '--', 'marker': 'o', 'mfc': 'none'}),
            ('test', {'marker': 's'}),
        ):
            values = _column(rows, f'{split}_{quantity}_rmse')
            if np.all(np.isnan(values)):
                continue
            axis.plot(sizes, values, label=split, **style)
        train = _column(rows, f'train_{quantity}_rmse')
        rose = [index for index in range(1, len(rows)) if train[index] > train[index - 1]]
        if rose:  # a training error that rose: more (harder) data, or a fit that did not converge
            axis.scatter(
                sizes[rose], train[rose], s=140, facecolors='none', edgecolors='red', label='train error rose'
            )
        for name, other in (compare or {}).items():
            values = _column(other, f'test_{quantity}_rmse')
            if not np.all(np.isnan(values)):
                axis.plot(_column(other, 'num_structures'), values, ls=':', marker='x', label=f'test, {name}')
        for row, size in zip(rows, sizes, strict=True):
            value = row.get(f'test_{quantity}_rmse') or row.get(f'train_{quantity}_rmse')
            if value:
                axis.annotate(
                    f'{row["cycle"]}', (size, value), textcoords='offset points', xytext=(4, 4), fontsize=8
                )
        _log_axis(axis, 'y')
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel('Training-set size (structures)')
        axis.set_ylabel(ylabel)
        axis.grid(True, which='both', alpha=0.3)
        axis.legend(title='set')
    last = rows[-1] if rows else {}
    note = ''
    if last.get('num_selected') and not last.get('num_labelled'):
        note = f' - the {last["num_selected"]} structures selected in the last cycle are not labelled (no later fit)'
    figure.suptitle(f'Learning curve (point labels: cycle){note}', fontsize='medium')
    return save_figure(figure, path)


def cumulative_labelling_seconds(
    rows: t.Sequence[dict[str, t.Any]], cost: t.Sequence[dict[str, t.Any]]
) -> np.ndarray:
    """Per learning-curve row (cycle k): the labelling time spent on its training set, s: the initial
    labels and the labels of the selections of cycles 1 to k - 1 (see
    :func:`aiida_pacemaker.tools.provenance.labelling_cost`)."""
    initial = sum(row['wall_seconds'] for row in cost if row['step'] == 'initial')
    per_cycle = {row['step']: row['wall_seconds'] for row in cost if row['step'] != 'initial'}
    return np.array(
        [initial + sum(per_cycle.get(j, 0.0) for j in range(1, int(row['cycle']))) for row in rows],
        dtype=float,
    )


def plot_labelling_cost(
    rows: t.Sequence[dict[str, t.Any]], cost: t.Sequence[dict[str, t.Any]], path: str | pathlib.Path
) -> pathlib.Path:
    """Force RMSE (test, else train) against the training-set size and against the labelling time spent
    on that set (s, summed from the labellers' processes), side by side.

    :param rows: the learning curve; :param cost: :func:`aiida_pacemaker.tools.provenance.labelling_cost`.
    """
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    split = 'test' if not np.all(np.isnan(_column(rows, 'test_force_rmse'))) else 'train'
    errors = _column(rows, f'{split}_force_rmse')
    seconds = cumulative_labelling_seconds(rows, cost)
    hours = seconds.max(initial=0.0) > 3 * 3600
    time = seconds / 3600 if hours else seconds
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout='constrained', sharey=True)
    for axis, x, xlabel in (
        (axes[0], _column(rows, 'num_structures'), 'Training-set size (structures)'),
        (axes[1], time, f'Labelling time spent on the training set ({"h" if hours else "s"})'),
    ):
        axis.plot(x, errors, marker='s')
        for row, xi, yi in zip(rows, x, errors, strict=True):
            if np.isfinite(yi):
                axis.annotate(
                    f'{row["cycle"]}', (xi, yi), textcoords='offset points', xytext=(4, 4), fontsize=8
                )
        axis.set_xlabel(xlabel)
        axis.grid(True, which='both', alpha=0.3)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    _log_axis(axes[0], 'y')
    axes[0].set_ylabel(f'{split.capitalize()} force RMSE (meV/Å)')
    total = sum(row['wall_seconds'] for row in cost)
    labels = sum(row['labels'] for row in cost)
    figure.suptitle(
        f'Error against labels and their cost (point labels: cycle); {labels} labels in the run, '
        f'{total:.3g} s of labelling',
        fontsize='medium',
    )
    return save_figure(figure, path)


def plot_parity(
    predictions: dict[str, Predictions], path: str | pathlib.Path, title: str = 'Parity'
) -> pathlib.Path:
    """Predicted against reference energy per atom and force components, one colour per data set.

    :param predictions: data-set name (e.g. ``train``, ``test``) -> :class:`Predictions`.
    """
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.8), layout='constrained')
    panels = (
        ('energy', 'energy per atom (eV/atom)', 'meV/atom'),
        ('forces', 'force component (eV/Å)', 'meV/Å'),
    )
    for axis, (quantity, label, unit) in zip(axes, panels, strict=True):
        low, high = np.inf, -np.inf
        for name, data in predictions.items():
            reference = getattr(data, f'{quantity}_reference')
            predicted = getattr(data, f'{quantity}_predicted')
            rmse = data.energy_rmse if quantity == 'energy' else data.force_rmse
            axis.scatter(reference, predicted, s=12, alpha=0.7, label=f'{name} (RMSE {rmse:.3g} {unit})')
            low = min(low, reference.min(), predicted.min())
            high = max(high, reference.max(), predicted.max())
        pad = 0.05 * (high - low or 1.0)
        axis.plot([low - pad, high + pad], [low - pad, high + pad], color='grey', lw=1, ls=':', label='y = x')
        axis.set_xlim(low - pad, high + pad)
        axis.set_ylim(low - pad, high + pad)
        axis.set_aspect('equal')
        axis.set_xlabel(f'Reference {label}')
        axis.set_ylabel(f'ACE {label}')
        axis.grid(True, alpha=0.3)
        axis.legend(loc='upper left', fontsize=8)
    axes[0].ticklabel_format(useOffset=False)
    figure.suptitle(title)
    return save_figure(figure, path)


def plot_gamma_histogram(
    rows: t.Sequence[dict[str, t.Any]],
    path: str | pathlib.Path,
    gamma_select: float | None = None,
    gamma_max: float | None = None,
) -> pathlib.Path:
    """Histogram of the candidates' max extrapolation grade gamma, one step line per cycle (log x).

    :param rows: the learning curve; the row key ``gamma`` holds the grades of that cycle's candidates.
    :param gamma_select: selection threshold, drawn as a vertical line.
    :param gamma_max: upper bound of the selection window, drawn as a vertical line.
    """
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.2), layout='constrained')
    grades = {row['cycle']: np.asarray(row.get('gamma') or [], dtype=float) for row in rows}
    grades = {cycle: values[values > 0] for cycle, values in grades.items() if values.size}
    if grades:
        everything = np.concatenate(list(grades.values()))
        low, high = everything.min(), everything.max()
        bins = (
            np.geomspace(low / 1.05, high * 1.05, 25) if high > low else np.geomspace(low / 1.5, low * 1.5, 5)
        )
        for cycle, values in sorted(grades.items()):
            axis.hist(
                values, bins=bins, histtype='step', lw=1.8, label=f'cycle {cycle} ({values.size} candidates)'
            )
        _log_axis(axis, 'x')
        low, high = bins[0], bins[-1]
        if gamma_select is not None:
            axis.axvspan(
                gamma_select, gamma_max or high * 1e6, color='tab:green', alpha=0.08, label='selection window'
            )
            low, high = min(low, gamma_select / 1.2), max(high, (gamma_max or gamma_select) * 1.2)
        axis.set_xlim(low / 1.1, high * 1.1)
    else:
        axis.text(0.5, 0.5, 'no candidates were graded', ha='center', va='center', transform=axis.transAxes)
    for value, name, style in ((gamma_select, 'select', '--'), (gamma_max, 'max', ':')):
        if value is not None:
            axis.axvline(
                value, color='black', ls=style, lw=1, label=rf'$\gamma_{{\mathrm{{{name}}}}}$ = {value:g}'
            )
    axis.yaxis.set_major_locator(_integer_locator())
    axis.set_xlabel(r'Max extrapolation grade $\gamma$ of a candidate structure')
    axis.set_ylabel('Candidates')
    axis.set_title('Extrapolation grades of the candidates per cycle')
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return save_figure(figure, path)


def _log_axis(axes: t.Any, which: str) -> None:
    """Log scale on the ``which`` (``x`` or ``y``) axis, plain-number labels at 1, 2, 5 x 10^n."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    getattr(axes, f'set_{which}scale')('log')
    axis = axes.yaxis if which == 'y' else axes.xaxis
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f'{value:g}'))
    axis.set_minor_formatter(NullFormatter())


def _integer_locator() -> t.Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def save_figure(figure: t.Any, path: str | pathlib.Path) -> pathlib.Path:
    """Write ``figure`` as a PNG to ``path``, close it, return the path."""
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
    return path
