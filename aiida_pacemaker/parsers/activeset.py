"""Parser of `PaceActiveSetCalculation`."""

from __future__ import annotations

import io
import typing as t
import zipfile

import numpy as np
from aiida.engine import ExitCode

from aiida_pacemaker.data.active_set import NONLINEAR_FILENAME, ActiveSetData
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, STDOUT_FILE

from .base import PaceBaseParser

__all__ = ('PaceActiveSetParser', 'active_set_from_files', 'read_asi_shapes')


def read_asi_shapes(content: bytes) -> dict[str, list[int]]:
    """Shapes of the per-element matrices of an ``.asi`` (a NumPy ``.npz``, read without pickle).

    :raises ValueError: if the file is not a readable ``.npz`` of numeric matrices.
    """
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as archive:
            shapes = {key: list(archive[key].shape) for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exception:
        raise ValueError(f'not a valid .asi archive ({exception})') from exception
    if not shapes:
        raise ValueError('the .asi archive holds no matrices')
    return shapes


def active_set_from_files(linear: bytes | None, nonlinear: bytes | None, potential: t.Any) -> ActiveSetData:
    """The `ActiveSetData` of ``potential`` from pace_activeset's files: the ``.asi`` (``linear``) and the
    ``.asi.nonlinear`` (``nonlinear``), either of which may be missing (None or empty) but not both.

    :raises ValueError: if neither file is there or one is not a readable ``.asi`` archive.
    """
    content = linear or nonlinear
    if not content:
        raise ValueError('pace_activeset wrote no .asi file')
    shapes = read_asi_shapes(content)
    if linear and nonlinear:
        read_asi_shapes(nonlinear)
    active_set = ActiveSetData(asi=content, potential=potential, nonlinear=nonlinear if linear else None)
    active_set.base.attributes.set('shapes', shapes)
    active_set.base.attributes.set('mode', 'linear' if linear else 'full')
    return active_set


class PaceActiveSetParser(PaceBaseParser):
    """Attach the `ActiveSetData`; every failure is an exit code."""

    def parse(self, **kwargs: t.Any) -> ExitCode | None:
        """Parse the retrieved ``.asi``."""
        status = self.recorded_exit_status()
        log_tail = self.tail(self.node.get_option('output_filename') or STDOUT_FILE, STDOUT_FILE)
        if status is None:
            return t.cast(ExitCode, self.exit_codes.ERROR_NO_EXIT_STATUS.format(detail=f'\n{log_tail}'))
        if status != 0:
            return t.cast(
                ExitCode, self.exit_codes.ERROR_ACTIVESET_FAILED.format(status=status, log_tail=log_tail)
            )
        linear = self.read_bytes(ACTIVE_SET_ASI)
        nonlinear = self.read_bytes(NONLINEAR_FILENAME)
        if not (linear or nonlinear):
            return t.cast(ExitCode, self.exit_codes.ERROR_ACTIVE_SET_MISSING.format(detail=f'\n{log_tail}'))
        try:
            active_set = active_set_from_files(linear, nonlinear, self.node.inputs.potential)
        except ValueError as exception:
            return t.cast(ExitCode, self.exit_codes.ERROR_ACTIVE_SET_UNREADABLE.format(detail=str(exception)))
        self.out('active_set', active_set)
        return None
