"""pacemaker pickles written here are readable by pandas 2 and pandas 3, both directions.

pandas 3 stores strings as StringDtype, which pandas 2 cannot unpickle; `portable_dataframe`
forces `object`. pandas 3 is installed beside the environment's pandas 2 in `.venv/pandas3`
(the Makefile does it) and used in a subprocess.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap

import pytest

from aiida_pacemaker.data import TrainingSetData

PANDAS3 = pathlib.Path(sys.prefix) / 'pandas3'


def run_with_pandas3(code: str, cwd: pathlib.Path) -> str:
    if not (PANDAS3 / 'pandas').is_dir():
        pytest.fail(
            f'pandas 3 is not installed in {PANDAS3}: run `make install` (the Makefile installs it there)'
        )
    env = {**os.environ, 'PYTHONPATH': str(PANDAS3)}
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_pandas2_pickle_read_by_pandas3(aiida_profile, emt_structures, tmp_path):
    import pandas

    assert pandas.__version__.startswith('2.')
    node = TrainingSetData.from_ase(emt_structures(3))
    node.write_pacemaker_pickle(tmp_path / 'data.pckl.gzip')
    output = run_with_pandas3(
        """
        import pandas as pd
        frame = pd.read_pickle('data.pckl.gzip', compression='gzip')
        print(pd.__version__, len(frame), list(frame.columns), frame['forces'][2].shape)
        """,
        tmp_path,
    )
    version, rest = output.split(' ', 1)
    assert version.startswith('3.')
    assert rest.strip() == "3 ['name', 'ase_atoms', 'energy', 'forces'] (4, 3)"


def test_pandas3_pickle_read_by_pandas2(tmp_path):
    run_with_pandas3(
        """
        import pandas as pd
        from ase.build import bulk
        from aiida_pacemaker.data.training_set import portable_dataframe
        assert pd.__version__.startswith('3.')
        columns = {'name': ['a', 'b'], 'ase_atoms': [bulk('Cu'), bulk('Cu', a=3.7)], 'energy': [1.0, 2.0]}
        portable_dataframe(columns).to_pickle('portable.pckl.gzip', compression='gzip')
        pd.DataFrame(columns).to_pickle('plain.pckl.gzip', compression='gzip')
        """,
        tmp_path,
    )
    # both files were written by this test: unpickling them is safe
    with gzip.open(tmp_path / 'portable.pckl.gzip', 'rb') as handle:
        frame = pickle.load(handle)
    assert list(frame['name']) == ['a', 'b'] and list(frame.columns) == ['name', 'ase_atoms', 'energy']
    with gzip.open(tmp_path / 'plain.pckl.gzip', 'rb') as handle, pytest.raises(Exception):  # noqa: B017
        pickle.load(handle)  # the trap that portable_dataframe avoids
