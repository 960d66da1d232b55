"""LAMMPS lines for extrapolation-aware MD with the active set (`pair_style pace/extrapolation`).

The expected text is pacemaker's own documentation (python-ace, docs/pacemaker/active_learning.md,
"Usage of active set with LAMMPS"), with this plugin's file names and elements put in.
"""

from __future__ import annotations

import pytest

from aiida_pacemaker.baselines import LennardJonesBaseline
from aiida_pacemaker.data import ActiveSetData, PacePotentialData

from ..conftest import DUMMY_POTENTIAL, DUMMY_YACE

#: pacemaker's documented example, verbatim (its potential and active set, elements Al Cu)
PACEMAKER_DOCS = """
pair_style  pace/extrapolation
pair_coeff  * * output_potential.yaml output_potential.asi Al Cu

# compute per-atom extrapolation grade every 10 steps
fix pace_gamma all pair 10 pace/extrapolation gamma 1
# compute maximum extrapolation grade over complete structure
compute max_pace_gamma all reduce max f_pace_gamma

# dump extrapolative structures if c_max_pace_gamma > 5, skip otherwise, check every 20 steps
variable dump_skip equal "c_max_pace_gamma < 5"
dump pace_dump all custom 20 extrapolative_structures.dump id type x y z f_pace_gamma
dump_modify pace_dump skip v_dump_skip

# stop simulation if maximum extrapolation grade exceeds 25
variable max_pace_gamma equal c_max_pace_gamma
fix extreme_extrapolation all halt 10 v_max_pace_gamma > 25
"""


def commands(lines: list[str] | str) -> list[str]:
    """The LAMMPS commands without comments and blank lines, whitespace normalised."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    return [' '.join(line.split()) for line in lines if line.strip() and not line.lstrip().startswith('#')]


def documented(yaml_filename: str, asi_filename: str, elements: str) -> list[str]:
    text = PACEMAKER_DOCS.replace('output_potential.yaml', yaml_filename)
    text = text.replace('output_potential.asi', asi_filename).replace('Al Cu', elements)
    return commands(text)


@pytest.fixture
def potential(aiida_profile):
    return PacePotentialData(DUMMY_POTENTIAL, DUMMY_YACE).store()


def test_lines_are_pacemaker_s(potential):
    lines = potential.lammps_extrapolation_lines()
    assert commands(lines) == documented('potential.yaml', 'potential.asi', 'Cu')
    assert lines[:2] == ['pair_style pace/extrapolation', 'pair_coeff * * potential.yaml potential.asi Cu']
    # the plain lines are unchanged: pair_style pace with the .yace
    assert potential.lammps_lines() == ['pair_style pace', 'pair_coeff * * potential.yace Cu']


def test_thresholds_and_names(potential):
    lines = potential.lammps_extrapolation_lines(
        'cu.yaml',
        'cu.asi',
        gamma_every=5,
        dump_every=50,
        gamma_dump=2.5,
        gamma_halt=10.0,
        dump_filename='x.dump',
    )
    assert commands(lines) == [
        'pair_style pace/extrapolation',
        'pair_coeff * * cu.yaml cu.asi Cu',
        'fix pace_gamma all pair 5 pace/extrapolation gamma 1',
        'compute max_pace_gamma all reduce max f_pace_gamma',
        'variable dump_skip equal "c_max_pace_gamma < 2.5"',
        'dump pace_dump all custom 50 x.dump id type x y z f_pace_gamma',
        'dump_modify pace_dump skip v_dump_skip',
        'variable max_pace_gamma equal c_max_pace_gamma',
        'fix extreme_extrapolation all halt 5 v_max_pace_gamma > 10',
    ]


def test_lennard_jones_overlay(aiida_profile):
    """With an LJ baseline: pace/extrapolation overlaid with lj/smooth/linear, the same LJ pairs as lammps_lines."""
    baseline = LennardJonesBaseline.default_for(['Cu'])
    potential = PacePotentialData(
        DUMMY_POTENTIAL,
        DUMMY_YACE,
        physics_baseline='lj',
        baseline_parameters={'type': 'lj', **baseline.to_parameters()},
    ).store()
    plain = potential.lammps_lines()
    lines = potential.lammps_extrapolation_lines()
    rc = potential.baseline_parameters['cutoff']
    assert lines[0] == f'pair_style hybrid/overlay pace/extrapolation lj/smooth/linear {rc!r}'
    assert plain[0] == f'pair_style hybrid/overlay pace lj/smooth/linear {rc!r}'
    assert lines[1] == 'pair_coeff * * pace/extrapolation potential.yaml potential.asi Cu'
    lj_pairs = [line for line in plain if 'lj/smooth/linear' in line and line.startswith('pair_coeff')]
    assert lj_pairs and lines[2 : 2 + len(lj_pairs)] == lj_pairs
    # fix pair names the pace/extrapolation sub-style; everything after the pair lines is pacemaker's
    assert commands(lines)[2 + len(lj_pairs) :] == documented('potential.yaml', 'potential.asi', 'Cu')[2:]


def test_export_writes_the_extrapolation_file(potential, tmp_path):
    from aiida_pacemaker.cli.nodes import export_potential

    without = export_potential(potential, tmp_path / 'plain')
    assert sorted(path.name for path in without) == ['lammps.in', 'potential.yace', 'potential.yaml']
    assert 'extrapolation' not in (tmp_path / 'plain' / 'lammps.in').read_text()

    active_set = ActiveSetData(asi=b'asi bytes', potential=potential).store()
    written = export_potential(potential, tmp_path / 'out')
    assert sorted(path.name for path in written) == [
        'lammps.in',
        'lammps_extrapolation.in',
        'potential.asi',
        'potential.yace',
        'potential.yaml',
    ]
    lammps = (tmp_path / 'out' / 'lammps.in').read_text()
    assert commands(lammps) == ['pair_style pace', 'pair_coeff * * potential.yace Cu']
    assert '# extrapolation-aware MD with the active set: see lammps_extrapolation.in' in lammps
    text = (tmp_path / 'out' / 'lammps_extrapolation.in').read_text()
    assert commands(text) == documented('potential.yaml', 'potential.asi', 'Cu')
    assert f'ActiveSetData<{active_set.pk}>' in text and f'PacePotentialData<{potential.pk}>' in text
    assert (tmp_path / 'out' / 'potential.asi').read_bytes() == b'asi bytes'
