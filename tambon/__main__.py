"""`python -m tambon` is the `tambon` command (how the stack launches its services)."""

from tambon.cli import main

main()
