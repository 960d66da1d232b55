"""The DFT tier: CP2K and GPAW labels (see conftest.py)."""
