"""Parsers of the plugin's CalcJobs."""
