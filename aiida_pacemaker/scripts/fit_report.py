"""Per-structure errors of a pacemaker fit, from its own predictions.

Usage: python fit_report.py PREDICTIONS.pckl.gzip OUT.json

Reads pacemaker's ``train_pred.pckl.gzip`` (written in this job's folder by pacemaker, from the
training data that aiida-pacemaker wrote into the same folder) and writes OUT.json:
``[[index, name, energy error per atom (meV/atom, predicted - reference), force RMSE (meV/Å)], ...]``
with ``index`` the row of the structure in the training data. Nothing is read from elsewhere.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd


def main(argv: list[str]) -> None:
    source, target = argv[1], argv[2]
    if not os.path.isfile(source):
        return
    frame = pd.read_pickle(source, compression='gzip')  # written in this job by pacemaker
    reference = 'energy_corrected' if 'energy_corrected' in frame.columns else 'energy'
    rows = []
    for index, row in frame.iterrows():
        natoms = len(row['forces'])
        energy = (float(row['energy_pred']) - float(row[reference])) / natoms * 1000.0
        difference = np.asarray(row['forces_pred'], dtype=float) - np.asarray(row['forces'], dtype=float)
        forces = float(np.sqrt(np.mean(difference**2))) * 1000.0
        rows.append([int(index), str(row.get('name', '')), energy, forces])
    with open(target, 'w') as handle:
        json.dump(rows, handle)


if __name__ == '__main__':
    main(sys.argv)
