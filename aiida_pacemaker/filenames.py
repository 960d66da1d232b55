"""File names shared by the data types, the CalcJobs, their parsers and the exports, defined once.

A potential and its active set are stored in their nodes under these names and staged into
every job under the same names, so a job folder, a node's repository and an export look alike.
"""

#: the pacemaker potential (B-basis YAML), in a `PacePotentialData` and in every job folder
POTENTIAL_YAML = 'potential.yaml'
#: the same potential in pacemaker's C++/LAMMPS format (``pace_yaml2yace``)
POTENTIAL_YACE = 'potential.yace'
#: the active set (``pace_activeset``'s ``.asi``) of the potential
ACTIVE_SET_ASI = 'potential.asi'
#: the job script writes the exit status of its main command into this file
EXIT_STATUS_FILE = 'exit_status'
#: standard output (and error, joined) of a job's main command
STDOUT_FILE = 'aiida.out'
