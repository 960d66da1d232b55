"""The README's Python snippets run as written (in one session, on the test profile)."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'


@pytest.mark.pacemaker
def test_readme_snippets(aiida_profile, aiida_localhost, monkeypatch):
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    code = '\n'.join(blocks).replace('load_profile()', 'pass  # the test profile is loaded')
    aiida_localhost.set_minimum_job_poll_interval(0.0)
    namespace: dict = {}
    exec(compile(code, str(README), 'exec'), namespace)
    assert namespace['results']['potential'].elements == ['Cu']
    assert namespace['results']['learning_curve'].get_list()
    assert namespace['selection']['report']['num_candidates'] == 30
