"""Labellers: any AiiDA process that turns a `structure` into `total_energy` and `forces`.

The convention is aiida-common-workflows': inputs take ``structure`` (StructureData);
outputs include ``total_energy`` (Float, eV) and ``forces`` (ArrayData with array
``forces``, eV/Å), optionally ``stress`` (ArrayData ``stress``, eV/Å³, Voigt order).
Built in: :func:`aiida_pacemaker.labellers.ase.label_with_ase` (entry point
``pacemaker.label_ase``), which labels with any ASE calculator.
"""

from __future__ import annotations

import importlib
import typing as t

from aiida.engine import Process
from aiida.plugins import CalculationFactory, WorkflowFactory

__all__ = (
    'LabellerError',
    'is_process_function',
    'load_labeller',
    'missing_labeller_inputs',
    'validate_labeller',
)

REQUIRED_OUTPUTS = ('total_energy', 'forces')


class LabellerError(ValueError):
    """Raised when a labeller cannot be loaded or does not follow the convention."""


def load_labeller(identifier: str) -> t.Any:
    """Load a labeller process from an entry point or an import path.

    Accepted forms: ``pacemaker.label_ase`` (a calculation or workflow entry point name),
    ``aiida.workflows:some.name`` (group-qualified), or ``package.module:ProcessClass``.
    """
    if ':' in identifier and not identifier.startswith('aiida.'):
        module_name, _, attribute = identifier.partition(':')
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exception:
            raise LabellerError(f'cannot import the labeller `{identifier}`: {exception}') from None
    group, _, name = identifier.rpartition(':')
    factories = {'aiida.calculations': [CalculationFactory], 'aiida.workflows': [WorkflowFactory]}
    for factory in factories.get(group, [CalculationFactory, WorkflowFactory]):
        try:
            return factory(name)
        except Exception:
            continue
    raise LabellerError(
        f'no labeller `{identifier}`: give an entry point (e.g. `pacemaker.label_ase`) or `module:ProcessClass`'
    )


def is_process_function(labeller: t.Any) -> bool:
    """Whether ``labeller`` is a calcfunction/workfunction (run in-process, not submitted)."""
    return hasattr(labeller, 'is_process_function') and bool(labeller.is_process_function)


def process_class(labeller: t.Any) -> type[Process]:
    """The Process class behind ``labeller`` (the class itself, or a process function's)."""
    return t.cast(type[Process], labeller.process_class if is_process_function(labeller) else labeller)


def validate_labeller(labeller: t.Any) -> None:
    """Check the labeller convention on the process spec.

    :raises LabellerError: naming the missing input or output port.
    """
    try:
        spec = process_class(labeller).spec()
    except AttributeError:
        raise LabellerError(f'{labeller!r} is not an AiiDA process') from None
    if 'structure' not in spec.inputs:
        raise LabellerError(
            f'the labeller {getattr(labeller, "__name__", labeller)!r} takes no `structure` input'
        )
    dynamic = spec.outputs.dynamic
    missing = [name for name in REQUIRED_OUTPUTS if name not in spec.outputs]
    if missing and not dynamic:
        raise LabellerError(
            f'the labeller declares no output(s) {missing}; it must return total_energy and forces'
        )


def missing_labeller_inputs(labeller: t.Any, given: t.Iterable[str]) -> list[str]:
    """The labeller's required inputs without a default that are not in ``given`` (the fixed
    ``labeller.inputs``), leaving out ``structure`` (given per structure) and ``metadata``.

    Only plain ports are checked: a required namespace may be filled in many ways, which its own
    validation checks when the labeller is launched.
    """
    from plumpy.ports import InputPort

    given = set(given)
    spec = process_class(labeller).spec()
    return sorted(
        name
        for name, port in spec.inputs.items()
        if name not in {'structure', 'metadata', *given}
        and isinstance(port, InputPort)
        and port.required
        and not port.has_default()
    )
