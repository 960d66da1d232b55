"""Sphinx configuration of the aiida-pacemaker documentation.

Build with ``make docs`` (``sphinx-build -W -b html docs docs/_build/html``): warnings are errors.
The build needs no network, no AiiDA profile of yours and no pacemaker run: the process
specifications are read from the classes, with a throw-away in-memory AiiDA profile.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import sys
import tempfile
import warnings

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / '_ext'))
sys.path.insert(0, str(HERE.parent))  # the package, also when it is not installed

# Never read or write the user's AiiDA configuration (`make` exports AIIDA_PATH=.aiida for the demo):
# the build gets its own empty configuration folder and a temporary in-memory profile, loaded before
# `aiida.sphinxext` calls `load_profile()` (which would otherwise need a configured default profile).
_TEMPORARY = tempfile.mkdtemp(prefix='aiida_pacemaker_docs_')
atexit.register(shutil.rmtree, _TEMPORARY, ignore_errors=True)
os.makedirs(os.path.join(_TEMPORARY, 'config', '.aiida'))  # made here: no "creating folder" notice
os.environ['AIIDA_PATH'] = os.path.join(_TEMPORARY, 'config')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from aiida.manage.configuration import load_profile  # noqa: E402
from aiida.storage.sqlite_temp import SqliteTempBackend  # noqa: E402

load_profile(
    SqliteTempBackend.create_profile('docs', filepath=os.path.join(_TEMPORARY, 'repository')),
    allow_switch=True,
)

# autodoc walks the class attributes of the Data types, among them aiida-core's own deprecated ones
# (`objects`, `Model`), and each access prints an AiidaDeprecationWarning that says nothing about
# these docs. Only that category is silenced; Sphinx warnings still fail the build.
from aiida.common.warnings import AiidaDeprecationWarning  # noqa: E402

import aiida_pacemaker  # noqa: E402

warnings.filterwarnings('ignore', category=AiidaDeprecationWarning)

# -- project ---------------------------------------------------------------------------------------
project = 'aiida-pacemaker'
author = 'The aiida-pacemaker developers'
copyright = 'the aiida-pacemaker developers'
version = release = aiida_pacemaker.__version__

# -- extensions ------------------------------------------------------------------------------------
extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx_click',
    'aiida.sphinxext',  # directives aiida-calcjob, aiida-workchain, aiida-process (process specs)
    'pacemaker_docs',  # docs/_ext: exit-code and option tables generated from the code
]

myst_enable_extensions = ['colon_fence', 'deflist']
myst_heading_anchors = 3
source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']

# Cross-references: only what resolves is linked. The docstrings name AiiDA, ASE and NumPy types
# that this build cannot resolve without intersphinx (no network), so no nitpicking.
nitpicky = False
intersphinx_mapping: dict = {}
# No `default_role`: aiida.sphinxext renders port help with plain docutils (no Sphinx environment),
# where a Sphinx cross-reference role as default role would crash on every `backticked` word.

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_typehints_format = 'short'
autodoc_default_options = {'show-inheritance': False}
# the plugin's modules import these lazily or only for pacemaker-side scripts; never needed to document
autodoc_mock_imports = ['pyace', 'tensorpotential', 'tensorflow']

# -- HTML ------------------------------------------------------------------------------------------
try:
    import furo  # noqa: F401

    html_theme = 'furo'
except ImportError:  # the `docs` extra installs furo; alabaster comes with Sphinx
    html_theme = 'alabaster'
html_title = f'aiida-pacemaker {release}'
html_static_path: list[str] = []
html_show_sourcelink = False


# -- repairs of docstrings that do not parse as reST ---------------------------------------------------


def _repair_training_set_table(app, what, name, obj, options, lines):
    """Widen the first column of the storage-format table of `aiida_pacemaker.data.training_set`.

    In that module docstring the first column's border is 13 characters wide but ````has_stress````
    takes 14, which docutils rejects as a malformed table (and drops). The repair turns the border
    ``=============  `` (13 + 2 spaces) into ``============== `` (14 + 1): the columns stay where the
    rows put them. It does nothing once the docstring itself has the wider border.
    """
    if what == 'module' and name == 'aiida_pacemaker.data.training_set':
        for index, line in enumerate(lines):
            if line.startswith('=' * 13 + '  ='):
                lines[index] = '=' * 14 + ' ' + line[15:]


def setup(app):
    app.connect('autodoc-process-docstring', _repair_training_set_table)
