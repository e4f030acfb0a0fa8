"""``python -m orderalloc``: the ``orderalloc`` command, for a Python with no scripts on PATH."""

from ._cli import main

main()
