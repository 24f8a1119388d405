"""`python -m runtree`: the runtree command."""

from runtree.cli import main

main()
