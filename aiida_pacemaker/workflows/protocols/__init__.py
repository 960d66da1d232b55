"""Protocols: named, documented sets of inputs (``fast``, ``balanced``, ``precise``), one loader for all.

Each workchain has one YAML file here (``train.yaml``, ``active_learning.yaml``) holding
``default_inputs`` (keys that mirror the workchain's inputs), ``default_protocol`` and, per protocol,
a ``description`` and only what that protocol changes (the pattern of aiida-quantumespresso's
``ProtocolMixin``). A workchain that inherits :class:`ProtocolMixin` names its file and gets
``get_available_protocols``, ``get_default_protocol`` and ``get_protocol_inputs``; its own
``get_builder_from_protocol`` turns those inputs into a builder.

Overrides are deep-merged (dicts merge key by key, everything else is replaced) and every key is
checked: an unknown key is refused with the closest valid one, never silently dropped. Sections whose
keys belong to another validator (pacemaker's options, the CalcJobs' parameters) are open.

A selection ``strategy`` given in the overrides replaces the protocol's strategy together with the
options that only the protocol's strategy has (``pacemaker.select``'s ``HYBRID_OPTIONS``): ``select: {strategy: maxvol}``
over the default ``hybrid`` drops the protocol's ``tail_fraction`` and ``coverage``, which
``pacemaker.select`` refuses for any other strategy. Such an option given in the same overrides is kept
(and refused by the calculation's validator with its reason).
"""

from __future__ import annotations

import copy
import typing as t
from importlib.resources import files

import yaml

from aiida_pacemaker.tools.suggest import did_you_mean

__all__ = (
    'ProtocolError',
    'ProtocolMixin',
    'available_protocols',
    'deep_merge',
    'get_protocol',
    'list_protocols',
    'protocol_inputs',
)


class ProtocolError(ValueError):
    """Raised for an unknown protocol or an unknown override key."""


#: sections whose keys belong to another validator (TrainerConfig, the CalcJobs' options)
OPEN_SECTIONS = ('trainer.ace_basis_config', 'trainer.fitting_params', 'trainer.baseline_parameters',
                 'activeset', 'select', 'explore')  # fmt: skip


def load_protocol_file(name: str) -> dict[str, t.Any]:
    """The parsed ``{name}.yaml`` of this package."""
    return t.cast(
        dict[str, t.Any], yaml.safe_load(files(__name__).joinpath(f'{name}.yaml').read_text(encoding='utf8'))
    )


def deep_merge(
    base: dict[str, t.Any],
    overrides: dict[str, t.Any],
    path: str = '',
    open_sections: t.Sequence[str] = OPEN_SECTIONS,
) -> dict[str, t.Any]:
    """Return ``base`` with ``overrides`` merged in; refuse keys that ``base`` does not have (except in
    ``open_sections``, dotted paths whose content another validator checks)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        where = f'{path}.{key}' if path else key
        if key not in merged and path not in open_sections:
            raise ProtocolError(f'unknown override `{where}`; {did_you_mean(key, merged)}')
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value, where, open_sections)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def available_protocols(document: dict[str, t.Any]) -> dict[str, str]:
    """Names and descriptions of the protocols of a parsed protocol file, the default first."""
    default = document['default_protocol']
    ordered = [default, *[name for name in document['protocols'] if name != default]]
    return {name: document['protocols'][name]['description'] for name in ordered}


def protocol_inputs(
    document: dict[str, t.Any], protocol: str | None = None, overrides: dict[str, t.Any] | None = None
) -> dict[str, t.Any]:
    """``default_inputs`` of a parsed protocol file, with what ``protocol`` (the default when None)
    changes, then ``overrides``."""
    protocol = protocol or document['default_protocol']
    if protocol not in document['protocols']:
        raise ProtocolError(
            f'unknown protocol `{protocol}`; choose one of {", ".join(document["protocols"])}'
        )
    changes = {key: value for key, value in document['protocols'][protocol].items() if key != 'description'}
    base = deep_merge(document['default_inputs'], changes)
    overrides = overrides or {}
    select = overrides.get('select')
    if isinstance(select, dict) and isinstance(base.get('select'), dict):
        base['select'] = _without_options_of_replaced_strategy(base['select'], select)
    return deep_merge(base, overrides)


def _without_options_of_replaced_strategy(
    protocol: dict[str, t.Any], override: dict[str, t.Any]
) -> dict[str, t.Any]:
    """The protocol's ``select`` section less the options of its strategy, if ``override`` names another."""
    # imported here: listing the protocols needs no calculation
    from aiida_pacemaker.calculations.select import HYBRID_OPTIONS

    if protocol.get('strategy') != 'hybrid' or override.get('strategy', 'hybrid') == 'hybrid':
        return protocol
    return {key: value for key, value in protocol.items() if key not in HYBRID_OPTIONS}


class ProtocolMixin:
    """Protocols for a workchain: set ``_protocol_file`` to the name of its YAML file in this package."""

    _protocol_file: t.ClassVar[str]

    @classmethod
    def get_default_protocol(cls) -> str:
        """The name of the default protocol."""
        return t.cast(str, load_protocol_file(cls._protocol_file)['default_protocol'])

    @classmethod
    def get_available_protocols(cls) -> dict[str, str]:
        """Names and descriptions of the protocols, the default first."""
        return available_protocols(load_protocol_file(cls._protocol_file))

    @classmethod
    def get_protocol_inputs(
        cls, protocol: str | None = None, overrides: dict[str, t.Any] | None = None
    ) -> dict[str, t.Any]:
        """``default_inputs``, with what ``protocol`` (the default when None) changes, then ``overrides``."""
        return protocol_inputs(load_protocol_file(cls._protocol_file), protocol, overrides)


def list_protocols(name: str = 'active_learning') -> dict[str, str]:
    """Names and descriptions of the protocols of the workchain whose protocol file is ``name``."""
    return available_protocols(load_protocol_file(name))


def get_protocol(
    protocol: str | None = None, overrides: dict[str, t.Any] | None = None, name: str = 'active_learning'
) -> dict[str, t.Any]:
    """The inputs of ``protocol`` with ``overrides`` merged in, for the protocol file ``name``.

    For ``active_learning`` the result also holds ``trainer``: the train protocol of the same name, with
    the ``trainer`` key of ``overrides`` merged in (what the active-learning builder fits with).
    """
    overrides = dict(overrides or {})
    trainer = overrides.pop('trainer', None) if name == 'active_learning' else None
    inputs = protocol_inputs(load_protocol_file(name), protocol, overrides)
    if name == 'active_learning':
        train = protocol_inputs(
            load_protocol_file('train'), protocol, {'trainer': trainer} if trainer else None
        )
        inputs = {'trainer': train['trainer'], **inputs}
    return inputs
