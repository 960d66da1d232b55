"""Parsers of what ``pace_info`` and ``pace_timing`` print (python-ace 0.4), as plain dictionaries.

Pure functions of the text, so they are tested on stored output of the real tools. Each raises
``ValueError`` naming what is missing when the text is not what the tool prints; the calcfunctions
that call them turn that into an exit code.
"""

from __future__ import annotations

import json
import math
import re
import typing as t

__all__ = ('parse_info_text', 'parse_timing_text')

_ELEMENT = r'[A-Z][a-z]?'
_NUMBER = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf'
_BOND = re.compile(
    rf'^\s*({_ELEMENT})\s*-\s*({_ELEMENT})\s+(\S+)\s+({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})'
    rf'\s+({_NUMBER})\s+(\S+)\s*$'
)
_PROTOTYPE = re.compile(
    rf'^(\S+)\s+({_NUMBER})\s+({_NUMBER})\s*\(\+/-\s*({_NUMBER})\)\s+({_NUMBER})\s*\(\+/-\s*({_NUMBER})\)\s*$'
)
_OVERALL = re.compile(rf'Overall timing \(mcs/atom\):\s*({_NUMBER})\s*\(\+/-\s*({_NUMBER})\)')
_PER_STRUCTURE = re.compile(rf'(\d+)/(\d+):\s*({_NUMBER})\s*mcs/atom')


def _number(text: str) -> float | None:
    """``text`` as a float; None for ``nan`` (the tools print it for the spread of a single value)."""
    value = float(text)
    return None if math.isnan(value) else value


def _elements(text: str) -> list[str]:
    match = re.search(r'Available element\(s\):\s*(.*)', text)
    if not match or not match.group(1).split():
        raise ValueError('no `Available element(s):` line')
    return match.group(1).split()


def _cutoff(text: str) -> float:
    match = re.search(rf'Maximum cutoff:\s*({_NUMBER})\s*Ang', text)
    if not match:
        raise ValueError('no `Maximum cutoff:` line')
    return float(match.group(1))


def _parameters(text: str) -> t.Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


def parse_info_text(text: str) -> dict[str, t.Any]:
    """Parse the output of ``pace_info POTENTIAL.yaml`` (one potential).

    Returns ``elements``, ``number_of_functions`` (total), ``number_of_functions_per_element``,
    ``cutoff`` (largest, Å), ``embeddings`` (per element: ``ndensity``, ``npot``, ``fs_parameters``),
    ``bonds`` (per pair ``A-B``: ``radbase``, ``rcut``, ``r_in``, ``delta_in`` in Å, ``prehc``,
    ``lambdahc``, ``inner_cutoff_type``: ``zbl`` where a core repulsion is set) and ``functions`` (per
    element: ``orders``, and per order ``nradmax``, ``lmax``, ``nfuncs``).

    :raises ValueError: if the text lacks what pace_info prints.
    """
    elements = _elements(text)
    total = re.search(r'Total number of functions:\s*(\d+)', text)
    if not total:
        raise ValueError('no `Total number of functions:` line')
    lines = text.splitlines()
    embeddings: dict[str, t.Any] = {}
    bonds: dict[str, t.Any] = {}
    functions: dict[str, t.Any] = {}
    for index, line in enumerate(lines):
        fields = [field.strip() for field in line.split('\t') if field.strip()]
        if len(fields) == 4 and fields[0] in elements and fields[1].isdigit():
            embeddings[fields[0]] = {
                'ndensity': int(fields[1]),
                'npot': fields[2],
                'fs_parameters': _parameters(fields[3]),
            }
            continue
        bond = _BOND.match(line)
        if bond:
            first, second, radbase, *numbers, kind = bond.groups()
            rcut, r_in, delta_in, prehc, lambdahc = (float(n) for n in numbers)
            bonds[f'{first}-{second}'] = {
                'radbase': radbase,
                'rcut': rcut,
                'r_in': r_in,
                'delta_in': delta_in,
                'prehc': prehc,
                'lambdahc': lambdahc,
                'inner_cutoff_type': kind,
            }
            continue
        if line.strip() in elements and index + 4 < len(lines) and lines[index + 1].startswith('order'):
            rows = {}
            for row in lines[index + 1 : index + 5]:
                key, _, values = row.partition(':')
                rows[key.strip()] = values.split('sum=')[0].split()
            functions[line.strip()] = {
                'orders': [int(v) for v in rows.get('order', [])],
                'nradmax': [int(v) for v in rows.get('nradmax', [])],
                'lmax': [int(v) for v in rows.get('lmax', [])],
                'nfuncs': [int(v) for v in rows.get('nfuncs', [])],
            }
    if not bonds:
        raise ValueError('no bond lines in the `Bonds` table')
    per_element = {element: sum(block['nfuncs']) for element, block in functions.items()}
    missing = [element for element in elements if element not in per_element]
    if missing:
        raise ValueError(f'no `Functions (per order)` block for {", ".join(missing)}')
    return {
        'elements': elements,
        'number_of_functions': int(total.group(1)),
        'number_of_functions_per_element': per_element,
        'cutoff': _cutoff(text),
        'embeddings': embeddings,
        'bonds': bonds,
        'functions': functions,
    }


def parse_timing_text(text: str) -> dict[str, t.Any]:
    """Parse the output of ``pace_timing POTENTIAL.yaml -n N`` (one potential).

    pace_timing evaluates N random fcc/bcc cells (32 and 16 atoms, lattice constant 3.5-4.5 Å, the
    potential's elements at random) 100 times each with pacemaker's C++ evaluator on one core.

    Returns ``elements``, ``functions_per_element`` (``order_1`` and ``higher_orders`` counts),
    ``cutoff`` (Å), ``num_structures``, ``time_per_atom_us`` (the mean over prototypes, µs per atom
    and evaluation), ``time_per_atom_std_us`` (None for one prototype), ``per_structure_us`` (each
    structure's µs/atom) and ``prototypes`` (per prototype: ``num_atoms``, ``neighbours_per_atom`` and
    its ``_std``, ``time_per_atom_us`` and its ``_std_us``).

    :raises ValueError: if the text lacks what pace_timing prints.
    """
    elements = _elements(text)
    overall = _OVERALL.search(text)
    if not overall:
        raise ValueError('no `Overall timing (mcs/atom):` line')
    functions: dict[str, dict[str, int]] = {}
    prototypes: dict[str, dict[str, float | None]] = {}
    for line in text.replace('\r', '\n').splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] in elements and fields[1].isdigit() and fields[2].isdigit():
            functions[fields[0]] = {'order_1': int(fields[1]), 'higher_orders': int(fields[2])}
            continue
        prototype = _PROTOTYPE.match(line.strip())
        if prototype and prototype.group(1) != 'Prototype':
            name, atoms, neighbours, neighbours_std, time, time_std = prototype.groups()
            prototypes[name] = {
                'num_atoms': _number(atoms),
                'neighbours_per_atom': _number(neighbours),
                'neighbours_per_atom_std': _number(neighbours_std),
                'time_per_atom_us': _number(time),
                'time_per_atom_std_us': _number(time_std),
            }
    per_structure: dict[int, float | None] = {}
    total = 0
    for match in _PER_STRUCTURE.finditer(text):
        per_structure[int(match.group(1))] = _number(match.group(3))
        total = int(match.group(2))
    if not prototypes:
        raise ValueError('no prototype rows in the timing table')
    return {
        'elements': elements,
        'functions_per_element': functions,
        'cutoff': _cutoff(text),
        'num_structures': total or len(per_structure),
        'time_per_atom_us': _number(overall.group(1)),
        'time_per_atom_std_us': _number(overall.group(2)),
        'per_structure_us': [per_structure[key] for key in sorted(per_structure)],
        'prototypes': prototypes,
    }
