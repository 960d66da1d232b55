"""The one "did you mean" of the plugin: every message about an unknown key or name ends with it."""

from __future__ import annotations

import difflib
import typing as t

__all__ = ('did_you_mean',)


def did_you_mean(value: t.Any, valid: t.Iterable[t.Any], noun: str = 'valid keys') -> str:
    """``did you mean `closest`?`` when one of ``valid`` is close to ``value``, else ``{noun}: a, b, c``."""
    choices = sorted(str(item) for item in valid)
    close = difflib.get_close_matches(str(value), choices, n=1)
    return f'did you mean `{close[0]}`?' if close else f'{noun}: {", ".join(choices)}'
