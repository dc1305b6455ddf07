"""`python -m veil.cli`: the `veil` command without its console script (tests run it so)."""

from veil.cli.main import main

main()
