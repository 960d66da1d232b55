"""The one checker framework: messages that name the key path, what is expected and the value given."""

from __future__ import annotations

import math

import pytest

from aiida_pacemaker import schema


@pytest.mark.parametrize(
    ('check', 'value', 'message'),
    [
        (schema.number(integer=True, minimum=1), 0, '`k` must be an integer >= 1, got 0'),
        (schema.number(integer=True, minimum=1), 2.0, '`k` must be an integer >= 1, got 2.0'),
        (schema.number(integer=True, minimum=1), True, '`k` must be an integer >= 1, got True'),
        (schema.number(minimum=0, strict=True), 0.0, '`k` must be a number > 0, got 0.0'),
        (schema.number(maximum=1, max_strict=True), 1, '`k` must be a number < 1, got 1'),
        (schema.REAL, math.nan, '`k` must be a number, got nan'),
        (schema.REAL, '1', "`k` must be a number, got '1'"),
        (
            schema.number(minimum=5, noun='an integer of at least 5'),
            3,
            '`k` must be an integer of at least 5, got 3',
        ),
        (
            schema.one_of('grade', 'random'),
            'randm',
            "`k` = 'randm' is not a valid value; did you mean `random`?",
        ),
        (schema.one_of('grade', 'random'), 'x', "`k` = 'x' is not a valid value; valid: grade, random"),
        (schema.BOOL, 'yes', "`k` must be true or false, got 'yes'"),
        (schema.list_of(schema.POSITIVE, non_empty=True), [], '`k` must not be empty'),
        (schema.list_of(schema.POSITIVE), [1, -1], '`k[1]` must be a number > 0, got -1'),
        (schema.list_of(schema.REAL, length=2), [1], '`k` must be a list of 2, got [1]'),
        (
            schema.section({'maxiter': schema.POSITIVE_INT}),
            {'maxiterr': 1},
            'unknown key `k.maxiterr`; did you mean `maxiter`?',
        ),
        (schema.section({'a': schema.ANY}), [1], '`k` must be a dict, got list [1]'),
        (
            schema.section({'a': schema.ANY}, {'b': 'the job sets it'}),
            {'b': 1},
            '`k.b` is not allowed: the job sets it',
        ),
    ],
)
def test_refused_with_one_line(check, value, message):
    """Each checker refuses with the key path, what it expects and the value (or the closest valid name)."""
    with pytest.raises(schema.ConfigError) as error:
        check(value, 'k')
    assert str(error.value) == message
    assert schema.first_error(check, value, 'k') == message


@pytest.mark.parametrize(
    ('check', 'value'),
    [
        (schema.number(integer=True, minimum=1), 1),
        (schema.FRACTION, 1.0),
        (schema.optional(schema.POSITIVE), None),
        (schema.list_of(schema.REAL), (1, 2.5)),
        (schema.section({'a': schema.section({'b': schema.STRING})}), {'a': {'b': 'x'}}),
    ],
)
def test_accepted(check, value):
    assert schema.first_error(check, value, 'k') is None


def test_checkers_say_what_they_accept():
    """The option tables of the docs read what a checker accepts from the checker itself."""
    assert schema.expected(schema.number(integer=True, minimum=1)) == 'an integer >= 1'
    assert schema.expected(schema.one_of('lcmd', 'representative')) == 'one of lcmd, representative'
    assert (
        schema.expected(schema.list_of(schema.POSITIVE, non_empty=True))
        == 'a non-empty list, each a number > 0'
    )
    assert schema.expected(schema.ANY) == ''
