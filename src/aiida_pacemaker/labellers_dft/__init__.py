"""Labellers that run DFT codes, following the labeller convention of :mod:`aiida_pacemaker.labellers`.

* :class:`~aiida_pacemaker.labellers_dft.cp2k.Cp2kLabelWorkChain` (entry point ``pacemaker.label_cp2k``):
  a CP2K single point through aiida-cp2k (optional dependency: ``pip install aiida-pacemaker[cp2k]``).
* GPAW needs no adapter: the built-in ASE labeller ``pacemaker.label_ase`` with
  ``calculator='gpaw.GPAW'`` (see the how-to "Active learning with DFT labels").

The submodules import their DFT plugin only when a calculation runs, so importing them is cheap.
"""

from __future__ import annotations

__all__ = ('Cp2kLabelWorkChain',)


def __getattr__(name: str) -> type:
    if name == 'Cp2kLabelWorkChain':
        from .cp2k import Cp2kLabelWorkChain

        return Cp2kLabelWorkChain
    raise AttributeError(name)
