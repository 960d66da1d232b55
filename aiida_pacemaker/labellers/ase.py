"""The built-in ASE labeller: any ASE calculator, named by import path, labels a structure.

:func:`label_with_ase` (entry point ``pacemaker.label_ase``) follows the labeller convention of
:mod:`aiida_pacemaker.labellers`; :func:`compute_labels` is the one place where a calculator's
results become labels, shared with the batch path (:mod:`aiida_pacemaker.labellers.batch`).
"""

from __future__ import annotations

import importlib
import re
import typing as t

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_pacemaker.tools.suggest import did_you_mean

__all__ = (
    'KNOWN_FACTORIES',
    'check_ase_labeller_inputs',
    'check_calculator_kwargs',
    'compute_labels',
    'label_with_ase',
    'load_calculator_class',
)

_IMPORT_PATH = re.compile(r'^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$')


#: factory functions (not classes) that return an ASE calculator; any other function is refused. A plugin
#: adds its own with an entry point in the group ``aiida_pacemaker.calculator_factories`` (value: the
#: import path), which only an installed package (trusted code) can do.
KNOWN_FACTORIES = ('gpaw.GPAW',)
FACTORY_ENTRY_POINT_GROUP = 'aiida_pacemaker.calculator_factories'


def _registered_factories() -> set[str]:
    from importlib.metadata import entry_points

    registered = (ep.value.replace(':', '.') for ep in entry_points(group=FACTORY_ENTRY_POINT_GROUP))
    return {*KNOWN_FACTORIES, *registered}


def load_calculator_class(import_path: str) -> t.Callable[..., t.Any]:
    """Import an ASE calculator class from ``package.module.Name`` (no eval, no shell).

    The path must name a subclass of ASE's ``BaseCalculator``, or one of the factory functions that
    return one (:data:`KNOWN_FACTORIES`, e.g. GPAW 26's ``gpaw.GPAW``, or one registered by an installed
    plugin): a run configuration is data, and no other callable (``os.system``, ``subprocess.run``) runs.

    :raises ValueError: if the path is malformed, cannot be imported or names anything else.
    """
    from ase.calculators.calculator import BaseCalculator

    if not isinstance(import_path, str) or not _IMPORT_PATH.match(import_path):
        raise ValueError(f'`{import_path}` is not an import path like `ase.calculators.emt.EMT`')
    module_name, _, name = import_path.rpartition('.')
    try:
        module = importlib.import_module(module_name)
    except ImportError as exception:
        raise ValueError(
            f'cannot import `{module_name}` for the calculator `{import_path}`: {exception}'
        ) from None
    factory = getattr(module, name, None)
    if isinstance(factory, type) and issubclass(factory, BaseCalculator):
        return factory
    if callable(factory) and import_path in _registered_factories():
        return factory
    raise ValueError(
        f'`{import_path}` is not an ASE calculator class (a subclass of ase.calculators.calculator.BaseCalculator) '
        f'nor a known calculator factory ({", ".join(KNOWN_FACTORIES)})'
    )


def check_calculator_kwargs(factory: t.Callable[..., t.Any], kwargs: t.Mapping[str, t.Any]) -> None:
    """Refuse keyword arguments that the calculator class does not know (ASE calculators take ``**kwargs``
    and silently keep unknown ones as parameters). Known: the arguments named by the constructors of the
    class and its bases, and the keys of its ``default_parameters``. Factories are not checked.

    :raises ValueError: naming the first unknown argument and the closest known one.
    """
    import inspect

    if not isinstance(factory, type):
        return
    known: set[str] = set(getattr(factory, 'default_parameters', None) or {})
    for klass in factory.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return  # a constructor without a signature (compiled): cannot tell
        known.update(
            p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != 'self'
        )
    for key in kwargs:
        if key not in known:
            raise ValueError(
                f'`{factory.__name__}` takes no argument `{key}`; {did_you_mean(key, known, "known")}'
            )


def check_ase_labeller_inputs(calculator: str, kwargs: t.Mapping[str, t.Any] | None = None) -> None:
    """Check the inputs of the ASE labeller before anything runs: the calculator path and its arguments.

    :raises ValueError: with a one-line message.
    """
    check_calculator_kwargs(load_calculator_class(calculator), kwargs or {})


def compute_labels(atoms: t.Any, calculator: t.Any) -> dict[str, t.Any]:
    """Energy (eV), forces (eV/Å) and, for periodic cells, stress (eV/Å³, Voigt) of ``atoms``.

    The energy is the force-consistent one where the calculator has it (it differs from the
    default under smearing, e.g. GPAW), since the forces are its derivatives. A stress the
    calculator cannot compute is left out.

    :raises ValueError: if the energy or the forces are not finite.
    """
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())  # a failing calculator raises its own error here
    try:  # from the results just computed; calculators without a free energy raise
        energy = float(atoms.get_potential_energy(force_consistent=True))
    except Exception:
        pass
    forces = np.asarray(atoms.get_forces(), dtype=float)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise ValueError(
            f'the calculator returned a non-finite energy or forces for {atoms.get_chemical_formula()}'
        )
    labels: dict[str, t.Any] = {'total_energy': energy, 'forces': forces}
    if atoms.pbc.all():
        try:
            stress = np.asarray(atoms.get_stress(voigt=True), dtype=float)
        except Exception:
            stress = None
        if stress is not None and np.all(np.isfinite(stress)):
            labels['stress'] = stress
    return labels


@calcfunction
def label_with_ase(structure: orm.StructureData, calculator: orm.Str, **kwargs: t.Any) -> dict[str, orm.Data]:
    """Label ``structure`` with an ASE calculator: ``total_energy`` (eV), ``forces`` (eV/Å), ``stress``.

    :param calculator: import path of the calculator class, e.g. ``ase.calculators.emt.EMT``.
    :param kwargs: optional ``calculator_kwargs`` (Dict) passed to the calculator's constructor.

    A calcfunction: cheap calculators (EMT, classical force fields, small GPAW runs) run in
    the AiiDA process itself, and caching reuses a label for an identical structure. A DFT
    code on a cluster belongs in its own CalcJob plugin (see the labeller convention).
    """
    options = kwargs['calculator_kwargs'].get_dict() if 'calculator_kwargs' in kwargs else {}
    labels = compute_labels(structure.get_ase(), load_calculator_class(calculator.value)(**options))
    results: dict[str, orm.Data] = {'total_energy': orm.Float(labels['total_energy'])}
    for name in ('forces', 'stress'):
        if name in labels:
            array = orm.ArrayData()
            array.set_array(name, labels[name])
            results[name] = array
    return results
