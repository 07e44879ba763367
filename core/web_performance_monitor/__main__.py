"""``python -m web_performance_monitor ...``: the ``wpm`` command (see ``cli``)."""

from .cli import main

raise SystemExit(main(prog="python -m web_performance_monitor"))
