"""`PaceValidateWorkChain`: a potential's materials properties next to a reference calculator's.

A low test RMSE does not say whether a potential gives the right lattice constant, elastic constants,
phonons or defect energies, or whether it survives MD. This workchain computes them with the potential
and with the reference (an ASE calculator, e.g. EMT, or the one that labelled the training data) on the
same structures, each in its own calcfunction, and tabulates them side by side.

The reference is evaluated in this process through ASE, like the built-in ASE labeller: single points,
relaxations (ASE optimisers) and MD driven by ASE. That is why only ASE calculators are supported as the
reference for now: a DFT code run as a CalcJob cannot be relaxed or moved by an ASE optimiser in this
process; it would need its own relaxation, or this workchain to drive it by single points, one process per
step. The potential's evaluations are cheap classical ones (pyace) and run here too.
"""

from __future__ import annotations

import typing as t

from aiida import orm
from aiida.engine import WorkChain, if_

from aiida_pacemaker.calculations.functions.properties import (
    MODELS,
    build_validation_table,
    compute_elastic_constants,
    compute_equation_of_state,
    compute_phonons,
    compute_vacancy_formation_energy,
    relax_structure,
    run_md_stability,
    validation_rows,
)
from aiida_pacemaker.data.active_set import ActiveSetData, ActiveSetMismatchError
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.labellers.ase import check_ase_labeller_inputs
from aiida_pacemaker.tools import properties, property_settings
from aiida_pacemaker.tools.suggest import did_you_mean

from .input_checks import check_structures

if t.TYPE_CHECKING:
    from aiida.engine.processes.workchains.workchain import WorkChainSpec

__all__ = ('PaceValidateWorkChain', 'check_validation_inputs', 'structure_settings')

#: the calcfunction of each property
_FUNCTIONS: dict[str, t.Any] = {
    'eos': compute_equation_of_state,
    'elastic': compute_elastic_constants,
    'vacancy': compute_vacancy_formation_energy,
    'phonons': compute_phonons,
    'md': run_md_stability,
}

#: default width of the supercells (Å) when the potential records no cutoff
_DEFAULT_WIDTH = 10.0


def structure_settings(
    name: str, settings: t.Mapping[str, t.Any], structure: orm.StructureData, cutoff: float | None
) -> dict[str, t.Any]:
    """The settings of property ``name`` for one structure: without ``structures``, and with the default
    supercell resolved to the smallest one whose widths are twice the potential's ``cutoff`` (Å)."""
    resolved = {key: value for key, value in settings.items() if key != 'structures'}
    if 'supercell' in resolved and resolved['supercell'] is None:
        width = 2 * cutoff if cutoff else _DEFAULT_WIDTH
        resolved['supercell'] = properties.supercell_for_width(structure.cell, width)
    return resolved


def _labels_of(settings: t.Mapping[str, t.Any], structures: t.Mapping[str, t.Any]) -> list[str]:
    return list(settings.get('structures') or structures)


def check_validation_inputs(
    inputs: t.Mapping[str, t.Any], elements: t.Sequence[str], cutoff: float | None
) -> str | None:
    """Why the inputs of a validation (``structures``, ``parameters``, ``labeller``) cannot work for a
    potential of ``elements`` and radial ``cutoff`` (Å), in one line; None when they can.

    Shared by this workchain and by the active-learning workchain's optional final ``validate`` step,
    which checks them before its first cycle (its potential does not exist yet).
    """
    structures = inputs.get('structures') or {}
    if not structures:
        return 'give at least one structure in `structures` (e.g. the equilibrium cell of each phase)'
    if 'parameters' not in inputs:
        return 'give `parameters`: which properties, with their settings (`{}` for the defaults)'
    parameters = inputs['parameters'].get_dict()
    message = property_settings.check_property_parameters(parameters)
    if message:
        return message
    labeller = inputs.get('labeller') or {}
    if 'calculator' not in labeller:
        return 'give the reference calculator as `labeller.calculator`, e.g. ase.calculators.emt.EMT'
    kwargs = labeller['calculator_kwargs'].get_dict() if 'calculator_kwargs' in labeller else {}
    try:
        check_ase_labeller_inputs(labeller['calculator'].value, kwargs)
    except ValueError as exception:
        return f'`labeller.calculator`: {exception}'
    message = check_structures({'structures': structures}, list(elements))
    if message:
        return message
    settings = property_settings.settings_with_defaults(parameters)
    for name in property_settings.PROPERTIES:
        if name not in settings:
            continue
        for label in _labels_of(settings[name], structures):
            if label not in structures:
                hint = did_you_mean(label, structures, 'known')
                return f'`parameters.{name}.structures` names `{label}`, which is not in `structures`: {hint}'
            structure = structures[label]
            resolved = structure_settings(name, settings[name], structure, cutoff)
            message = property_settings.check_structure_for_property(
                name, label, structure.get_ase(), resolved, cutoff
            )
            if message:
                return message
    return None


def _validate_inputs(inputs: dict[str, t.Any], _: t.Any) -> str | None:
    potential = inputs['potential']
    message = check_validation_inputs(inputs, potential.elements, potential.cutoff)
    if message:
        return message
    if 'active_set' in inputs:
        try:
            inputs['active_set'].check_potential(potential)
        except ActiveSetMismatchError as exception:
            return f'`active_set`: {exception}'
    return None


class PaceValidateWorkChain(WorkChain):
    """Materials properties of a potential and of a reference calculator, side by side.

    For each structure, both models first relax it (positions and, by default, the cell), then compute
    from their own relaxed structure each requested property: equation of state (``eos``), cubic elastic
    constants (``elastic``), vacancy formation energy (``vacancy``), phonons (``phonons``) and MD
    stability (``md``). Every number comes from a calcfunction whose inputs are the potential (or the
    reference calculator), the structure and the settings; the ``table`` compares them.
    """

    @classmethod
    def define(cls, spec: WorkChainSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input('potential', valid_type=PacePotentialData, help='The potential to validate.')
        spec.input(
            'active_set',
            valid_type=ActiveSetData,
            required=False,
            help="The potential's active set: MD then records the extrapolation grade and stops at `gamma_stop`.",
        )
        spec.input_namespace(
            'labeller',
            help='The reference: an ASE calculator, given as the inputs of the built-in ASE labeller.',
        )
        spec.input(
            'labeller.calculator',
            valid_type=orm.Str,
            required=False,
            serializer=orm.to_aiida_type,
            help='Import path of an ASE calculator class, e.g. `ase.calculators.emt.EMT`.',
        )
        spec.input(
            'labeller.calculator_kwargs',
            valid_type=orm.Dict,
            required=False,
            serializer=orm.to_aiida_type,
            help='Keyword arguments of the calculator.',
        )
        spec.input_namespace(
            'structures',
            valid_type=orm.StructureData,
            dynamic=True,
            help='Reference cells by name, e.g. `fcc`: the equilibrium cell of each phase (cubic for `elastic`).',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            serializer=orm.to_aiida_type,
            help='Which properties, with their settings: keys among `eos`, `elastic`, `vacancy`, `phonons`, '
            '`md`, and `relax` (see the docs; `{}` for the defaults).',
        )
        spec.inputs.validator = _validate_inputs

        # plumpy types every outline step as Callable[[WorkChain], ...], which a method of a subclass is not
        # (the parameter is contravariant): hence the `arg-type` ignores
        spec.outline(
            cls.setup,  # type: ignore[arg-type]  # plumpy outline typing
            cls.relax_structures,  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.wants_equation_of_state)(cls.compute_equation_of_state),  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.wants_elastic_constants)(cls.compute_elastic_constants),  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.wants_vacancy_formation_energy)(cls.compute_vacancy_formation_energy),  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.wants_phonons)(cls.compute_phonons),  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.wants_md_stability)(cls.run_md_stability),  # type: ignore[arg-type]  # plumpy outline typing
            cls.tabulate,  # type: ignore[arg-type]  # plumpy outline typing
        )
        spec.output(
            'table',
            valid_type=orm.List,
            help='One row per number: property, structure, unit, potential, reference, difference, '
            'relative_difference, notes.',
        )
        spec.output_namespace(
            'relaxed', dynamic=True, help='Per structure and model: the relaxed `structure` and `result`.'
        )
        for name, what in (
            ('eos', 'E(V), equilibrium volume and bulk modulus'),
            ('elastic', 'C11, C12, C44'),
            ('vacancy', 'vacancy formation energy'),
            ('phonons', 'phonon summary (`result`) and bands and DOS (`arrays`)'),
            ('md', 'MD summary (`result`) and traces (`arrays`)'),
        ):
            spec.output_namespace(
                name,
                dynamic=True,
                required=False,
                help=f'Per structure and model (potential, reference): {what}.',
            )
        spec.exit_code(
            401,
            'ERROR_RELAXATION_FAILED',
            message='The relaxation of `{structure}` with the {model} failed: {message}',
        )
        spec.exit_code(
            402,
            'ERROR_PROPERTY_FAILED',
            message='The {name} of `{structure}` with the {model} failed: {message}',
        )

    # ------------------------------------------------------------------ steps
    def setup(self) -> None:
        """Fill in the default settings and say what will be computed."""
        settings = property_settings.settings_with_defaults(self.inputs.parameters.get_dict())
        self.ctx.settings = settings
        self.ctx.results = {}
        self.ctx.relaxed = {}
        wanted = [name for name in property_settings.PROPERTIES if name in settings]
        self.report(
            f'validating PacePotentialData<{self.inputs.potential.pk}> against '
            f'{self.inputs.labeller.calculator.value} on {", ".join(self.inputs.structures)}: {", ".join(wanted)}'
        )

    def _model_inputs(self, model: str, with_active_set: bool = False) -> dict[str, t.Any]:
        if model == 'potential':
            inputs: dict[str, t.Any] = {'potential': self.inputs.potential}
            if with_active_set and 'active_set' in self.inputs:
                inputs['active_set'] = self.inputs.active_set
            return inputs
        inputs = {'calculator': self.inputs.labeller.calculator}
        if 'calculator_kwargs' in self.inputs.labeller:
            inputs['calculator_kwargs'] = self.inputs.labeller.calculator_kwargs
        return inputs

    def relax_structures(self) -> t.Any:
        """Relax every structure with the potential and with the reference."""
        parameters = orm.Dict(self.ctx.settings[property_settings.RELAX])
        notes = []
        for label, structure in self.inputs.structures.items():
            for model in MODELS:
                inputs = {'structure': structure, 'parameters': parameters, **self._model_inputs(model)}
                try:
                    outputs = _call(relax_structure, f'relax_{label}_{model}', inputs)
                except Exception as exception:
                    return self.exit_codes.ERROR_RELAXATION_FAILED.format(
                        structure=label, model=model, message=_one_line(exception)
                    )
                self.out(f'relaxed.{label}.{model}', outputs)
                self.ctx.relaxed.setdefault(label, {})[model] = outputs['structure']
                self.ctx.results[f'{model}_relax_{label}'] = outputs['result']
                result = outputs['result']
                notes.append(
                    f'{label}/{model}: {result["volume_per_atom"]:.3f} Å³/atom in {result["steps"]} steps'
                    + ('' if result['converged'] else ' (NOT converged)')
                )
        self.report(f'relaxed: {"; ".join(notes)}')

    def _compute(self, name: str) -> t.Any:
        """Compute property ``name`` for its structures with both models and report the numbers; an exit
        code if one fails."""
        settings = self.ctx.settings[name]
        for label in _labels_of(settings, self.inputs.structures):
            structure = self.inputs.structures[label]
            parameters = orm.Dict(structure_settings(name, settings, structure, self.inputs.potential.cutoff))
            for model in MODELS:
                inputs = {
                    'structure': self.ctx.relaxed[label][model],
                    'parameters': parameters,
                    **self._model_inputs(model, with_active_set=name == 'md'),
                }
                try:
                    outputs = _call(_FUNCTIONS[name], f'{name}_{label}_{model}', inputs)
                except Exception as exception:
                    return self.exit_codes.ERROR_PROPERTY_FAILED.format(
                        name=name, structure=label, model=model, message=_one_line(exception)
                    )
                self.out(f'{name}.{label}.{model}', outputs)
                self.ctx.results[f'{model}_{name}_{label}'] = outputs['result']
        self.report(self._summary(name))
        return None

    def _summary(self, name: str) -> str:
        """One line of what property ``name`` gave: each number, potential vs reference."""
        results = {}
        for key, node in self.ctx.results.items():
            model, prop, structure = key.split('_', 2)
            if prop == name:
                results[(model, prop, structure)] = node.get_dict()
        parts = [
            f'{row["structure"]} {row["property"]} {_number(row["potential"])} vs {_number(row["reference"])}'
            + (f' {row["unit"]}' if row['unit'] != '-' else '')
            for row in validation_rows(results)
        ]
        return f'{name} (potential vs reference): {"; ".join(parts)}'

    def wants_equation_of_state(self) -> bool:
        """Whether ``parameters`` asks for the equation of state."""
        return 'eos' in self.ctx.settings

    def compute_equation_of_state(self) -> t.Any:
        """E(V), equilibrium volume and bulk modulus."""
        return self._compute('eos')

    def wants_elastic_constants(self) -> bool:
        """Whether ``parameters`` asks for the cubic elastic constants."""
        return 'elastic' in self.ctx.settings

    def compute_elastic_constants(self) -> t.Any:
        """C11, C12 and C44."""
        return self._compute('elastic')

    def wants_vacancy_formation_energy(self) -> bool:
        """Whether ``parameters`` asks for the vacancy formation energy."""
        return 'vacancy' in self.ctx.settings

    def compute_vacancy_formation_energy(self) -> t.Any:
        """The relaxed vacancy formation energy."""
        return self._compute('vacancy')

    def wants_phonons(self) -> bool:
        """Whether ``parameters`` asks for phonons."""
        return 'phonons' in self.ctx.settings

    def compute_phonons(self) -> t.Any:
        """Phonon bands and DOS."""
        return self._compute('phonons')

    def wants_md_stability(self) -> bool:
        """Whether ``parameters`` asks for MD stability."""
        return 'md' in self.ctx.settings

    def run_md_stability(self) -> t.Any:
        """NVT MD at each temperature."""
        return self._compute('md')

    def tabulate(self) -> None:
        """Put the potential's and the reference's numbers side by side."""
        table = _call(build_validation_table, 'table', dict(self.ctx.results))['result']
        self.out('table', table)
        worst = max(
            (row for row in table.get_list() if row['relative_difference'] is not None),
            key=lambda row: abs(row['relative_difference']),
            default=None,
        )
        flagged = sum(bool(row['notes']) for row in table.get_list())
        detail = (
            f'; largest relative difference: {worst["property"]} of {worst["structure"]} '
            f'({100 * worst["relative_difference"]:+.1f}%)'
            if worst is not None
            else ''
        )
        self.report(f'table of {len(table.get_list())} rows{detail}; {flagged} rows with notes')


def _call(function: t.Any, link_label: str, inputs: dict[str, t.Any]) -> dict[str, t.Any]:
    """Run the calcfunction with ``inputs``, called ``link_label`` from the workchain; its outputs by label
    (a calcfunction whose only output is ``result`` returns that node alone)."""
    returned = function(**inputs, metadata={'call_link_label': link_label})
    return {'result': returned} if isinstance(returned, orm.Data) else dict(returned)


def _number(value: t.Any) -> str:
    return f'{value:.4g}' if isinstance(value, int | float) and not isinstance(value, bool) else '-'


def _one_line(exception: BaseException) -> str:
    return f'{type(exception).__name__}: {" ".join(str(exception).split())}'
