"""Stand-alone scripts copied into a job's folder and run by the pacemaker environment's Python.

They import only what pacemaker's environment has (pyace, ase, numpy, pandas), never
``aiida`` or ``aiida_pacemaker``, so they run on any computer where pacemaker is installed.
"""

from importlib.resources import files


def script_text(name: str) -> str:
    """Return the source of the script ``name`` (e.g. ``'explore.py'``)."""
    return files(__name__).joinpath(name).read_text(encoding='utf8')
