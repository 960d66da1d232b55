"""The default path: a whole active-learning run through `aiida-pacemaker run active-learning` on a fresh
`verdi presto` profile, against the same tool calls by hand.

Each repeat:

1. ``verdi presto`` makes a new profile (SQLite, no services; timed on its own, not in the ratio);
2. **CLI arm**: ``aiida-pacemaker -p PROFILE run active-learning CONFIG`` in a subprocess, timed from
   start to exit (the interpreter's start and imports, the codes' setup, the example data, EMT labels,
   every fit, active set and selection, the learning curve and the final report);
3. **by-hand arm**, on the same work: every CalcJob of that run is prepared again as a dry run
   (``get_builder_restart`` with ``dry_run``: the same input files and job script, in a folder of
   its own, not timed) and its job script is run with ``bash`` in that folder one after the other,
   timed; plus the EMT labels of the same structures (the final training set and the test set),
   timed in this process. What a person would type by hand is these same commands on these same
   files (``pacemaker input.yaml``, ``pace_yaml2yace``, ``pace_activeset``, ``pace_select`` and
   the jobs' small Python steps); writing those files by hand is not timed.

Where the difference goes: for every CalcJob of the CLI run, the job's own runtime (from the
mtime of its job script in the remote folder to the newest file there) against the by-hand run of
the same script; the rest of the CLI's time is AiiDA's (process bookkeeping, polls, uploads,
retrieval, parsing, the labelling calcfunctions) and the interpreter's.

Target (#14): CLI time / by-hand time <= 1.15. Repeats alternate (CLI, by hand, CLI, by hand, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _common

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE.parent / 'docs' / 'examples' / 'active_learning_emt.yaml'


def presto(profile: str, environment: dict) -> float:
    began = time.perf_counter()
    subprocess.run(
        [str(_common.BIN / 'verdi'), 'presto', '--profile-name', profile],
        check=True,
        capture_output=True,
        env=environment,
    )
    return time.perf_counter() - began


def set_poll_interval(profile: str, seconds: float, environment: dict) -> None:
    """Make the computer that the CLI uses (``get_or_create_localhost``) in ``profile`` beforehand, polling
    every ``seconds`` instead of the plugin's :data:`~aiida_pacemaker.codes.POLL_INTERVAL`."""
    script = (
        'import sys; from aiida import load_profile; load_profile(sys.argv[1]); '
        'from aiida_pacemaker.codes import get_or_create_localhost; '
        'get_or_create_localhost().set_minimum_job_poll_interval(float(sys.argv[2]))'
    )
    subprocess.run(
        [str(_common.BIN / 'python'), '-c', script, profile, str(seconds)],
        check=True,
        capture_output=True,
        env=environment,
    )


def cli_run(profile: str, config: pathlib.Path, environment: dict, log: pathlib.Path) -> float:
    command = [str(_common.BIN / 'aiida-pacemaker'), '-p', profile, 'run', 'active-learning', str(config)]
    began = time.perf_counter()
    with log.open('w') as handle:
        subprocess.run(command, check=True, stdout=handle, stderr=subprocess.STDOUT, env=environment)
    return time.perf_counter() - began


def last_active_learning_run():
    from aiida import orm

    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    query = orm.QueryBuilder().append(
        orm.WorkflowNode, filters={'process_type': PaceActiveLearningWorkChain.build_process_type()}
    )
    return max((row[0] for row in query.iterall()), key=lambda node: node.ctime)


def where_the_time_goes(workchain, jobs_in_aiida_s: float, cli_s: float) -> dict:
    """The CLI's seconds split by the process nodes' creation and last-change times (seconds)."""
    from aiida import orm

    def duration(node) -> float:
        return (node.mtime - node.ctime).total_seconds()

    descendants = workchain.called_descendants
    calcjobs = sum(duration(node) for node in descendants if isinstance(node, orm.CalcJobNode))
    functions = sum(duration(node) for node in descendants if isinstance(node, orm.CalcFunctionNode))
    total = duration(workchain)
    return {
        'jobs': jobs_in_aiida_s,
        'around_jobs': calcjobs - jobs_in_aiida_s,  # upload, submit, polls, retrieve, parse
        'calcfunctions': functions,  # labels, merges, the learning curve
        'workchain_steps': total - calcjobs - functions,  # the steps' own work and the gaps between
        'outside_workchain': cli_s - total,  # interpreter start, imports, example data, the report
    }


def job_seconds_in_aiida(calcjob) -> float:
    """The job's own runtime: from its job script's mtime in the remote folder to the newest file there."""
    folder = pathlib.Path(calcjob.outputs.remote_folder.get_remote_path())
    script = folder / calcjob.get_option('submit_script_filename')
    newest = max(path.stat().st_mtime for path in folder.rglob('*') if path.is_file())
    return newest - script.stat().st_mtime


def prepare_by_hand(calcjob, where: pathlib.Path) -> pathlib.Path:
    """The folder that a dry run of ``calcjob``'s inputs writes: its input files and job script."""
    from aiida import engine

    builder = calcjob.get_builder_restart()
    builder.metadata.dry_run = True
    builder.metadata.store_provenance = False
    previous = os.getcwd()
    os.chdir(where)
    try:
        _, node = engine.run_get_node(builder)
    finally:
        os.chdir(previous)
    return pathlib.Path(node.dry_run_info['folder'])


def by_hand(workchain, scratch: pathlib.Path, environment: dict) -> dict:
    """Run every CalcJob's job script of ``workchain`` by hand, and EMT on its structures; seconds each."""
    from aiida import orm
    from ase.calculators.emt import EMT

    calcjobs = sorted(
        (node for node in workchain.called_descendants if isinstance(node, orm.CalcJobNode)),
        key=lambda node: node.ctime,
    )
    folders = [prepare_by_hand(calcjob, scratch) for calcjob in calcjobs]
    jobs = []
    for calcjob, folder in zip(calcjobs, folders, strict=True):
        script = calcjob.get_option('submit_script_filename')
        began = time.perf_counter()
        finished = subprocess.run(['bash', script], cwd=folder, env=environment, capture_output=True)
        seconds = time.perf_counter() - began
        if finished.returncode != 0:
            raise RuntimeError(f'{calcjob.process_label}<{calcjob.pk}> by hand: exit {finished.returncode}')
        jobs.append(
            {
                'process': f'{calcjob.process_label}<{calcjob.pk}>',
                'by_hand_s': seconds,
                'in_aiida_s': job_seconds_in_aiida(calcjob),
            }
        )
    structures = [
        *workchain.outputs.training_set.to_ase(),
        *(workchain.inputs.test_set.to_ase() if 'test_set' in workchain.inputs else []),
    ]
    began = time.perf_counter()
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = EMT()
        atoms.get_potential_energy()
        atoms.get_forces()
        atoms.get_stress()
    labels_s = time.perf_counter() - began
    return {'jobs': jobs, 'labels_s': labels_s, 'labelled': len(structures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', type=pathlib.Path, default=DEFAULT_CONFIG)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--output', default='cli')
    parser.add_argument(
        '--poll-interval',
        type=float,
        default=None,
        help="seconds between the CLI's polls of a running job (default: the plugin's own setting)",
    )
    args = parser.parse_args()

    aiida_path = pathlib.Path(tempfile.mkdtemp(prefix='aiida_pacemaker_bench_cli_'))
    os.environ['AIIDA_PATH'] = str(aiida_path)
    environment = dict(os.environ)
    scratch = aiida_path / 'by_hand'
    scratch.mkdir()
    from aiida import load_profile
    from aiida.manage.configuration import reset_config

    print(f'aiida-pacemaker run active-learning {args.config} vs by hand; AIIDA_PATH={aiida_path}')
    runs = []
    for repeat in range(args.repeats):
        profile = f'bench-cli-{repeat}'
        load_before = os.getloadavg()[0]
        presto_s = presto(profile, environment)
        if args.poll_interval is not None:
            set_poll_interval(profile, args.poll_interval, environment)
        cli_s = cli_run(profile, args.config.resolve(), environment, aiida_path / f'{profile}.log')
        reset_config()  # read the profile that `verdi presto` just wrote
        load_profile(profile, allow_switch=True)
        workchain = last_active_learning_run()
        assert workchain.is_finished_ok, (
            f'{workchain.process_label}<{workchain.pk}>: {workchain.exit_message}'
        )
        hand = by_hand(workchain, scratch, environment)
        hand_s = sum(job['by_hand_s'] for job in hand['jobs']) + hand['labels_s']
        jobs_in_aiida_s = sum(job['in_aiida_s'] for job in hand['jobs'])
        run = {
            'presto_s': presto_s,
            'cli_s': cli_s,
            'by_hand_s': hand_s,
            'ratio': cli_s / hand_s,
            'jobs_in_aiida_s': jobs_in_aiida_s,
            'jobs_by_hand_s': hand_s - hand['labels_s'],
            'rest_of_cli_s': cli_s - jobs_in_aiida_s,
            'cli_breakdown_s': where_the_time_goes(workchain, jobs_in_aiida_s, cli_s),
            'load': [load_before, os.getloadavg()[0]],
            **hand,
        }
        runs.append(run)
        print(
            f'repeat {repeat}: CLI {cli_s:.1f} s, by hand {hand_s:.1f} s (ratio {run["ratio"]:.2f}); '
            f'{len(hand["jobs"])} jobs: {jobs_in_aiida_s:.1f} s in AiiDA, {run["jobs_by_hand_s"]:.1f} s by hand; '
            f'EMT {hand["labels_s"]:.2f} s for {hand["labelled"]} structures; rest of the CLI '
            f'{run["rest_of_cli_s"]:.1f} s; presto {presto_s:.1f} s; load {run["load"]}'
        )
        print('  CLI seconds: ' + ', '.join(f'{k} {v:.1f}' for k, v in run['cli_breakdown_s'].items()))
        shutil.rmtree(scratch)
        scratch.mkdir()
        ratio = statistics.median(run['cli_s'] for run in runs) / statistics.median(
            run['by_hand_s'] for run in runs
        )
        result = {
            'machine': _common.machine(),
            'config': str(args.config),
            'poll_interval_s': args.poll_interval,
            'runs': runs,
            'ratio_of_medians': ratio,
        }
        path = _common.results_folder() / f'{args.output}.json'
        # written after every repeat: an interrupted run keeps the repeats it finished
        path.write_text(json.dumps(result, indent=1) + '\n')
    print(f'median CLI / median by hand: {ratio:.2f} (target <= 1.15)')
    print(f'written: {path}')


if __name__ == '__main__':
    sys.exit(main())
