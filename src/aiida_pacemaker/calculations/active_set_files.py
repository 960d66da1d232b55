"""File names under which the potential and its active set are staged into a job."""

POTENTIAL_FILE = 'potential.yaml'
ASI_FILE = 'potential.asi'
