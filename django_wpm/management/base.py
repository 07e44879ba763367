"""The base of the ``manage.py wpm_*`` commands: one Django command per ``wpm`` subcommand.

Django's convention is one command per module (``showmigrations``, ``clearsessions``), each
with its own ``--help``; so ``wpm list`` is ``manage.py wpm_list``, ``wpm window reset`` is
``manage.py wpm_window reset``. The arguments and the work are the core's (``cli``), run with
the project's monitor and configuration (``settings.WPM`` over ``WPM_*`` variables); a failure
is a ``CommandError`` (exit status 1).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from web_performance_monitor.adapter import cli

from ..conf import get_monitor


class WPMCommand(BaseCommand):
    """``manage.py wpm_<command>``; a subclass names its ``command`` (a key of
    ``cli.COMMANDS``)."""

    command: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.help = cli.COMMANDS[cls.command]

    def add_arguments(self, parser: ArgumentParser) -> None:
        cli.add_arguments(self.command, parser)

    def handle(self, *args: Any, **options: Any) -> None:
        monitor = get_monitor()
        context = cli.Context(monitor.config, self.stdout, self.stderr, monitor, str.upper)
        try:
            cli.run(self.command, options, context)
        except cli.Failure as exc:
            raise CommandError(str(exc)) from None
