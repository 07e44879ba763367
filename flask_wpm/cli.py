"""``flask wpm test-alert`` and ``flask wpm config``."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .state import get_monitor

wpm_cli = AppGroup("wpm", help="web-performance-monitor: test alerts, show configuration.")


@wpm_cli.command("test-alert")
def test_alert() -> None:
    """Send a test alert through every enabled notifier."""
    result = get_monitor().test_alert_system()
    for name, ok in result["notifier_results"].items():
        click.echo(f"{name}: {'ok' if ok else 'FAILED'}")
    if not result["success"]:
        click.echo(f"error: {result['error']}", err=True)
        raise SystemExit(1)
    click.echo("all notifiers work")


@wpm_cli.command("config")
def show_config() -> None:
    """Print the effective configuration (secrets masked) as JSON."""
    click.echo(json.dumps(get_monitor().config.as_dict(), indent=2, sort_keys=True))
