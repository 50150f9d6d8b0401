"""`python -m evalharness.cli`."""

from evalharness.cli import main

main()
