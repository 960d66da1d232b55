"""Extrapolation grades of candidates, before and after pace_select.

Usage:
  python gamma_report.py filter POTENTIAL.yaml ACTIVE_SET.asi ALL.pckl.gzip OUT.pckl.gzip GAMMA_MIN GAMMA_MAX
      writes gamma.json ({name: max gamma over atoms}) for every candidate and OUT with the
      candidates whose max gamma lies in [GAMMA_MIN, GAMMA_MAX) (GAMMA_MAX `inf` for no bound);
      when none does, also writes the marker file `nothing_to_select`.
  python gamma_report.py selected SELECTED.pkl.gz
      writes selected.json: the names pace_select chose, in its order ([] if none).

Every pickle read here was written in this job's folder by this job: the candidates by
aiida-pacemaker, the selection by pace_select. Nothing is read from elsewhere.
"""

import json
import os
import sys

import numpy as np
import pandas as pd


def filter_candidates(potential, asi, source, target, gamma_min, gamma_max):
    from pyace import PyACECalculator

    frame = pd.read_pickle(source, compression='gzip')  # written into this job by aiida-pacemaker
    calculator = PyACECalculator(potential)
    calculator.set_active_set(asi)
    gamma = {}
    for name, atoms in zip(frame['name'], frame['ase_atoms'], strict=True):
        atoms = atoms.copy()
        atoms.calc = calculator
        atoms.get_potential_energy()
        gamma[str(name)] = float(np.max(calculator.results['gamma']))
    with open('gamma.json', 'w') as handle:
        json.dump(gamma, handle)
    keep = [gamma_min <= gamma[str(name)] < gamma_max for name in frame['name']]
    kept = frame[keep].reset_index(drop=True)
    kept.to_pickle(target, compression='gzip')
    if not len(kept):
        open('nothing_to_select', 'w').close()


def report_selected(selected_file):
    selected = []
    if os.path.isfile(selected_file):
        chosen = pd.read_pickle(selected_file)  # written in this job by pace_select
        if len(chosen) and 'name' in chosen.columns:
            selected = [str(name) for name in chosen['name']]
    with open('selected.json', 'w') as handle:
        json.dump(selected, handle)


def main(argv):
    if argv[1] == 'filter':
        potential, asi, source, target, gamma_min, gamma_max = argv[2:8]
        filter_candidates(potential, asi, source, target, float(gamma_min), float(gamma_max))
    elif argv[1] == 'selected':
        report_selected(argv[2])
    else:
        raise SystemExit(f'unknown command {argv[1]!r}')


if __name__ == '__main__':
    main(sys.argv)
