"""AiiDA plugin for fitting and actively learning ACE potentials with pacemaker."""

__version__ = '0.1.0'
