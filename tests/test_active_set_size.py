"""`TrainerConfig.active_set_size`: atomic environments per element, read off the rendered basis.

The linear active set of pace_activeset has one row per basis function of each element, the full one
``ndensity`` times as many; the size picks between them (`config.active_set_full`), whether the basis
comes from the shortcut key or from a `functions` block.
"""

from __future__ import annotations

import copy

import pytest
from aiida import orm

from aiida_pacemaker.config import ConfigError, TrainerConfig, active_set_full, active_set_rows
from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

from .conftest import FAST_POTENTIAL


def rendered(elements: list[str], **basis: object) -> dict:
    """The `potential` section that TrainerConfig renders for FAST_POTENTIAL's basis on ``elements``."""
    config = copy.deepcopy({k: v for k, v in FAST_POTENTIAL.items() if k != 'elements'})
    config.update(elements=elements, **basis)
    return TrainerConfig(ace_basis_config=config).to_pacemaker_parameters()['potential']


@pytest.mark.pacemaker
@pytest.mark.parametrize(
    ('elements', 'embeddings'),
    [
        (['Cu'], None),
        (['Al', 'Cu'], None),
        (
            ['Al', 'Cu'],
            {
                'ALL': {'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1, 1], 'ndensity': 1},
                'Cu': {
                    'npot': 'FinnisSinclairShiftedScaled',
                    'fs_parameters': [1, 1, 1, 0.5, 1, 2],
                    'ndensity': 3,
                },
            },
        ),
    ],
    ids=['Cu', 'AlCu', 'AlCu-own-ndensity'],
)
def test_rows_are_pace_activeset_s(elements, embeddings):
    """The rows of the linear and the full active set, as pace_activeset counts them from the built basis."""
    from pyace import ACEBBasisSet
    from pyace.activelearning import compute_number_of_functions
    from pyace.basisextension import construct_bbasisconfiguration

    potential = rendered(elements, **({'embeddings': embeddings} if embeddings else {}))
    basis = ACEBBasisSet(construct_bbasisconfiguration(potential))
    functions = compute_number_of_functions(basis)  # pyace/cli/pace_activeset.py: rows of the linear set
    ndensity = [basis.map_embedding_specifications[st].ndensity for st in range(len(functions))]
    expected = {
        basis.elements_name[st]: (functions[st], functions[st] * ndensity[st]) for st in range(len(functions))
    }
    assert active_set_rows(potential) == expected


def test_rows_and_choice():
    potential = rendered(['Al', 'Cu'], embeddings={'ALL': {'ndensity': 2}, 'Al': {'ndensity': 4}})
    assert active_set_rows(potential) == {'Al': (12, 48), 'Cu': (12, 24)}
    assert [active_set_full(size, potential) for size in (1, 12, 13, 24, 500)] == [
        False,
        False,
        True,
        True,
        True,  # more than the full set holds: the full set, the largest there is
    ]


def test_size_from_a_functions_block():
    """A `functions` block that gives the number of functions counts like the shortcut key."""
    block = {
        'number_of_functions_per_element': 40,
        'ALL': {'nradmax_by_orders': [6, 3], 'lmax_by_orders': [0, 2]},
    }
    config = TrainerConfig(ace_basis_config={'elements': ['Cu'], 'functions': block}, active_set_size=30)
    potential = config.to_pacemaker_parameters()['potential']
    assert active_set_rows(potential) == {'Cu': (40, 80)}  # ndensity 2 of the default embedding
    assert active_set_full(30, potential) is False
    assert active_set_full(41, potential) is True


def test_size_needs_the_number_of_functions():
    block = {'ALL': {'nradmax_by_orders': [6, 3], 'lmax_by_orders': [0, 2]}}
    with pytest.raises(ConfigError, match=r'`active_set_size` needs `number_of_functions_per_element`'):
        TrainerConfig(ace_basis_config={'elements': ['Cu'], 'functions': block}, active_set_size=30)
    TrainerConfig(ace_basis_config={'elements': ['Cu'], 'functions': block})  # fine without a size


@pytest.fixture
def builder_inputs(aiida_profile, aiida_localhost, emt_structures):
    codes = {
        name: orm.InstalledCode(computer=aiida_localhost, filepath_executable=f'/opt/pace/bin/{name}').store()
        for name in ('pacemaker', 'pace_activeset', 'pace_select')
    }
    training_set = TrainingSetData.from_ase(emt_structures(4)).store()
    pool = {'p': orm.StructureData(ase=emt_structures(1, seed=3)[0])}
    return {'codes': codes, 'training_set': training_set, 'pool': pool, 'protocol': 'fast'}


@pytest.mark.parametrize(
    ('trainer', 'full'),
    [
        ({'active_set_size': 12}, False),  # fast: 12 functions per element
        ({'active_set_size': 13}, True),
        ({'active_set_size': 30, 'ace_basis_config': {'number_of_functions_per_element': 40}}, False),
        (  # what pacemaker gets counts: the protocol's shortcut key (12) overrides the block's 40
            {
                'active_set_size': 30,
                'ace_basis_config': {
                    'functions': {
                        'number_of_functions_per_element': 40,
                        'ALL': {'nradmax_by_orders': [6, 3, 2], 'lmax_by_orders': [0, 2, 1]},
                    }
                },
            },
            True,
        ),
        ({'active_set_size': None}, None),  # pace_activeset's default
    ],
    ids=['12-linear', '13-full', '40-functions', 'block-under-shortcut', 'none'],
)
def test_builder_sets_full_from_the_rendered_basis(builder_inputs, trainer, full):
    codes = builder_inputs.pop('codes')
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        codes, **builder_inputs, overrides={'trainer': trainer}
    )
    assert builder.activeset.parameters.get_dict().get('full') == full
    if full is not None:  # the number of functions that pacemaker gets decides
        functions = builder.train.train.parameters['potential']['functions'][
            'number_of_functions_per_element'
        ]
        assert full == (trainer['active_set_size'] > functions)


def test_builder_keeps_an_explicit_full(builder_inputs):
    codes = builder_inputs.pop('codes')
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        codes, **builder_inputs, overrides={'trainer': {'active_set_size': 500}, 'activeset': {'full': False}}
    )
    assert builder.activeset.parameters['full'] is False
