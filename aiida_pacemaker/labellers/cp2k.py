"""A CP2K labeller: one structure in, a CP2K single point (aiida-cp2k) out, as ``total_energy`` and ``forces``.

:class:`Cp2kLabelWorkChain` follows the labeller convention of :mod:`aiida_pacemaker.labellers`:
input ``structure``, outputs ``total_energy`` (Float, eV), ``forces`` (ArrayData ``forces``,
eV/Å) and, with ``stress: true`` in the protocol, ``stress`` (ArrayData ``stress``, eV/Å³, Voigt,
ASE's sign). It builds the CP2K input from a protocol (``fast``, ``balanced``, ``precise``, see
``protocols/cp2k.yaml``), runs aiida-cp2k's ``cp2k`` CalcJob, and converts CP2K's atomic units in a
calcfunction (:func:`cp2k_labels`) that reads the retrieved output, so the conversion is in the
provenance graph: structure -> Cp2kLabelWorkChain -> cp2k CalcJob -> retrieved -> cp2k_labels ->
labels.

aiida-cp2k is imported only when a calculation is launched: this module (and the labeller's spec)
loads without it.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import pathlib
import re
import typing as t
from importlib.resources import files

import numpy as np
import yaml
from aiida import orm
from aiida.engine import ToContext, WorkChain, calcfunction

from aiida_pacemaker.filenames import STDOUT_FILE
from aiida_pacemaker.tools.suggest import did_you_mean

if t.TYPE_CHECKING:
    from aiida.engine.processes.workchains.workchain import WorkChainSpec

__all__ = (
    'BOHR_ANGSTROM',
    'GPA_EV_PER_ANGSTROM3',
    'HARTREE_EV',
    'Cp2kLabelWorkChain',
    'Cp2kOutputError',
    'build_cp2k_parameters',
    'cp2k_labels',
    'find_cp2k_data_dir',
    'get_cp2k_data_files',
    'get_cp2k_protocol',
    'list_cp2k_protocols',
    'parse_cp2k_stdout',
)

#: CODATA 2018, as CP2K prints energies in Hartree and forces in Hartree/Bohr
HARTREE_EV = 27.211386245988
BOHR_ANGSTROM = 0.529177210903
HARTREE_PER_BOHR_EV_PER_ANGSTROM = HARTREE_EV / BOHR_ANGSTROM  # 51.422067...
#: 1 GPa in eV/Å³ (CP2K prints the stress tensor in GPa)
GPA_EV_PER_ANGSTROM3 = 1.0e9 * 1.0e-30 / 1.602176634e-19
#: the standard output of aiida-cp2k's CalcJob
STDOUT = STDOUT_FILE  # aiida-cp2k's default output file name is the same

PROTOCOL_KEYS = (
    'basis_set_file',
    'pseudo_file',
    'basis_set',
    'pseudopotential',
    'kpoints_distance',
    'added_mos_per_atom',
    'stress',
    'parameters',
)


class Cp2kOutputError(ValueError):
    """Raised when the CP2K output does not hold what a label needs."""


# ------------------------------------------------------------------------------------------- protocols
def _protocol_document() -> dict[str, t.Any]:
    text = files('aiida_pacemaker.labellers').joinpath('protocols', 'cp2k.yaml').read_text(encoding='utf8')
    return t.cast(dict[str, t.Any], yaml.safe_load(text))


def list_cp2k_protocols() -> dict[str, str]:
    """Names and descriptions of the CP2K protocols, the default first."""
    document = _protocol_document()
    default = document['default_protocol']
    names = [default, *[name for name in document['protocols'] if name != default]]
    return {name: document['protocols'][name]['description'] for name in names}


def _merge_parameters(base: dict[str, t.Any], overrides: dict[str, t.Any]) -> dict[str, t.Any]:
    """Deep-merge CP2K input sections; a ``None`` value removes the keyword or section."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_parameters(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _check_upper_case(parameters: t.Any, path: str = 'parameters') -> None:
    if isinstance(parameters, dict):
        for key, value in parameters.items():
            if key != '_' and key != key.upper():
                raise ValueError(f'CP2K keyword `{path}.{key}` must be upper case (`{key.upper()}`)')
            _check_upper_case(value, f'{path}.{key}')
    elif isinstance(parameters, list):
        for item in parameters:
            _check_upper_case(item, path)


def get_cp2k_protocol(
    protocol: str | None = None, overrides: dict[str, t.Any] | None = None
) -> dict[str, t.Any]:
    """Return the settings of ``protocol`` (the default when None) with ``overrides`` merged in.

    Top-level keys are closed (an unknown one is refused with the closest valid name); the CP2K
    input under ``parameters`` is open and deep-merged (``None`` removes a keyword).

    :raises ValueError: for an unknown protocol or key, or a CP2K keyword not in upper case.
    """
    document = _protocol_document()
    protocol = protocol or document['default_protocol']
    if protocol not in document['protocols']:
        raise ValueError(
            f'unknown CP2K protocol `{protocol}`; choose one of {", ".join(document["protocols"])}'
        )
    settings: dict[str, t.Any] = copy.deepcopy(document['protocols'][protocol])
    settings.pop('description')
    for key, value in (overrides or {}).items():
        if key not in PROTOCOL_KEYS:
            raise ValueError(f'unknown CP2K protocol key `{key}`; {did_you_mean(key, PROTOCOL_KEYS)}')
        if key == 'parameters':
            settings['parameters'] = _merge_parameters(settings['parameters'], value or {})
        else:
            settings[key] = copy.deepcopy(value)
    _check_upper_case(settings['parameters'])
    return settings


def _per_element(choice: str | dict[str, str], element: str, what: str) -> str:
    if isinstance(choice, str):
        return choice
    name = choice.get(element, choice.get('default'))
    if name is None:
        raise ValueError(f'no {what} for {element}: give `{element}` or `default` in the protocol')
    return name


def build_cp2k_parameters(
    structure: orm.StructureData,
    settings: dict[str, t.Any],
    basis_set_file: str | None = None,
    pseudo_file: str | None = None,
) -> dict[str, t.Any]:
    """The CP2K input (a nested dict for aiida-cp2k) of one energy-and-forces run of ``structure``.

    Adds to the protocol's ``parameters``: the file names of the basis-set and pseudopotential
    libraries, a KIND section per kind of the structure, the number of added MOs for the
    smearing (unless given), the stress tensor when asked, and the printing of the forces (and
    stress) to the standard output, where :func:`parse_cp2k_stdout` reads them.

    :raises ValueError: for a structure that is not periodic in all three directions, or an element
        without a basis set or pseudopotential in ``settings``.
    """
    from ase.data import chemical_symbols

    if not all(structure.pbc):
        raise ValueError(f'the CP2K labeller needs a cell periodic in x, y and z, not pbc={structure.pbc}')
    parameters: dict[str, t.Any] = copy.deepcopy(settings['parameters'])
    parameters.setdefault('GLOBAL', {})['RUN_TYPE'] = 'ENERGY_FORCE'
    force_eval = parameters.setdefault('FORCE_EVAL', {})
    dft = force_eval.setdefault('DFT', {})
    dft['BASIS_SET_FILE_NAME'] = basis_set_file or settings['basis_set_file']
    dft['POTENTIAL_FILE_NAME'] = pseudo_file or settings['pseudo_file']
    atoms = structure.get_ase()
    # the labels aiida-cp2k writes into the coordinate file: the symbol with the ASE tag of the kind
    labels = [
        symbol + (str(tag) if tag else '')
        for symbol, tag in zip(atoms.get_chemical_symbols(), atoms.get_tags(), strict=True)
    ]
    kinds = []
    for label in dict.fromkeys(labels):
        element = re.sub(r'\d+$', '', label)
        if element not in chemical_symbols:
            raise ValueError(f'cannot tell the element of the kind `{label}`')
        kinds.append(
            {
                '_': label,
                'ELEMENT': element,
                'BASIS_SET': _per_element(settings['basis_set'], element, 'basis set'),
                'POTENTIAL': _per_element(settings['pseudopotential'], element, 'pseudopotential'),
            }
        )
    subsys = force_eval.setdefault('SUBSYS', {})
    subsys['KIND'] = kinds
    subsys.setdefault('CELL', {})['PERIODIC'] = 'XYZ'
    scf = dft.setdefault('SCF', {})
    if 'SMEAR' in scf and 'ADDED_MOS' not in scf:
        scf['ADDED_MOS'] = max(10, math.ceil(settings['added_mos_per_atom'] * len(atoms)))
    printing = force_eval.setdefault('PRINT', {})
    printing['FORCES'] = {'_': 'ON'}
    if settings.get('stress'):
        force_eval['STRESS_TENSOR'] = 'ANALYTICAL'
        printing['STRESS_TENSOR'] = {'_': 'ON'}
    return parameters


# ------------------------------------------------------------------------------------------- data files
def find_cp2k_data_dir() -> pathlib.Path | None:
    """CP2K's data directory on this machine: ``$CP2K_DATA_DIR``, else Debian's ``/usr/share/cp2k``
    (package ``cp2k-data``), else ``share/cp2k/data`` next to a ``cp2k*`` executable on the PATH."""
    import shutil

    candidates = []
    if os.environ.get('CP2K_DATA_DIR'):
        candidates.append(pathlib.Path(os.environ['CP2K_DATA_DIR']))
    candidates.append(pathlib.Path('/usr/share/cp2k'))
    for name in ('cp2k.psmp', 'cp2k.ssmp', 'cp2k.popt', 'cp2k.sopt', 'cp2k'):
        executable = shutil.which(name)
        if executable:
            prefix = pathlib.Path(executable).resolve().parent.parent
            candidates += [prefix / 'share' / 'cp2k' / 'data', prefix / 'share' / 'cp2k']
    for directory in candidates:
        if (directory / 'BASIS_MOLOPT').is_file():
            return directory
    return None


def get_cp2k_data_files(
    data_dir: str | pathlib.Path | None = None,
    basis_set_file: str = 'BASIS_MOLOPT',
    pseudo_file: str = 'GTH_POTENTIALS',
) -> dict[str, orm.SinglefileData]:
    """The basis-set and pseudopotential libraries as stored ``SinglefileData`` (reused when stored before).

    Pass them as the ``basis_file`` and ``pseudo_file`` inputs of :class:`Cp2kLabelWorkChain`: CP2K
    then reads the very files in the provenance graph, staged with the calculation, on any computer.

    :raises FileNotFoundError: when the data directory or a file is missing.
    """
    directory = pathlib.Path(data_dir) if data_dir else find_cp2k_data_dir()
    if directory is None:
        raise FileNotFoundError(
            'no CP2K data directory (BASIS_MOLOPT, GTH_POTENTIALS) found: install `cp2k-data` '
            '(Debian/Ubuntu), set CP2K_DATA_DIR, or give `data_dir`'
        )
    nodes = {}
    for port, name in (('basis_file', basis_set_file), ('pseudo_file', pseudo_file)):
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f'{path} does not exist')
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        query = orm.QueryBuilder().append(
            orm.SinglefileData,
            filters={'attributes.filename': name, 'extras.cp2k_data_sha256': digest},
        )
        found = query.first(flat=True)
        if found is None:
            found = orm.SinglefileData(path, filename=name).store()
            found.base.extras.set('cp2k_data_sha256', digest)
            found.base.extras.set('cp2k_data_source', str(path))
        nodes[port] = found
    return nodes


# ------------------------------------------------------------------------------------------- parsing
_FLOAT = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?'
_ENERGY = re.compile(
    rf'^\s*ENERGY\|\s+Total FORCE_EVAL \( \w+ \) energy \[(?:a\.u\.|hartree)\]:?\s+({_FLOAT})', re.M
)
_FORCES_OLD = re.compile(r'^\s*ATOMIC FORCES in \[a\.u\.\]\s*$', re.M)
_FORCES_NEW = re.compile(r'^\s*FORCES\|\s+Atomic forces \[hartree/bohr\]\s*$', re.M)
_STRESS = re.compile(r'^\s*STRESS\|\s+(?:Analytical|Numerical) stress tensor \[GPa\]\s*$', re.M)
_SCF_FAILED = re.compile(r'SCF run NOT converged')


def _number(text: str) -> float:
    return float(text.replace('D', 'E').replace('d', 'e'))


def _parse_forces(text: str) -> np.ndarray | None:
    """The last block of atomic forces (Hartree/Bohr), in either format of CP2K (before / since 2024)."""
    starts = [(m.end(), 'old') for m in _FORCES_OLD.finditer(text)] + [
        (m.end(), 'new') for m in _FORCES_NEW.finditer(text)
    ]
    if not starts:
        return None
    start, kind = max(starts)
    rows: list[list[float]] = []
    for line in text[start:].splitlines()[1:]:  # [0]: the rest of the header line
        fields = line.split()
        if kind == 'old':
            # " # Atom   Kind   Element   X   Y   Z" then "   1   1   Cu   fx   fy   fz", ended by "SUM OF ..."
            if not fields or fields[0] == '#':
                continue
            if not fields[0].isdigit():
                break
            rows.append([_number(value) for value in fields[3:6]])
        else:
            # " FORCES| Atom x y z |f|" then " FORCES|   1   fx   fy   fz   |f|", ended by " FORCES| Sum ..."
            if not fields or fields[0] != 'FORCES|':
                break
            if len(fields) > 1 and fields[1].isdigit():
                rows.append([_number(value) for value in fields[2:5]])
            elif rows:
                break
    return np.array(rows, dtype=float) if rows else None


def _parse_stress(text: str) -> np.ndarray | None:
    """The last stress tensor (GPa, 3x3, CP2K's sign: positive under compression)."""
    matches = list(_STRESS.finditer(text))
    if not matches:
        return None
    rows = []
    for line in text[matches[-1].end() :].splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[0] == 'STRESS|' and fields[1] in 'xyz':
            rows.append([_number(value) for value in fields[2:5]])
            if len(rows) == 3:
                return np.array(rows, dtype=float)
    return None


def parse_cp2k_stdout(text: str) -> dict[str, t.Any]:
    """Read a CP2K standard output: the last energy, forces and stress, in CP2K's units.

    :returns: ``energy`` (Hartree, or None), ``forces`` ((N, 3) Hartree/Bohr, or None), ``stress``
        ((3, 3) GPa, positive under compression, or None), ``scf_converged`` (False when CP2K
        warned that an SCF did not converge) and ``completed`` (CP2K reached its normal end).
    """
    energies = _ENERGY.findall(text)
    return {
        'energy': _number(energies[-1]) if energies else None,
        'forces': _parse_forces(text),
        'stress': _parse_stress(text),
        'scf_converged': _SCF_FAILED.search(text) is None,
        'completed': 'PROGRAM ENDED AT' in text or 'PROGRAM STOPPED IN' in text,
    }


def labels_from_cp2k_stdout(text: str, num_atoms: int) -> dict[str, t.Any]:
    """Energy (eV), forces (eV/Å) and stress (eV/Å³, ASE's sign and Voigt order, or None) of a CP2K output.

    :raises Cp2kOutputError: for an output without an energy, without forces for ``num_atoms``
        atoms, with a non-finite value, or with an SCF that did not converge.
    """
    parsed = parse_cp2k_stdout(text)
    if not parsed['scf_converged']:
        raise Cp2kOutputError('CP2K warned that the SCF did not converge')
    if parsed['energy'] is None:
        raise Cp2kOutputError('no `ENERGY| Total FORCE_EVAL` line in the CP2K output')
    forces = parsed['forces']
    if forces is None or forces.shape != (num_atoms, 3):
        found = 'none' if forces is None else f'{forces.shape[0]} atoms'
        raise Cp2kOutputError(f'no atomic forces for {num_atoms} atoms in the CP2K output ({found})')
    energy = parsed['energy'] * HARTREE_EV
    forces = forces * HARTREE_PER_BOHR_EV_PER_ANGSTROM
    stress = None
    if parsed['stress'] is not None:
        tensor = -parsed['stress'] * GPA_EV_PER_ANGSTROM3  # CP2K: positive under compression; ASE: tension
        stress = np.array(
            [tensor[0, 0], tensor[1, 1], tensor[2, 2], tensor[1, 2], tensor[0, 2], tensor[0, 1]]
        )
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise Cp2kOutputError('non-finite energy or forces in the CP2K output')
    return {'energy': energy, 'forces': forces, 'stress': stress}


@calcfunction
def cp2k_labels(structure: orm.StructureData, retrieved: orm.FolderData) -> dict[str, orm.Data]:
    """Convert the CP2K output in ``retrieved`` into labels: ``total_energy`` (Float, eV), ``forces``
    (ArrayData ``forces``, eV/Å) and, when CP2K printed it, ``stress`` (ArrayData ``stress``, eV/Å³,
    Voigt xx yy zz yz xz xy, positive under tension as in ASE).

    1 Ha = 27.211386 eV, 1 Ha/Bohr = 51.422067 eV/Å, 1 GPa = 0.0062415 eV/Å³ (CODATA 2018).
    """
    labels = labels_from_cp2k_stdout(
        retrieved.base.repository.get_object_content(STDOUT, mode='r'), len(structure.sites)
    )
    forces = orm.ArrayData()
    forces.set_array('forces', labels['forces'])
    results: dict[str, orm.Data] = {'total_energy': orm.Float(labels['energy']), 'forces': forces}
    if labels['stress'] is not None:
        stress = orm.ArrayData()
        stress.set_array('stress', labels['stress'])
        results['stress'] = stress
    return results


# ------------------------------------------------------------------------------------------- workchain
def _validate_inputs(inputs: dict[str, t.Any], _: t.Any) -> str | None:
    overrides = inputs['overrides'].get_dict() if 'overrides' in inputs else None
    try:
        settings = get_cp2k_protocol(inputs['protocol'].value, overrides)
    except ValueError as exception:
        return str(exception)
    for key in ('basis_set', 'pseudopotential'):
        if not isinstance(settings[key], (str, dict)):
            return f'`{key}` must be a name or a mapping element -> name, not {settings[key]!r}'
    return None


class Cp2kLabelWorkChain(WorkChain):
    """Label one structure with a CP2K single point: ``total_energy`` (eV), ``forces`` (eV/Å).

    The CP2K input comes from the ``protocol`` (``fast`` for tests, ``balanced``, ``precise``) and
    ``overrides``; the basis-set and pseudopotential libraries are staged from ``basis_file`` and
    ``pseudo_file`` (see :func:`get_cp2k_data_files`) or, without them, read by CP2K from its data
    directory. A failed calculation, an SCF that did not converge, or an output without energy
    and forces ends the workchain with a non-zero exit status and the reason, so the
    active-learning workchain reports the structure and leaves it out.
    """

    @classmethod
    def define(cls, spec: WorkChainSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input(
            'structure', valid_type=orm.StructureData, help='The structure to label (periodic in x, y, z).'
        )
        spec.input('code', valid_type=orm.AbstractCode, help='A CP2K code (`cp2k.psmp`, `cp2k.popt`, ...).')
        spec.input(
            'protocol',
            valid_type=orm.Str,
            default=lambda: orm.Str('balanced'),
            serializer=orm.to_aiida_type,
            help='`fast` (tests only), `balanced` or `precise`: see `list_cp2k_protocols()`.',
        )
        spec.input(
            'overrides',
            valid_type=orm.Dict,
            required=False,
            serializer=orm.to_aiida_type,
            help='Merged into the protocol: its top-level keys, and CP2K input sections under `parameters`.',
        )
        spec.input(
            'basis_file',
            valid_type=orm.SinglefileData,
            required=False,
            help='The basis-set library (e.g. BASIS_MOLOPT), staged with the calculation.',
        )
        spec.input(
            'pseudo_file',
            valid_type=orm.SinglefileData,
            required=False,
            help='The pseudopotential library (e.g. GTH_POTENTIALS), staged with the calculation.',
        )
        spec.input(
            'options',
            valid_type=orm.Dict,
            required=False,
            serializer=orm.to_aiida_type,
            help='`metadata.options` of the CP2K calculation (resources, walltime, withmpi, queue, ...).',
        )
        spec.inputs.validator = _validate_inputs
        # plumpy types every outline step as Callable[[WorkChain], ...], which a method of a subclass is not
        # (the parameter is contravariant): hence the `arg-type` ignores
        spec.outline(cls.run_cp2k, cls.inspect_cp2k)  # type: ignore[arg-type]  # plumpy outline typing
        spec.output('total_energy', valid_type=orm.Float, help='Total (free) energy in eV.')
        spec.output('forces', valid_type=orm.ArrayData, help='Array `forces`, (atoms, 3), eV/Å.')
        spec.output(
            'stress',
            valid_type=orm.ArrayData,
            required=False,
            help='Array `stress`, Voigt (6,), eV/Å³, positive under tension (protocol key `stress`).',
        )
        spec.exit_code(
            300,
            'ERROR_NO_AIIDA_CP2K',
            message='aiida-cp2k is not installed (`pip install aiida-cp2k`): {message}',
        )
        spec.exit_code(
            301, 'ERROR_INVALID_STRUCTURE', message='the structure cannot be labelled with CP2K: {message}'
        )
        spec.exit_code(
            401,
            'ERROR_CP2K_FAILED',
            message='the CP2K calculation {process}<{pk}> failed with exit status {status}: {message}',
        )
        spec.exit_code(
            402,
            'ERROR_SCF_NOT_CONVERGED',
            message='the SCF of the CP2K calculation {process}<{pk}> did not converge',
        )
        spec.exit_code(
            403,
            'ERROR_NO_LABELS',
            message='no energy and forces in the output of the CP2K calculation {process}<{pk}>: {message}',
        )

    def run_cp2k(self) -> t.Any:
        """Launch the CP2K single point."""
        from aiida.plugins import CalculationFactory

        try:
            calculation = CalculationFactory('cp2k')
        except Exception as exception:
            return self.exit_codes.ERROR_NO_AIIDA_CP2K.format(message=str(exception))
        overrides = self.inputs.overrides.get_dict() if 'overrides' in self.inputs else None
        settings = get_cp2k_protocol(self.inputs.protocol.value, overrides)
        structure = self.inputs.structure
        files: dict[str, orm.SinglefileData] = {}
        names = {}
        for port, key in (('basis_file', 'basis_set_file'), ('pseudo_file', 'pseudo_file')):
            if port in self.inputs:
                node = self.inputs[port]
                files[port] = node
                names[key] = node.filename
        try:
            parameters = build_cp2k_parameters(
                structure, settings, names.get('basis_set_file'), names.get('pseudo_file')
            )
        except ValueError as exception:
            return self.exit_codes.ERROR_INVALID_STRUCTURE.format(message=str(exception))
        options = {'resources': {'num_machines': 1}}
        if 'options' in self.inputs:
            options.update(self.inputs.options.get_dict())
        inputs: dict[str, t.Any] = {
            'code': self.inputs.code,
            'structure': structure,
            'parameters': orm.Dict(parameters),
            'metadata': {'options': options, 'call_link_label': 'cp2k'},
        }
        if files:
            inputs['file'] = files
        distance = settings.get('kpoints_distance')
        if distance:
            kpoints = orm.KpointsData()
            kpoints.set_cell_from_structure(structure)
            kpoints.set_kpoints_mesh_from_density(float(distance))
            mesh, _ = kpoints.get_kpoints_mesh()
            if any(n > 1 for n in mesh):
                inputs['kpoints'] = kpoints
        node = self.submit(calculation, **inputs)  # type: ignore[arg-type]
        self.report(f'launched {node.process_label}<{node.pk}> ({self.inputs.protocol.value} protocol)')
        return ToContext(calculation=node)

    def inspect_cp2k(self) -> t.Any:
        """Check the calculation; convert its output into the labels."""
        node = self.ctx.calculation
        common = {'process': node.process_label, 'pk': node.pk}
        text = ''
        if 'retrieved' in node.outputs:
            try:
                text = node.outputs.retrieved.base.repository.get_object_content(STDOUT, mode='r')
            except (OSError, FileNotFoundError):
                text = ''
        scf_failed = 'SCF run NOT converged' in text
        # CP2K 2023 warns and carries on; later versions abort, which aiida-cp2k reports as exit status 450
        try:
            scf_status = getattr(node.process_class.exit_codes, 'ERROR_SCF_NOT_CONVERGED', None)
        except Exception:  # the CalcJob class cannot be loaded
            scf_status = None
        if scf_failed or (scf_status is not None and node.exit_status == scf_status.status):
            return self.exit_codes.ERROR_SCF_NOT_CONVERGED.format(**common)
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_CP2K_FAILED.format(
                status=node.exit_status,
                message=node.exit_message or 'no message (excepted or killed?)',
                **common,
            )
        try:
            labels_from_cp2k_stdout(text, len(self.inputs.structure.sites))
        except Cp2kOutputError as exception:
            return self.exit_codes.ERROR_NO_LABELS.format(message=str(exception), **common)
        labels = cp2k_labels(
            self.inputs.structure,
            node.outputs.retrieved,
            metadata={'call_link_label': 'labels'},  # type: ignore[call-arg]
        )
        self.out_many(labels)
        energy = labels['total_energy'].value
        self.report(
            f'{node.process_label}<{node.pk}>: {energy:.6f} eV for {len(self.inputs.structure.sites)} atoms'
        )
        return None

    @classmethod
    def get_labeller_inputs(
        cls,
        code: orm.AbstractCode,
        protocol: str = 'balanced',
        overrides: dict[str, t.Any] | None = None,
        options: dict[str, t.Any] | None = None,
        stage_data_files: bool = True,
        data_dir: str | pathlib.Path | None = None,
    ) -> dict[str, orm.Data]:
        """The fixed inputs of this labeller, for ``labeller.inputs`` of the active-learning workchain.

        :param stage_data_files: stage this machine's basis-set and pseudopotential libraries with
            every calculation (stored once, see :func:`get_cp2k_data_files`); False: CP2K reads them
            from its data directory on the computer that runs it.
        """
        settings = get_cp2k_protocol(protocol, overrides)
        inputs: dict[str, orm.Data] = {'code': code, 'protocol': orm.Str(protocol)}
        if overrides:
            inputs['overrides'] = orm.Dict(overrides)
        if options:
            inputs['options'] = orm.Dict(options)
        if stage_data_files:
            inputs.update(get_cp2k_data_files(data_dir, settings['basis_set_file'], settings['pseudo_file']))
        return inputs
