"""Protocols: named, documented sets of inputs (``fast``, ``balanced``, ``precise``).

Overrides are deep-merged into the protocol (dicts merge key by key, everything else is
replaced) and every key is checked: an unknown key is refused with the closest valid one,
never silently dropped.
"""

from __future__ import annotations

import copy
import typing as t
from importlib.resources import files

import yaml

from aiida_pacemaker.tools.suggest import did_you_mean

__all__ = ('ProtocolError', 'deep_merge', 'get_protocol', 'list_protocols')


class ProtocolError(ValueError):
    """Raised for an unknown protocol or an unknown override key."""


def _load(name: str) -> dict[str, t.Any]:
    return yaml.safe_load(files(__name__).joinpath(f'{name}.yaml').read_text(encoding='utf8'))


def list_protocols(name: str = 'active_learning') -> dict[str, str]:
    """Names and descriptions of the protocols of ``name``, the default first."""
    document = _load(name)
    default = document['default_protocol']
    ordered = [default, *[p for p in document['protocols'] if p != default]]
    return {p: document['protocols'][p]['description'] for p in ordered}


def deep_merge(base: dict[str, t.Any], overrides: dict[str, t.Any], path: str = '') -> dict[str, t.Any]:
    """Return ``base`` with ``overrides`` merged in; refuse keys that ``base`` does not have.

    Sections whose content is free-form (pacemaker options) are checked later by their own
    validators; here a key is refused only where ``base`` is a closed mapping.
    """
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        where = f'{path}.{key}' if path else key
        if key not in merged and path.count('.') < 1 and path not in _OPEN_SECTIONS:
            raise ProtocolError(f'unknown override `{where}`; {did_you_mean(key, merged)}')
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value, where)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


#: sections whose keys belong to another validator (TrainerConfig, the CalcJobs' options)
_OPEN_SECTIONS = ('trainer.ace_basis_config', 'trainer.fitting_params', 'trainer.baseline_parameters',
                  'activeset', 'select', 'explore')  # fmt: skip


def get_protocol(
    protocol: str | None = None, overrides: dict[str, t.Any] | None = None, name: str = 'active_learning'
) -> dict[str, t.Any]:
    """Return the inputs of ``protocol`` (the default when None) with ``overrides`` deep-merged."""
    document = _load(name)
    protocol = protocol or document['default_protocol']
    if protocol not in document['protocols']:
        raise ProtocolError(
            f'unknown protocol `{protocol}`; choose one of {", ".join(document["protocols"])}'
        )
    inputs = copy.deepcopy(document['protocols'][protocol])
    inputs.pop('description')
    return deep_merge(inputs, overrides or {})
