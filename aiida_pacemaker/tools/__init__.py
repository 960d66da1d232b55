"""Tools: example data, provenance queries, learning curves and plots."""
