"""`PacePotentialData`: a fitted ACE potential (pacemaker ``.yaml`` and its ``.yace``)."""

from __future__ import annotations

import hashlib
import io
import pathlib
import typing as t

import yaml
from aiida.orm import Data

from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YACE, POTENTIAL_YAML
from aiida_pacemaker.tools import yaml_files

__all__ = ('PacePotentialData', 'PotentialError', 'summarize_potential_yaml')


class PotentialError(ValueError):
    """Raised when a potential file is missing, unreadable or inconsistent."""


def summarize_potential_yaml(content: bytes | str) -> dict[str, t.Any]:
    """Read the header of a pacemaker B-basis ``.yaml`` (its ``species`` blocks).

    Returns ``elements``, ``cutoff`` (largest ``rcutij``, Å), ``number_of_functions``,
    ``has_zbl`` and ``reference_energies`` (eV per atom of each element, from the
    ``metadata: reference_energy`` that pacemaker records when the fit subtracted one,
    its ``shift`` folded in: total energy = ACE energy + sum of these over the atoms).

    :raises PotentialError: if the text is not a pacemaker potential.
    """
    try:
        document = yaml_files.safe_load(content)
    except yaml.YAMLError as exception:
        raise PotentialError(f'the potential is not valid YAML: {exception}') from exception
    if (
        not isinstance(document, dict)
        or not isinstance(document.get('species'), list)
        or not document['species']
    ):
        raise PotentialError('the file is not a pacemaker B-basis potential: it has no `species` blocks')
    elements: list[str] = []
    cutoffs: list[float] = []
    number_of_functions = 0
    has_zbl = False
    for block in document['species']:
        if not isinstance(block, dict) or 'speciesblock' not in block:
            raise PotentialError('a `species` entry of the potential has no `speciesblock`')
        names = str(block['speciesblock']).split()
        if len(names) == 1 and names[0] not in elements:
            elements.append(names[0])
        if 'rcutij' in block:
            cutoffs.append(float(block['rcutij']))
        number_of_functions += len(block.get('nbody') or [])
        has_zbl = has_zbl or block.get('inner_cutoff_type') == 'zbl'
    if not elements:
        raise PotentialError('the potential lists no elements')
    reference = (document.get('metadata') or {}).get('reference_energy') or {}
    if isinstance(reference, str):
        try:
            reference = yaml_files.safe_load(reference) or {}
        except yaml.YAMLError:
            reference = {}
    # pacemaker fits energy_corrected = E - sum_e n_e E_e + shift * N (pyace/process_df.py), so the
    # energy per atom of element e to add back is E_e - shift
    shift = float(reference.get('shift', 0.0)) if isinstance(reference, dict) else 0.0
    reference_energies = (
        {str(k): float(v) - shift for k, v in reference.items() if str(k) in elements}
        if isinstance(reference, dict)
        else {}
    )
    return {
        'elements': elements,
        'cutoff': max(cutoffs) if cutoffs else None,
        'number_of_functions': int(number_of_functions),
        'has_zbl': has_zbl,
        'reference_energies': reference_energies,
    }


#: top-level keys of every ``.yace`` that ``pace_yaml2yace`` writes (the C++ evaluator's format)
YACE_KEYS = ('elements', 'embeddings', 'bonds', 'functions')


def yace_elements(content: bytes) -> list[str]:
    """The ``elements`` of a ``.yace`` potential, after checking that it has the sections of one.

    The ``.yace`` is YAML with sequences as mapping keys, which no YAML loader turns into Python
    objects: the document is only composed (parsed into nodes, nothing constructed).

    :raises PotentialError: if the content is not an ACE ``.yace`` potential.
    """
    try:
        root = yaml_files.compose(content.decode('utf-8'))
    except (UnicodeDecodeError, yaml.YAMLError) as exception:
        raise PotentialError(
            f'the .yace is not a pace_yaml2yace file: {" ".join(str(exception).split())}'
        ) from None
    if not isinstance(root, yaml.MappingNode):
        raise PotentialError('the .yace is not a pace_yaml2yace file: its top level is not a mapping')
    sections = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    missing = [key for key in YACE_KEYS if key not in sections]
    if missing:
        raise PotentialError(f'the .yace is not a pace_yaml2yace file: it has no {", ".join(missing)}')
    elements = sections['elements']
    if not isinstance(elements, yaml.SequenceNode) or not all(
        isinstance(e, yaml.ScalarNode) for e in elements.value
    ):
        raise PotentialError('the .yace is not a pace_yaml2yace file: `elements` is not a list of symbols')
    return [str(e.value) for e in elements.value]


class PacePotentialData(Data):
    """A pacemaker potential: the B-basis ``.yaml`` and, when available, the ``.yace``.

    Attributes: ``elements``, ``cutoff`` (Å), ``number_of_functions``, ``physics_baseline``
    (``none``, ``zbl`` or ``lj``), ``baseline_parameters`` (for ``lj``), ``reference_energies``
    (eV/atom per element, added back by the ASE calculator), ``yaml_sha256`` and, with a
    ``.yace``, ``yace_sha256``.
    """

    def __init__(
        self,
        potential_yaml: bytes | str | pathlib.Path | None = None,
        potential_yace: bytes | str | pathlib.Path | None = None,
        physics_baseline: str | None = None,
        baseline_parameters: dict[str, t.Any] | None = None,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # aiida's Data.__init__ is untyped; untyped_calls_exclude misses super()
        if potential_yaml is None:
            return
        content = _read_bytes(potential_yaml)
        summary = summarize_potential_yaml(content)
        self.base.repository.put_object_from_bytes(content, POTENTIAL_YAML)
        self.base.attributes.set('yaml_sha256', hashlib.sha256(content).hexdigest())
        self.base.attributes.set('elements', summary['elements'])
        self.base.attributes.set('cutoff', summary['cutoff'])
        self.base.attributes.set('number_of_functions', summary['number_of_functions'])
        self.base.attributes.set('reference_energies', summary['reference_energies'])
        if physics_baseline is None:
            physics_baseline = 'zbl' if summary['has_zbl'] else 'none'
        if physics_baseline not in ('none', 'zbl', 'lj'):
            raise PotentialError(f'unknown physics_baseline {physics_baseline!r}: use none, zbl or lj')
        self.base.attributes.set('physics_baseline', physics_baseline)
        self.base.attributes.set('baseline_parameters', baseline_parameters or {})
        if potential_yace is not None:
            yace = _read_bytes(potential_yace)
            if not yace.strip():
                raise PotentialError('the .yace file is empty')
            if yace_elements(yace) != summary['elements']:
                raise PotentialError(
                    f'the .yace is for elements {yace_elements(yace)}, the .yaml for {summary["elements"]}: '
                    'not the same potential'
                )
            self.base.repository.put_object_from_bytes(yace, POTENTIAL_YACE)
            self.base.attributes.set('yace_sha256', hashlib.sha256(yace).hexdigest())

    # ------------------------------------------------------------------ attributes
    @property
    def elements(self) -> list[str]:
        """Chemical symbols the potential knows, in its own order."""
        return t.cast(list[str], self.base.attributes.get('elements'))

    @property
    def cutoff(self) -> float:
        """Largest radial cutoff, Å."""
        return t.cast(float, self.base.attributes.get('cutoff'))

    @property
    def number_of_functions(self) -> int:
        """Total number of ACE basis functions over all elements."""
        return t.cast(int, self.base.attributes.get('number_of_functions'))

    @property
    def physics_baseline(self) -> str:
        """``none``, ``zbl`` (pacemaker's inner core) or ``lj`` (additive, applied by this plugin)."""
        return t.cast(str, self.base.attributes.get('physics_baseline', 'none'))

    @property
    def baseline_parameters(self) -> dict[str, t.Any]:
        """Parameters of an additive baseline (see :mod:`aiida_pacemaker.baselines`)."""
        return t.cast(dict[str, t.Any], self.base.attributes.get('baseline_parameters', {}))

    @property
    def has_yace(self) -> bool:
        """Whether the ``.yace`` (for LAMMPS ``pair_style pace``) is stored."""
        return 'yace_sha256' in self.base.attributes.keys()

    # ------------------------------------------------------------------ files
    def _get_checked(self, filename: str, attribute: str) -> bytes:
        try:
            content = self.base.repository.get_object_content(filename, mode='rb')
        except FileNotFoundError as exception:
            raise PotentialError(f'PacePotentialData<{self.pk}> holds no {filename}') from exception
        if hashlib.sha256(content).hexdigest() != self.base.attributes.get(attribute):
            raise PotentialError(
                f'{filename} of PacePotentialData<{self.pk}> does not match its recorded SHA-256'
            )
        return content

    def get_yaml_content(self) -> bytes:
        """Return the ``.yaml`` potential, after checking its hash."""
        return self._get_checked(POTENTIAL_YAML, 'yaml_sha256')

    def get_yace_content(self) -> bytes:
        """Return the ``.yace`` potential, after checking its hash."""
        return self._get_checked(POTENTIAL_YACE, 'yace_sha256')

    def write_yaml(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the ``.yaml`` potential to ``path`` and return it."""
        path = pathlib.Path(path)
        path.write_bytes(self.get_yaml_content())
        return path

    def write_yace(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the ``.yace`` potential to ``path`` and return it."""
        path = pathlib.Path(path)
        path.write_bytes(self.get_yace_content())
        return path

    def get_ase_calculator(
        self, active_set: t.Any = None, directory: str | pathlib.Path | None = None
    ) -> t.Any:
        """Return an ASE calculator for this potential (needs pyace), including any additive baseline.

        :param active_set: optional `ActiveSetData` of this potential; the calculator then
            reports the per-atom extrapolation grade in ``calc.results['gamma']``.
        :param directory: where to write the potential files (a temporary folder by default).
        """
        import tempfile

        from pyace import PyACECalculator

        folder = pathlib.Path(directory or tempfile.mkdtemp(prefix='aiida_pacemaker_'))
        yaml_path = self.write_yaml(folder / POTENTIAL_YAML)
        calculator = PyACECalculator(str(yaml_path))
        if active_set is not None:
            active_set.check_potential(self)
            calculator.set_active_set(str(active_set.write_asi(folder / ACTIVE_SET_ASI)))
        reference = {k: v for k, v in self.reference_energies.items() if v}
        if self.physics_baseline == 'lj' or reference:
            from aiida_pacemaker.baselines import BaselineSumCalculator, baseline_from_parameters

            baseline = (
                baseline_from_parameters(self.baseline_parameters) if self.physics_baseline == 'lj' else None
            )
            return BaselineSumCalculator(calculator, baseline=baseline, reference_energies=reference or None)
        return calculator

    @property
    def reference_energies(self) -> dict[str, float]:
        """Per-element energies (eV/atom) that pacemaker subtracted before the fit (``reference_energy``)."""
        return t.cast(dict[str, float], self.base.attributes.get('reference_energies', {}))

    def lammps_lines(self, yace_filename: str = POTENTIAL_YACE) -> list[str]:
        """LAMMPS ``pair_style``/``pair_coeff`` lines for this potential, including its baseline.

        pair_style pace has no per-element energy offset: with non-zero ``reference_energies``
        LAMMPS energies differ from the ASE calculator's by that constant per atom (forces agree).
        """
        if self.physics_baseline == 'lj':
            from aiida_pacemaker.baselines import baseline_from_parameters

            return baseline_from_parameters(self.baseline_parameters).lammps_lines(
                self.elements, yace_filename
            )
        return ['pair_style pace', f'pair_coeff * * {yace_filename} {" ".join(self.elements)}']

    def lammps_extrapolation_lines(
        self,
        yaml_filename: str = POTENTIAL_YAML,
        asi_filename: str = ACTIVE_SET_ASI,
        *,
        gamma_every: int = 10,
        dump_every: int = 20,
        gamma_dump: float = 5.0,
        gamma_halt: float = 25.0,
        dump_filename: str = 'extrapolative_structures.dump',
    ) -> list[str]:
        """LAMMPS lines for extrapolation-aware MD with the active set, as in pacemaker's documentation.

        ``pair_style pace/extrapolation`` takes the ``.yaml`` potential and its ``.asi`` active set (not the
        ``.yace``); ``fix pair`` computes the per-atom extrapolation grade ``f_pace_gamma`` every
        ``gamma_every`` steps, ``compute reduce max`` its maximum ``c_max_pace_gamma``; structures whose
        maximum grade reaches ``gamma_dump`` are dumped every ``dump_every`` steps into ``dump_filename``
        (for ``pace_select``, with the elements in the order of the ``pair_coeff`` line), and the run halts
        once it exceeds ``gamma_halt``. With a Lennard-Jones baseline the pair style is overlaid with
        ``lj/smooth/linear`` as in :meth:`lammps_lines`; ``fix pair`` reads the grade from the
        ``pace/extrapolation`` sub-style. Reference energies are not added (see :meth:`lammps_lines`).
        """
        elements = ' '.join(self.elements)
        if self.physics_baseline == 'lj':
            from aiida_pacemaker.baselines import baseline_from_parameters

            baseline = baseline_from_parameters(self.baseline_parameters)
            # `pair_style hybrid/overlay pace lj/smooth/linear RC`, `pair_coeff * * pace ...`, then the LJ pairs
            overlay = baseline.lammps_lines(self.elements, 'unused.yace')
            pair = [
                f'pair_style hybrid/overlay pace/extrapolation lj/smooth/linear {baseline.cutoff!r}',
                f'pair_coeff * * pace/extrapolation {yaml_filename} {asi_filename} {elements}',
                *overlay[2:],
            ]
        else:
            pair = [
                'pair_style pace/extrapolation',
                f'pair_coeff * * {yaml_filename} {asi_filename} {elements}',
            ]
        return [
            *pair,
            '',
            f'# compute the per-atom extrapolation grade every {gamma_every} steps',
            f'fix pace_gamma all pair {gamma_every} pace/extrapolation gamma 1',
            '# the maximum extrapolation grade over the structure',
            'compute max_pace_gamma all reduce max f_pace_gamma',
            '',
            f'# dump extrapolative structures (max grade >= {gamma_dump:g}), checked every {dump_every} steps',
            f'variable dump_skip equal "c_max_pace_gamma < {gamma_dump:g}"',
            f'dump pace_dump all custom {dump_every} {dump_filename} id type x y z f_pace_gamma',
            'dump_modify pace_dump skip v_dump_skip',
            '',
            f'# stop the run if the maximum extrapolation grade exceeds {gamma_halt:g}',
            'variable max_pace_gamma equal c_max_pace_gamma',
            f'fix extreme_extrapolation all halt {gamma_every} v_max_pace_gamma > {gamma_halt:g}',
        ]


def _read_bytes(source: bytes | str | pathlib.Path | t.IO[bytes] | t.IO[str]) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, pathlib.Path):
        return source.read_bytes()
    if isinstance(source, str):
        if '\n' in source:  # the content itself
            return source.encode()
        path = pathlib.Path(source).expanduser()
        if not path.is_file():
            raise PotentialError(
                f'no file `{source}`: give the path of a potential file, or its content (bytes or text of '
                'several lines)'
            )
        return path.read_bytes()
    if isinstance(source, io.IOBase) or hasattr(source, 'read'):
        data = source.read()
        return data.encode() if isinstance(data, str) else data
    raise TypeError(f'cannot read a potential from {type(source).__name__}')
