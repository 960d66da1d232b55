"""The parsers of pace_info and pace_timing on stored output of the real tools (python-ace 0.4.0rc1):
a Cu potential fitted by the tests, and an unfitted Cu-Au basis with ZBL on every bond."""

from __future__ import annotations

import pathlib

import pytest

from aiida_pacemaker.utilities.tool_output import parse_info_text, parse_timing_text

OUTPUTS = pathlib.Path(__file__).parent / 'outputs'


def read(name: str) -> str:
    return (OUTPUTS / name).read_text()


def test_info_of_a_fitted_single_element_potential():
    info = parse_info_text(read('pace_info_Cu.txt'))
    assert info['elements'] == ['Cu']
    assert info['number_of_functions'] == 12
    assert info['number_of_functions_per_element'] == {'Cu': 12}
    assert info['cutoff'] == 5.0
    assert info['embeddings'] == {
        'Cu': {'ndensity': 2, 'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1.0, 1.0, 1.0, 0.5]}
    }
    assert info['bonds'] == {
        'Cu-Cu': {
            'radbase': 'SBessel',
            'rcut': 5.0,
            'r_in': 0.0,
            'delta_in': 0.0,
            'prehc': 0.0,
            'lambdahc': 0.0,
            'inner_cutoff_type': 'distance',
        }
    }
    assert info['functions'] == {
        'Cu': {'orders': [1, 2, 3], 'nradmax': [6, 3, 1], 'lmax': [0, 1, 0], 'nfuncs': [6, 5, 1]}
    }


def test_info_of_a_binary_with_zbl():
    info = parse_info_text(read('pace_info_CuAu_zbl.txt'))
    assert info['elements'] == ['Au', 'Cu']
    assert info['number_of_functions'] == 20
    assert info['number_of_functions_per_element'] == {'Au': 10, 'Cu': 10}
    assert info['cutoff'] == 5.5
    assert sorted(info['bonds']) == ['Au-Au', 'Au-Cu', 'Cu-Au', 'Cu-Cu']
    assert {bond['inner_cutoff_type'] for bond in info['bonds'].values()} == {'zbl'}
    assert info['bonds']['Au-Cu']['rcut'] == 5.5 and info['bonds']['Cu-Cu']['rcut'] == 5.0
    assert info['bonds']['Cu-Au']['r_in'] == 1.0 and info['bonds']['Cu-Au']['delta_in'] == 0.5
    assert info['bonds']['Cu-Cu']['prehc'] == 100.0 and info['bonds']['Cu-Cu']['lambdahc'] == 5.0
    assert info['functions']['Au'] == {'orders': [1, 2], 'nradmax': [4, 1], 'lmax': [0, 0], 'nfuncs': [7, 3]}


def test_timing_with_two_prototypes():
    timing = parse_timing_text(read('pace_timing_Cu.txt'))
    assert timing['elements'] == ['Cu']
    assert timing['functions_per_element'] == {'Cu': {'order_1': 6, 'higher_orders': 6}}
    assert timing['cutoff'] == 5.0
    assert timing['num_structures'] == 4
    assert timing['per_structure_us'] == [16.0, 21.0, 30.0, 12.0]
    assert timing['prototypes'] == {
        'bcc': {
            'num_atoms': 16.0,
            'neighbours_per_atom': 14.0,
            'neighbours_per_atom_std': 0.0,
            'time_per_atom_us': 16.0,
            'time_per_atom_std_us': 6.0,
        },
        'fcc': {
            'num_atoms': 32.0,
            'neighbours_per_atom': 29.97,
            'neighbours_per_atom_std': 16.13,
            'time_per_atom_us': 23.0,
            'time_per_atom_std_us': 10.0,
        },
    }
    assert timing['time_per_atom_us'] == 20.0 and timing['time_per_atom_std_us'] == 5.0


def test_timing_with_one_prototype_has_no_spread():
    """pace_timing prints `nan` for the spread of one prototype: None in the Dict (JSON has no NaN)."""
    timing = parse_timing_text(read('pace_timing_CuAu.txt'))
    assert timing['elements'] == ['Au', 'Cu']
    assert timing['num_structures'] == 2
    assert timing['per_structure_us'] == [7.0, 11.0]
    assert list(timing['prototypes']) == ['fcc']
    assert timing['time_per_atom_us'] == 9.0
    assert timing['time_per_atom_std_us'] is None


@pytest.mark.parametrize(
    ('parser', 'text', 'missing'),
    [
        (parse_info_text, '', 'Available element'),
        (parse_info_text, 'Available element(s): Cu\nTotal number of functions:  12\n', 'Bonds'),
        (parse_timing_text, 'Available element(s): Cu\nRunning tests (4 strctures):\n', 'Overall timing'),
    ],
)
def test_output_that_is_not_the_tools_is_refused(parser, text, missing):
    with pytest.raises(ValueError, match=missing):
        parser(text)


def test_info_missing_a_functions_block_is_refused():
    text = read('pace_info_CuAu_zbl.txt')
    text = text[: text.index('Cu\norder')]
    with pytest.raises(ValueError, match=r'Functions \(per order\)` block for Cu'):
        parse_info_text(text)
