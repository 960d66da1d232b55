"""YAML as the plugin reads it: ``safe_load`` only, and a key given twice is an error, not a silent overwrite."""

from __future__ import annotations

import typing as t

import yaml

__all__ = ('DuplicateKeyError', 'SafeLoader', 'compose', 'load_yaml', 'safe_load')

#: PyYAML's safe loader, in C (libyaml) where PyYAML has it: about 10 times as fast on a potential's
#: ``.yaml`` or ``.yace`` (measured: 2.5 against 22 ms on a 3 kB file; a production potential is 100x larger)
SafeLoader: t.Any = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice."""


class _StrictLoader(SafeLoader):  # type: ignore[misc]  # the C or the Python loader, chosen at import
    """The safe loader, refusing duplicate keys (PyYAML keeps the last one without a word)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[t.Any, t.Any]:
    seen: dict[t.Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise DuplicateKeyError(
                f'the key `{key}` is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1}): '
                'keep one of them'
            )
        seen[key] = key_node.start_mark.line
    return t.cast(dict[t.Any, t.Any], loader.construct_mapping(node, deep=deep))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def safe_load(content: str | bytes) -> t.Any:
    """``yaml.safe_load`` with :data:`SafeLoader` (plain data only: no Python objects)."""
    return yaml.load(content, Loader=SafeLoader)


def compose(content: str | bytes) -> yaml.Node | None:
    """The node tree of ``content`` (nothing constructed; None for an empty document), parsed by
    :data:`SafeLoader`."""
    return yaml.compose(content, Loader=SafeLoader)


def load_yaml(text: str) -> t.Any:
    """Parse YAML ``text`` safely (no Python objects), refusing duplicate keys.

    :raises yaml.YAMLError: (or :class:`DuplicateKeyError`) with the line of the problem.
    """
    return yaml.load(text, Loader=_StrictLoader)
