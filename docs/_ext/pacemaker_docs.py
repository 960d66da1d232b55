"""Sphinx directives that render tables straight from aiida-pacemaker's code, so they cannot drift.

``exit-code-table``
    The exit codes of a process class, from its spec: status, label, message, and whether the code
    comes from aiida-core (the process type the class derives from) or from aiida-pacemaker.

``option-table``
    The options of a small parameter dict (`pace_activeset`, `pace_select`, exploration): a module-level
    dict of `aiida_pacemaker.calculations.options.Option`, with optional defaults.

``rendered-trainer-config``
    The pacemaker sections that `TrainerConfig` renders for the fields given as YAML in the
    directive's content.

``pacemaker-eval``
    The value of the Python expression in the content (after the ``import`` lines given with
    ``:setup:``), as a literal block: a string or a list of strings line by line, anything else
    pretty-printed. For examples whose numbers come from the code's defaults.

``protocol-table``
    The protocols of a workchain (argument: the protocol file's name, e.g. ``active_learning``) side
    by side: one row per (flattened) key, one column per protocol, the default first.

It also makes sphinx-click treat the command-line help as the plain text it is (see
`escape_click_help`).
"""

from __future__ import annotations

import importlib
import re
import typing as t

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


def _import(path: str) -> t.Any:
    module_name, _, attribute = path.rpartition('.')
    return getattr(importlib.import_module(module_name), attribute)


def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=['longtable'])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)

    def row_node(cells: list[nodes.Node | str]) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=str(cell))
            row += entry
        return row

    thead = nodes.thead()
    thead += row_node(list(header))
    group += thead
    tbody = nodes.tbody()
    for cells in rows:
        tbody += row_node(cells)
    group += tbody
    return table


def _literal(text: str) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    paragraph += nodes.literal(text=text)
    return paragraph


class ExitCodeTable(SphinxDirective):
    """``.. exit-code-table:: package.module.ProcessClass``"""

    required_arguments = 1
    option_spec = {'plugin-only': directives.flag}

    def run(self) -> list[nodes.Node]:
        process = _import(self.arguments[0])
        core = next(
            (
                klass
                for klass in process.__mro__[1:]
                if klass.__module__.startswith('aiida.') and hasattr(klass, 'spec')
            ),
            None,
        )
        core_labels = set(core.spec().exit_codes) if core is not None else set()
        rows = []
        for label, code in sorted(process.spec().exit_codes.items(), key=lambda item: item[1].status):
            origin = f'aiida-core ({core.__name__})' if label in core_labels else 'aiida-pacemaker'
            if 'plugin-only' in self.options and label in core_labels:
                continue
            rows.append([_literal(str(code.status)), _literal(label), _literal(code.message), origin])
        return [_table(['status', 'label', 'message', 'defined by'], rows, [8, 30, 60, 20])]


class OptionTable(SphinxDirective):
    """``.. option-table:: package.module.OPTIONS`` with an optional ``:defaults: package.module.DEFAULTS``"""

    required_arguments = 1
    option_spec = {'defaults': directives.unchanged}

    def run(self) -> list[nodes.Node]:
        specs = _import(self.arguments[0])
        defaults = _import(self.options['defaults']) if 'defaults' in self.options else {}
        from aiida_pacemaker.schema import expected

        rows = []
        for key, option in specs.items():
            flag = _literal(option.flag) if option.flag else 'none (used by the plugin)'
            if key in defaults:
                default = _literal(repr(defaults[key]))
            else:
                default = "(the tool's)" if option.flag else '(see the text)'
            rows.append([_literal(key), flag, expected(option.check), default])
        return [_table(['key', 'command-line flag', 'accepted values', 'default'], rows, [20, 16, 30, 16])]


class RenderedTrainerConfig(SphinxDirective):
    """``.. rendered-trainer-config::`` with the TrainerConfig fields as YAML content."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        import yaml

        from aiida_pacemaker.config import TrainerConfig

        fields = yaml.safe_load('\n'.join(self.content)) or {}
        rendered = TrainerConfig(**fields).to_pacemaker_parameters()
        text = yaml.safe_dump(rendered, sort_keys=False, default_flow_style=None)
        block = nodes.literal_block(text, text, language='yaml')
        return [block]


_RST_INLINE = re.compile(r'([*|])')


def escape_click_help(app: t.Any, ctx: t.Any, lines: list[str]) -> None:
    """Escape ``*`` and ``|`` in click help texts, which sphinx-click hands to the reST parser.

    The help of a command is written for a terminal: ``*.pckl.gzip`` and ``max |force|`` are plain
    text there, but emphasis and substitution markup in reST. Directive lines are left alone.
    """
    for index, line in enumerate(lines):
        if not line.lstrip().startswith('..'):
            lines[index] = _RST_INLINE.sub(r'\\\1', line)


class PacemakerEval(SphinxDirective):
    """``.. pacemaker-eval::`` with ``:setup:`` statements and an expression as content."""

    has_content = True
    option_spec = {'setup': directives.unchanged, 'language': directives.unchanged}

    def run(self) -> list[nodes.Node]:
        import pprint

        namespace: dict[str, t.Any] = {}
        exec(self.options.get('setup', ''), namespace)
        value = eval('\n'.join(self.content), namespace)
        if isinstance(value, str):
            text = value
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            text = '\n'.join(value)
        else:
            text = pprint.pformat(value, sort_dicts=False)
        return [nodes.literal_block(text, text, language=self.options.get('language', 'text'))]


class ProtocolTable(SphinxDirective):
    """``.. protocol-table:: active_learning``"""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from aiida_pacemaker.workflows.protocols import get_protocol, list_protocols

        names = list(list_protocols(self.arguments[0]))

        def flatten(value: t.Any, prefix: str = '') -> dict[str, t.Any]:
            if isinstance(value, dict) and value:
                flat: dict[str, t.Any] = {}
                for key, item in value.items():
                    flat.update(flatten(item, f'{prefix}.{key}' if prefix else str(key)))
                return flat
            return {prefix: value}

        columns = {name: flatten(get_protocol(name, name=self.arguments[0])) for name in names}
        keys: list[str] = []
        for flat in columns.values():
            keys += [key for key in flat if key not in keys]
        rows = [[_literal(key)] + [str(columns[name].get(key, '')) for name in names] for key in keys]
        descriptions = list_protocols(self.arguments[0])
        rows.insert(0, ['description'] + [descriptions[name] for name in names])
        return [_table(['key', *names], rows, [30] + [24] * len(names))]


def setup(app: t.Any) -> dict[str, t.Any]:
    app.add_directive('protocol-table', ProtocolTable)
    app.add_directive('pacemaker-eval', PacemakerEval)
    for event in ('description', 'options', 'arguments', 'epilog'):
        app.connect(f'sphinx-click-process-{event}', escape_click_help)
    app.add_directive('exit-code-table', ExitCodeTable)
    app.add_directive('option-table', OptionTable)
    app.add_directive('rendered-trainer-config', RenderedTrainerConfig)
    return {'version': '1', 'parallel_read_safe': True, 'parallel_write_safe': True}
