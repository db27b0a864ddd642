"""python -m quinebox."""

from quinebox.cli import main

main()
