"""The documentation builds with warnings as errors (what `make docs` runs)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.docs
def test_docs_build_clean(tmp_path):
    pytest.importorskip('sphinx')
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'sphinx',
            '-W',
            '--keep-going',
            '-q',
            '-b',
            'html',
            'docs',
            str(tmp_path / 'html'),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (tmp_path / 'html' / 'index.html').is_file()
    assert (tmp_path / 'html' / 'reference' / 'cli.html').is_file()
