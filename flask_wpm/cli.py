"""``flask wpm list|show|open|prune|window|test-alert|config``: the ``wpm`` command with the
app's own configuration and monitor.

Each subcommand hands its arguments unparsed to the core's command line (``cli.main``), which
parses, runs and answers the same way as ``wpm`` itself (``flask wpm list --help`` shows its
options); the group is what Flask lists under ``flask --help``.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup, with_appcontext

from web_performance_monitor.adapter import cli

from .state import get_monitor

wpm_cli = AppGroup("wpm", help="web-performance-monitor: alerts, history, alert windows, "
                                "test alerts and the effective configuration.")

_FORWARD = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _command(name: str) -> click.Command:
    """``flask wpm <name> ARGS...``, run by the core with the current app's monitor."""

    @click.pass_context
    def forward(ctx: click.Context, args: tuple[str, ...]) -> Any:
        monitor = get_monitor()
        ctx.exit(cli.main([name, *args], config=monitor.config, monitor=monitor,
                          key=cli.app_config_key, prog="flask wpm"))

    return click.Command(name, callback=with_appcontext(forward), help=cli.COMMANDS[name],
                         context_settings=_FORWARD, add_help_option=False,
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)])


for _name in cli.COMMANDS:
    wpm_cli.add_command(_command(_name))
