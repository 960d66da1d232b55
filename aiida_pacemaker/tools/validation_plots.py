"""Figures of a validation (``PaceValidateWorkChain``): E(V) curves, phonon bands and DOS, MD traces.

Each ``plot_*`` function takes the results of the potential and of the reference (plain dictionaries
and arrays, as the property calcfunctions store them), writes one PNG with matplotlib's Agg backend and
returns its path; :func:`write_validation_plots` writes all of them for a finished workchain. Units:
volume Å³/atom, energy eV/atom, frequency THz, time fs, distance Å; the extrapolation grade has none.
"""

from __future__ import annotations

import pathlib
import typing as t

import numpy as np

from .plots import pyplot, save_figure

if t.TYPE_CHECKING:
    from aiida import orm

__all__ = ('plot_equation_of_state', 'plot_md_trace', 'plot_phonons', 'write_validation_plots')

#: colour and line style of each model
_STYLE = {'potential': {'color': 'C0', 'linestyle': '-'}, 'reference': {'color': 'C3', 'linestyle': '--'}}


def plot_equation_of_state(
    results: t.Mapping[str, t.Mapping[str, t.Any]], path: str | pathlib.Path, title: str = ''
) -> pathlib.Path:
    """E(V) points and fitted curves of each model (``potential``, ``reference``: the ``result`` of
    :func:`~aiida_pacemaker.calculations.functions.properties.compute_equation_of_state`)."""
    from ase.eos import EquationOfState

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 4.2))
    for model, result in results.items():
        eos = EquationOfState(result['volumes'], result['energies'], eos=result.get('eos', 'birchmurnaghan'))
        eos.fit(warn=False)
        _, _, _, _, curve_volumes, curve_energies, volumes, energies = eos.getplotdata()
        style = _STYLE.get(model, {})
        axes.plot(volumes, energies, 'o', color=style.get('color'))
        axes.plot(
            curve_volumes,
            curve_energies,
            **style,
            label=f'{model}: V0 {result["equilibrium_volume"]:.2f} Å³, B {result["bulk_modulus"]:.0f} GPa',
        )
    axes.set_xlabel('volume (Å³/atom)')
    axes.set_ylabel('energy (eV/atom)')
    axes.set_title(title or 'equation of state')
    axes.legend(fontsize='small')
    figure.tight_layout()
    return save_figure(figure, path)


def _tick_labels(
    positions: t.Sequence[float] | np.ndarray, labels: t.Sequence[str]
) -> tuple[list[float], list[str]]:
    """Special points on the distance axis, Γ for G, and `K|U` where a path jumps."""
    ticks: list[float] = []
    names: list[str] = []
    for x, label in zip(positions, labels, strict=True):
        name = 'Γ' if label == 'G' else label
        if ticks and abs(x - ticks[-1]) < 1e-9:
            names[-1] = f'{names[-1]}|{name}'
        else:
            ticks.append(float(x))
            names.append(name)
    return ticks, names


def plot_phonons(
    results: t.Mapping[str, tuple[t.Mapping[str, t.Any], t.Mapping[str, np.ndarray]]],
    path: str | pathlib.Path,
    title: str = '',
) -> pathlib.Path:
    """Phonon bands on the path and the DOS of each model: ``{model: (result, arrays)}`` as stored by
    :func:`~aiida_pacemaker.calculations.functions.properties.compute_phonons`. The models' paths are
    drawn on the first one's distance axis (their lattice constants differ a little)."""
    plt = pyplot()
    figure, (bands, dos) = plt.subplots(
        1, 2, figsize=(7.5, 4.2), sharey=True, gridspec_kw={'width_ratios': [4, 1]}
    )
    axis_length: float | None = None
    ticks: tuple[list[float], list[str]] = ([], [])
    for model, (result, arrays) in results.items():
        style = _STYLE.get(model, {})
        distances = np.asarray(arrays['distances'], dtype=float)
        special = np.asarray(result['special_distances'], dtype=float)
        if axis_length is None:
            axis_length = float(distances[-1])
            ticks = _tick_labels(special, result['labels'])
        scale = axis_length / float(distances[-1]) if distances[-1] else 1.0
        frequencies = np.asarray(arrays['frequencies'], dtype=float)
        for band in range(frequencies.shape[1]):
            bands.plot(
                distances * scale,
                frequencies[:, band],
                **style,
                linewidth=1.0,
                label=model if not band else None,
            )
        dos.plot(arrays['dos'], arrays['dos_frequencies'], **style, linewidth=1.0)
        if result.get('imaginary_modes'):
            bands.annotate(
                f'{model}: imaginary modes', (0.02, 0.02), xycoords='axes fraction', color=style.get('color')
            )
    bands.set_xticks(ticks[0], ticks[1])
    for x in ticks[0]:
        bands.axvline(x, color='0.8', linewidth=0.6)
    bands.axhline(0.0, color='0.5', linewidth=0.6)
    bands.set_xlim(0, axis_length or 1.0)
    bands.set_ylabel('frequency (THz)')
    bands.set_title(title or 'phonons')
    bands.legend(fontsize='small', loc='lower right')
    dos.set_xlabel('DOS')
    dos.set_xticks([])
    figure.tight_layout()
    return save_figure(figure, path)


def plot_md_trace(
    results: t.Mapping[str, tuple[t.Mapping[str, t.Any], t.Mapping[str, np.ndarray]]],
    path: str | pathlib.Path,
    title: str = '',
) -> pathlib.Path:
    """MD traces at each temperature: the potential's max extrapolation grade (when it was recorded) and
    the shortest interatomic distance of each model against time. ``{model: (result, arrays)}`` as stored
    by :func:`~aiida_pacemaker.calculations.functions.properties.run_md_stability`."""
    plt = pyplot()
    has_grades = any(
        np.isfinite(np.asarray(arrays.get(f'trace_{k}_max_gamma', []), dtype=float)).any()
        for result, arrays in results.values()
        for k in range(len(result['temperatures']))
    )
    figure, panels = plt.subplots(
        2 if has_grades else 1, 1, figsize=(6, 5.5 if has_grades else 3.4), sharex=True
    )
    panels = np.atleast_1d(panels)
    for model, (result, arrays) in results.items():
        style = _STYLE.get(model, {})
        for index, temperature in enumerate(result['temperatures']):
            time = np.asarray(arrays[f'trace_{index}_time'], dtype=float)
            colour = f'C{index}'
            label = f'{model} {temperature:g} K'
            panels[-1].plot(
                time,
                arrays[f'trace_{index}_min_distance'],
                color=colour,
                linestyle=style.get('linestyle'),
                label=label,
            )
            grades = np.asarray(arrays[f'trace_{index}_max_gamma'], dtype=float)
            if has_grades and np.isfinite(grades).any():
                panels[0].plot(time, grades, color=colour, linestyle=style.get('linestyle'), label=label)
    if has_grades:
        panels[0].set_ylabel('max extrapolation grade')
        panels[0].legend(fontsize='small')
    panels[-1].set_ylabel('shortest distance (Å)')
    panels[-1].set_xlabel('time (fs)')
    panels[-1].legend(fontsize='small')
    panels[0].set_title(title or 'MD stability')
    figure.tight_layout()
    return save_figure(figure, path)


def _model_results(namespace: t.Any, with_arrays: bool) -> dict[str, t.Any]:
    results: dict[str, t.Any] = {}
    for model in ('potential', 'reference'):
        if model not in namespace:
            continue
        outputs = namespace[model]
        result = outputs['result'].get_dict()
        if with_arrays:
            arrays = outputs['arrays']
            results[model] = (result, {name: arrays.get_array(name) for name in arrays.get_arraynames()})
        else:
            results[model] = result
    return results


def write_validation_plots(workchain: orm.WorkflowNode, directory: str | pathlib.Path) -> list[pathlib.Path]:
    """Write the figures of a ``PaceValidateWorkChain`` into ``directory``: ``eos_NAME.png``,
    ``phonons_NAME.png`` and ``md_NAME.png`` for each structure NAME that has the property."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    outputs = workchain.outputs
    written = []
    plotters: tuple[tuple[str, t.Callable[..., pathlib.Path], bool, str], ...] = (
        ('eos', plot_equation_of_state, False, 'equation of state'),
        ('phonons', plot_phonons, True, 'phonons'),
        ('md', plot_md_trace, True, 'MD stability'),
    )
    for name, plot, with_arrays, what in plotters:
        if name not in outputs:
            continue
        for label, namespace in outputs[name].items():
            results = _model_results(namespace, with_arrays)
            if results:
                written.append(plot(results, directory / f'{name}_{label}.png', title=f'{label}: {what}'))
    return written
