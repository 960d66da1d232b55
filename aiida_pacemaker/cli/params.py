"""Click parameter types of the command line: aiida's own, for the plugin's node types."""

from __future__ import annotations

import typing as t

from aiida import orm
from aiida.cmdline.params import types
from aiida.cmdline.utils import echo

__all__ = ('ACTIVE_LEARNING', 'ANY_NODE', 'PACEMAKER_DATA', 'POTENTIAL', 'TRAINING_SET', 'require')

_TRAINING_SET = 'aiida.data:pacemaker.training_set'
_POTENTIAL = 'aiida.data:pacemaker.potential'
_ACTIVE_SET = 'aiida.data:pacemaker.active_set'

#: a TrainingSetData by PK, UUID or label
TRAINING_SET = types.DataParamType(sub_classes=(_TRAINING_SET,))
#: a PacePotentialData
POTENTIAL = types.DataParamType(sub_classes=(_POTENTIAL,))
#: any of the plugin's data types
PACEMAKER_DATA = types.DataParamType(sub_classes=(_TRAINING_SET, _POTENTIAL, _ACTIVE_SET))
#: any node (the command checks its type with :func:`require`)
ANY_NODE = types.NodeParamType()
#: a workflow (the command checks that it is an active-learning run)
ACTIVE_LEARNING = types.WorkflowParamType()

_WORKCHAIN = 'PaceActiveLearningWorkChain'


def require(node: orm.Node, *classes: type[orm.Node]) -> t.Any:
    """``node`` if it is one of ``classes``; else exit with one line that says what it is."""
    if not isinstance(node, classes):
        wanted = ' or '.join(cls.__name__ for cls in classes)
        echo.echo_critical(f'node {node.pk} is a {type(node).__name__}, not a {wanted}')
    return node


def require_active_learning(node: orm.Node) -> orm.WorkflowNode:
    """``node`` if it is a `PaceActiveLearningWorkChain`; else exit with one line."""
    label = getattr(node, 'process_label', None)
    if label != _WORKCHAIN:
        echo.echo_critical(f'node {node.pk} is a {label or type(node).__name__}, not a {_WORKCHAIN}')
    return t.cast(orm.WorkflowNode, node)
