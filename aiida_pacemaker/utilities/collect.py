"""``pace_collect``: VASP outputs (``vasprun.xml``, ``OUTCAR``) to a training set, with provenance.

The graph: the uploaded folders (``FolderData``) or files (``SinglefileData``) -> ShellJob
``pace_collect`` (which also runs the job-side script ``dataframe_to_npz.py`` on the pickle it wrote)
-> ``collected.npz`` and ``collected.json`` -> calcfunction ``training_set_from_collected`` ->
``TrainingSetData`` (and a ``report`` Dict). Each structure is named ``FOLDER/…/vasprun.xml##STEP``
after the file and ionic step it came from.
"""

from __future__ import annotations

import json
import pathlib
import re
import typing as t
from collections.abc import Sequence

from aiida import orm

from aiida_pacemaker.calculations.functions.utilities import training_set_from_collected

from .jobs import (
    UtilityRun,
    after_tool,
    command_failed,
    job_failure,
    job_output_tail,
    one_line,
    python_line,
    run_function,
    run_utility,
    script_node,
    utility_code,
)

__all__ = ('SELECTIONS', 'collect_vasp', 'is_vasp_output', 'vasp_folder')

UTILITY = 'pace_collect'
SCRIPT = 'dataframe_to_npz.py'
#: the folder of the job into which the VASP outputs are copied, one sub-folder per input node
DATA_DIR = 'data'
PICKLE = 'collected.pckl.gzip'
ARRAYS = 'collected.npz'
REPORT = 'collected.json'
#: pace_collect's ``--selection`` keywords; a Python slice ``start:stop:step`` is accepted too
SELECTIONS = ('last', 'first', 'all', 'first_and_last')
_SLICE = re.compile(r'^-?\d*:-?\d*(:-?\d*)?$')
_SAFE_NAME = re.compile(r'[^A-Za-z0-9._-]+')

VaspSource = str | pathlib.Path | orm.FolderData | orm.SinglefileData


def is_vasp_output(name: str) -> bool:
    """Whether pace_collect reads a file of this name: one whose name contains ``OUTCAR`` or ``vasprun.xml``."""
    return 'OUTCAR' in name or 'vasprun.xml' in name


def vasp_folder(directory: str | pathlib.Path) -> orm.FolderData:
    """A ``FolderData`` (not stored) of the VASP outputs under ``directory``, sub-folders kept.

    Only the files pace_collect reads are uploaded (``*OUTCAR*``, ``*vasprun.xml*``): a VASP folder's
    ``WAVECAR`` and ``CHGCAR`` stay where they are.

    :raises ValueError: if there is no such file under ``directory``.
    """
    directory = pathlib.Path(directory).expanduser().resolve()
    if not directory.is_dir():
        raise ValueError(f'`{directory}` is not a directory')
    files = sorted(p for p in directory.rglob('*') if p.is_file() and is_vasp_output(p.name))
    if not files:
        raise ValueError(f'no vasprun.xml or OUTCAR under `{directory}`')
    folder = orm.FolderData()
    for path in files:
        folder.base.repository.put_object_from_file(str(path), path.relative_to(directory).as_posix())
    folder.label = directory.name
    folder.description = f'VASP outputs uploaded from {directory}'
    return folder


def _check_selection(selection: str) -> str:
    if selection not in SELECTIONS and not _SLICE.match(selection):
        raise ValueError(
            f'--selection {selection!r}: use one of {", ".join(SELECTIONS)} or a slice start:stop:step'
        )
    return selection


def _node_of(source: VaspSource) -> orm.FolderData | orm.SinglefileData:
    if isinstance(source, orm.FolderData | orm.SinglefileData):
        if isinstance(source, orm.SinglefileData) and not is_vasp_output(source.filename):
            raise ValueError(
                f'{source.filename} is not a vasprun.xml or OUTCAR: pace_collect would not read it'
            )
        return source
    if not isinstance(source, str | pathlib.Path):
        raise ValueError(f'cannot collect VASP outputs from a {type(source).__name__}')
    path = pathlib.Path(source).expanduser()
    if path.is_dir():
        return vasp_folder(path)
    if not path.is_file():
        raise ValueError(f'no file or directory `{source}`')
    if not is_vasp_output(path.name):
        raise ValueError(f'`{source}` is not a vasprun.xml or OUTCAR: pace_collect would not read it')
    node = orm.SinglefileData(path.resolve())
    node.label = path.resolve().parent.name
    node.description = f'VASP output uploaded from {path.resolve()}'
    return node


def _job_layout(sources: Sequence[VaspSource]) -> tuple[dict[str, orm.Data], dict[str, str]]:
    """The input nodes by link label and where each goes in the job: ``data/NAME`` for a folder,
    ``data/NAME/FILENAME`` for a file (NAME from the node's label, made unique)."""
    nodes: dict[str, orm.Data] = {}
    filenames: dict[str, str] = {}
    taken: set[str] = set()
    for index, source in enumerate(sources):
        node = _node_of(source)
        name = _SAFE_NAME.sub('_', node.label or '').strip('._') or f'vasp_{index}'
        unique, counter = name, 1
        while unique in taken:
            counter += 1
            unique = f'{name}_{counter}'
        taken.add(unique)
        key = f'vasp_{index}'
        nodes[key] = node
        if isinstance(node, orm.SinglefileData):
            filenames[key] = f'{DATA_DIR}/{unique}/{node.filename}'
        else:
            filenames[key] = f'{DATA_DIR}/{unique}'
    return nodes, filenames


def _report_of(job: orm.CalcJobNode) -> dict[str, t.Any] | None:
    """The JSON report the job-side script wrote (None if it wrote none)."""
    key = REPORT.replace('.', '_')
    if key not in job.outputs:
        return None
    try:
        return t.cast(dict[str, t.Any], json.loads(job.outputs[key].get_content(mode='r')))
    except ValueError:
        return None


def _unread(report: dict[str, t.Any] | None) -> list[str]:
    """One line per VASP file pace_collect took nothing from, with the reason."""
    if not report:
        return []
    return [f'{e["file"]}: {e["reason"]}' for e in report.get('files', []) if not e.get('collected')]


def collect_vasp(
    sources: Sequence[VaspSource],
    selection: str = 'last',
    keep_unfinished: bool = False,
    code: orm.AbstractCode | None = None,
) -> UtilityRun:
    """Collect labelled structures from VASP outputs with ``pace_collect``, as a ``TrainingSetData``.

    :param sources: directories (uploaded as ``FolderData``, only their ``*vasprun.xml*`` and
        ``*OUTCAR*`` files), single files (``SinglefileData``), or such nodes already stored. pace_collect
        walks each folder: in a folder with an ``OUTCAR`` it reads that and not ``vasprun.xml``.
    :param selection: which ionic steps of each run: ``last`` (pace_collect's default), ``first``,
        ``all``, ``first_and_last`` or a slice ``start:stop:step``.
    :param keep_unfinished: keep the structures of runs that did not finish (a truncated
        ``vasprun.xml``, an ``OUTCAR`` without VASP's closing timing section) and ionic steps whose
        electronic loop stopped at ``NELM``; by default they are dropped, with the reason in the report.
    :param code: the ``pace_collect`` code; by default the one of this environment on the plugin's
        local computer.
    :returns: ``outputs['training_set']`` (energies are VASP's free energies, eV; forces eV/Å;
        stress eV/Å³) and ``outputs['report']``; ``warnings`` names each file or structure left out and
        why. A run that gives no structure is not ``ok`` and its ``message`` says why.
    :raises ValueError: for sources that hold no VASP output (nothing is run then).
    """
    if not sources:
        raise ValueError('give at least one folder or file of VASP outputs')
    _check_selection(selection)
    code = utility_code(UTILITY, code)
    nodes, filenames = _job_layout(sources)
    nodes = {**nodes, 'script': script_node(SCRIPT)}
    filenames['script'] = SCRIPT
    append_text = after_tool(python_line(code, SCRIPT, 'collect', PICKLE, DATA_DIR, ARRAYS, REPORT))
    _, job = run_utility(
        UTILITY,
        code,
        ['-wd', DATA_DIR, '--output-dataset-filename', PICKLE, '--selection', selection],
        nodes,
        filenames,
        outputs=['collected*.npz', 'collected*.json'],
        append_text=append_text,
        description=f'pace_collect on {len(sources)} upload(s), selection {selection}',
    )
    report = _report_of(job)
    warnings = _unread(report)
    if not job.is_finished_ok:
        reasons = '; '.join(warnings)
        if report is not None and not report.get('files'):
            reasons = 'no vasprun.xml or OUTCAR among the uploaded files'
        if reasons and command_failed(job):
            message = f'pace_collect read no structure (ShellJob<{job.pk}>, exit status {job.exit_status}): {reasons}'
        else:
            message = job_failure(UTILITY, job)
        return UtilityRun(UTILITY, job, message=one_line(message), warnings=warnings)
    arrays_key = ARRAYS.replace('.', '_')
    if arrays_key not in job.outputs or report is None:
        tail = job_output_tail(job) or 'it printed nothing'
        return UtilityRun(
            UTILITY,
            job,
            message=f'pace_collect ran (ShellJob<{job.pk}>) but its output was not converted: {tail}',
            warnings=warnings,
        )
    results, function = run_function(
        training_set_from_collected,
        arrays=job.outputs[arrays_key],
        report=job.outputs[REPORT.replace('.', '_')],
        keep_unfinished=orm.Bool(keep_unfinished),
    )
    if not function.is_finished_ok:
        message = f'pace_collect (ShellJob<{job.pk}>) gave no training set: {function.exit_message}'
        return UtilityRun(UTILITY, job, message=one_line(message), warnings=warnings)
    summary = results['report'].get_dict()
    warnings += [f'{d["name"]} left out: {d["reason"]}' for d in summary['dropped_structures']]
    training_set = results['training_set']
    read = sum(1 for entry in summary['files'] if entry['collected'])
    message = (
        f'TrainingSetData<{training_set.pk}>: {training_set.num_structures} structures '
        f'(ShellJob<{job.pk}>: pace_collect read {read} of {len(summary["files"])} VASP files)'
    )
    return UtilityRun(UTILITY, job, results, ok=True, message=message, warnings=warnings)
