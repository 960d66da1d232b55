"""The DFT tier: real CP2K (through aiida-cp2k) and GPAW (through the ASE labeller) labels.

What it needs is installed by ``tests/dft/install.sh install`` (CP2K and its data with apt, aiida-cp2k
into the virtual environment, GPAW built without MPI). Tests marked ``dft`` that miss one of them
FAIL with what is missing and what to run where ``AIIDA_PACEMAKER_DFT=required`` (what ``make test``
sets); a plain ``pytest`` skips them, with a warning and the reason (``pytest -rs``): never a silent pass.

CP2K runs with ``OMP_NUM_THREADS=1`` (the code's prepend text) and without MPI, on tiny Gamma-point
cells with the ``fast`` protocol: 5-20 s per label on two busy cores, numbers good for tests only.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import typing as t
from collections.abc import Callable

import numpy as np
import pytest

from ..tiers import unavailable

INSTALL_HINT = 'run `tests/dft/install.sh install` (as root on Debian/Ubuntu) or install it by hand'
CP2K_EXECUTABLES = ('cp2k.psmp', 'cp2k.ssmp', 'cp2k.popt', 'cp2k.sopt')
#: the CalcJob options of every CP2K label in the tests: one process, no MPI launcher
CP2K_OPTIONS = {
    'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
    'withmpi': False,
    'max_wallclock_seconds': 900,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'dft: runs real DFT codes, CP2K and GPAW (tests/dft; slow)')


def dft_unavailable(message: str) -> t.NoReturn:
    """Skip (plain ``pytest``) or fail (``make test``): see :mod:`tests.tiers`."""
    unavailable('dft', message)


def find_cp2k() -> pathlib.Path | None:
    for name in CP2K_EXECUTABLES:
        found = shutil.which(name)
        if found:
            return pathlib.Path(found)
    return None


@pytest.fixture(scope='session')
def cp2k_executable() -> pathlib.Path:
    """The CP2K executable, with its basis sets and pseudopotentials, and aiida-cp2k importable."""
    from aiida_pacemaker.labellers.cp2k import find_cp2k_data_dir

    executable = find_cp2k()
    if executable is None:
        dft_unavailable(
            f'CP2K is not installed (none of {", ".join(CP2K_EXECUTABLES)} on the PATH): {INSTALL_HINT}'
        )
    if find_cp2k_data_dir() is None:
        dft_unavailable(
            f'the CP2K data (BASIS_MOLOPT, GTH_POTENTIALS; package cp2k-data) is missing: {INSTALL_HINT}'
        )
    try:
        import aiida_cp2k  # noqa: F401
    except ImportError as exception:
        dft_unavailable(f'aiida-cp2k cannot be imported ({exception}): {INSTALL_HINT}')
    from importlib.metadata import entry_points

    if not entry_points(group='aiida.calculations', name='cp2k'):
        dft_unavailable(f'aiida-cp2k is installed but its `cp2k` entry point is missing: {INSTALL_HINT}')
    return executable


@pytest.fixture(scope='session')
def cp2k_code(aiida_profile, cp2k_executable):
    """CP2K as an AiiDA code on a local computer: one OpenMP thread, no MPI launcher."""
    from aiida import orm

    from aiida_pacemaker.codes import get_or_create_localhost

    computer = get_or_create_localhost('localhost-dft')
    return orm.InstalledCode(
        label='cp2k',
        computer=computer,
        filepath_executable=str(cp2k_executable),
        default_calc_job_plugin='cp2k',
        prepend_text='export OMP_NUM_THREADS=1',
        description=f'CP2K from {cp2k_executable}',
    ).store()


@pytest.fixture(scope='session')
def cp2k_labeller_inputs(cp2k_code) -> dict[str, t.Any]:
    """Fixed inputs of Cp2kLabelWorkChain: the code, the `fast` protocol, the options, the staged data files."""
    from aiida_pacemaker.labellers.cp2k import Cp2kLabelWorkChain

    return Cp2kLabelWorkChain.get_labeller_inputs(cp2k_code, protocol='fast', options=CP2K_OPTIONS)


def gpaw_setup_path() -> str | None:
    """Where GPAW finds its PAW setups: ``$GPAW_SETUP_PATH``, the ``gpaw-data`` wheel (PyPI), or
    Debian's ``gpaw-data`` package (``/usr/share/gpaw-setups``)."""
    directories = [d for d in os.environ.get('GPAW_SETUP_PATH', '').split(':') if d]
    try:
        import gpaw_data

        directories.append(str(pathlib.Path(gpaw_data.__file__).parent / 'setups'))
    except ImportError:
        pass
    directories.append('/usr/share/gpaw-setups')
    for directory in directories:
        if list(pathlib.Path(directory).glob('Cu.*PBE*')) or list(pathlib.Path(directory).glob('Cu.PBE*')):
            return directory
    return None


@pytest.fixture(scope='session')
def gpaw_calculator() -> str:
    """The import path of GPAW's calculator class, its PAW setups found (else fail or skip with the reason)."""
    try:
        from gpaw.calculator import GPAW  # noqa: F401
    except Exception as exception:  # an ImportError, or a C extension built against another numpy
        dft_unavailable(
            f'GPAW cannot be imported from this environment ({type(exception).__name__}: {exception}): '
            f'{INSTALL_HINT}'
        )
    directory = gpaw_setup_path()
    if directory is None:
        dft_unavailable(f'no GPAW PAW setup for Cu (gpaw-data, or GPAW_SETUP_PATH): {INSTALL_HINT}')
    if directory == '/usr/share/gpaw-setups':
        os.environ['GPAW_SETUP_PATH'] = directory
    # the calculator class; `gpaw.GPAW` is, in recent GPAW, a function that picks the old or the new code
    return 'gpaw.calculator.GPAW'


def small_cu_cells(count: int, seed: int, strain: float = 0.04, rattle: float = 0.08) -> list:
    """``count`` two-atom fcc Cu cells (the tetragonal cell of fcc, a = 3.61 Å), strained and rattled."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(count):
        a = 3.61 * (1 + rng.uniform(-strain, strain))
        atoms = Atoms(
            'Cu2',
            scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]],
            cell=[a / np.sqrt(2), a / np.sqrt(2), a],
            pbc=True,
        )
        atoms.positions += rng.normal(0, rattle, size=(2, 3))
        cells.append(atoms)
    return cells


def assert_forces_match_energy(atoms: t.Any, forces: np.ndarray, energy_of: Callable[[t.Any], float]) -> None:
    """The force on atom 0 along its largest component (eV/Å) against a central finite difference (0.01 Å)
    of ``energy_of`` a displaced copy of ``atoms`` (eV): within 0.03 eV/Å plus 5 %."""
    direction = int(np.argmax(np.abs(forces[0])))
    step = 0.01
    energies = []
    for sign in (1, -1):
        displaced = atoms.copy()
        displaced.positions[0, direction] += sign * step
        energies.append(energy_of(displaced))
    finite_difference = -(energies[0] - energies[1]) / (2 * step)
    print(
        f'F(atom 0, {"xyz"[direction]}): analytic {forces[0, direction]:.4f}, finite difference {finite_difference:.4f} eV/Å'
    )
    assert finite_difference == pytest.approx(
        forces[0, direction], abs=0.03 + 0.05 * abs(forces[0, direction])
    )
