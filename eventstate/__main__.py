"""``python -m eventstate``: the command line, for when the ``eventstate`` script is not on PATH."""

from eventstate.cli import main

main(prog_name="eventstate")
