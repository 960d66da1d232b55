"""`ActiveSetData`: the active set (``.asi``) of one pacemaker potential."""

from __future__ import annotations

import hashlib
import pathlib
import typing as t

from aiida.orm import Data

from aiida_pacemaker.filenames import ACTIVE_SET_ASI

__all__ = ('ActiveSetData', 'ActiveSetMismatchError')

#: pace_activeset's suffix of the non-linear (``full``) active set beside the ``.asi``
NONLINEAR_SUFFIX = '.nonlinear'
NONLINEAR_FILENAME = f'{ACTIVE_SET_ASI}{NONLINEAR_SUFFIX}'


class ActiveSetMismatchError(ValueError):
    """Raised when an active set is used with a potential it was not built for."""


class ActiveSetData(Data):
    """The MaxVol active set of one potential, as written by ``pace_activeset``.

    Attributes: ``potential_uuid`` and ``potential_yaml_sha256`` (the potential it belongs
    to), ``asi_sha256``, ``has_nonlinear``, ``elements``; set by the parser: ``mode``
    (``linear`` or ``full``) and ``shapes`` (per element, the shape of the inverted
    active-set matrix: rows = number of projections).
    """

    def __init__(
        self,
        asi: bytes | pathlib.Path | None = None,
        potential: t.Any = None,
        nonlinear: bytes | pathlib.Path | None = None,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # aiida's Data.__init__ is untyped; untyped_calls_exclude misses super()
        if asi is None:
            return
        if potential is None:
            raise ValueError('an ActiveSetData needs the PacePotentialData it belongs to')
        content = asi.read_bytes() if isinstance(asi, pathlib.Path) else asi
        if not content:
            raise ValueError('the .asi file is empty')
        self.base.repository.put_object_from_bytes(content, ACTIVE_SET_ASI)
        self.base.attributes.set('asi_sha256', hashlib.sha256(content).hexdigest())
        self.base.attributes.set('potential_uuid', potential.uuid)
        self.base.attributes.set('potential_yaml_sha256', potential.base.attributes.get('yaml_sha256'))
        self.base.attributes.set('elements', potential.elements)
        self.base.attributes.set('has_nonlinear', nonlinear is not None)
        if nonlinear is not None:
            extra = nonlinear.read_bytes() if isinstance(nonlinear, pathlib.Path) else nonlinear
            self.base.repository.put_object_from_bytes(extra, NONLINEAR_FILENAME)

    @property
    def potential_uuid(self) -> str:
        """UUID of the `PacePotentialData` this active set belongs to."""
        return t.cast(str, self.base.attributes.get('potential_uuid'))

    def check_potential(self, potential: t.Any) -> None:
        """Raise `ActiveSetMismatchError` unless ``potential`` is the one this set was built for.

        Two potential nodes with identical ``.yaml`` content are the same potential.
        """
        same_node = potential.uuid == self.potential_uuid
        same_content = potential.base.attributes.get('yaml_sha256') == self.base.attributes.get(
            'potential_yaml_sha256'
        )
        if not (same_node or same_content):
            raise ActiveSetMismatchError(
                f'ActiveSetData<{self.pk}> belongs to potential {self.potential_uuid}, '
                f'not to PacePotentialData<{potential.pk}> ({potential.uuid}); '
                'build an active set for this potential with pacemaker.activeset'
            )

    def get_asi_content(self) -> bytes:
        """Return the ``.asi`` file, after checking its hash."""
        content = self.base.repository.get_object_content(ACTIVE_SET_ASI, mode='rb')
        if hashlib.sha256(content).hexdigest() != self.base.attributes.get('asi_sha256'):
            raise ValueError(f'the .asi of ActiveSetData<{self.pk}> does not match its recorded SHA-256')
        return content

    def write_asi(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the ``.asi`` to ``path`` and return it."""
        path = pathlib.Path(path)
        path.write_bytes(self.get_asi_content())
        return path
