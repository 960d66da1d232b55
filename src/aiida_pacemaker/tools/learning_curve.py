"""The learning curve of an active-learning run: as a table and as a plot."""

from __future__ import annotations

import pathlib
import typing as t

__all__ = ('COLUMNS', 'format_learning_curve', 'plot_learning_curve')

#: (row key, column title, format) of the printed table; RMSEs in meV/atom and meV/Å
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ('cycle', 'cycle', '{:d}'),
    ('num_structures', 'structures', '{:d}'),
    ('train_energy_rmse', 'E train', '{:.2f}'),
    ('train_force_rmse', 'F train', '{:.1f}'),
    ('test_energy_rmse', 'E test', '{:.2f}'),
    ('test_force_rmse', 'F test', '{:.1f}'),
    ('num_candidates', 'candidates', '{:d}'),
    ('max_gamma', 'max gamma', '{:.2f}'),
    ('num_selected', 'selected', '{:d}'),
    ('num_labelled', 'labelled', '{:d}'),
)


def _cell(value: t.Any, fmt: str) -> str:
    if value is None:
        return '-'
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def format_learning_curve(rows: list[dict[str, t.Any]]) -> str:
    """Format learning-curve rows as a text table (energies meV/atom, forces meV/Å)."""
    header = [title for _, title, _ in COLUMNS]
    body = [[_cell(row.get(key), fmt) for key, _, fmt in COLUMNS] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ['  '.join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ['  '.join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    lines.append('RMSE units: E meV/atom, F meV/Å; gamma: max extrapolation grade of the candidates')
    return '\n'.join(lines)


def plot_learning_curve(
    rows: list[dict[str, t.Any]], path: str | pathlib.Path, title: str = ''
) -> pathlib.Path:
    """Plot force and energy RMSE (train and test) against the training-set size into a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sizes = [row['num_structures'] for row in rows]
    figure, (force_axis, energy_axis) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120)
    for axis, quantity, unit in ((force_axis, 'force', 'meV/Å'), (energy_axis, 'energy', 'meV/atom')):
        for split, style in (('train', 'o--'), ('test', 's-')):
            values = [row.get(f'{split}_{quantity}_rmse') for row in rows]
            points = [(s, v) for s, v in zip(sizes, values, strict=True) if v is not None]
            if points:
                axis.plot(*zip(*points, strict=True), style, label=split)
        axis.set_xlabel('training structures')
        axis.set_ylabel(f'{quantity} RMSE ({unit})')
        axis.set_yscale('log')
        axis.grid(alpha=0.3, which='both')
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = pathlib.Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
