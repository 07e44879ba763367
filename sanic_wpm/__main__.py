"""``python -m sanic_wpm path.to:app COMMAND ...``: the ``wpm`` command with a Sanic app's own
configuration (its ``app.config.WPM_*`` keys, ``SANIC_WPM_*`` and ``WPM_*`` variables).

    python -m sanic_wpm server:app list --since 2h
    python -m sanic_wpm server:app window reset "GET /items/<iid:int>"

The app is loaded the way ``sanic path.to:app`` loads it (Sanic's ``AppLoader``: ``module:app``,
``module:factory()``). Sanic's own CLI runs an app's commands only from 24.12 on (``sanic
path.to:app exec NAME --key=value``, a beta feature in its docs: every value a string, no
positional arguments, the handler's result and exit status ignored), which cannot carry
``window reset ENDPOINT``, ``--json`` or exit codes; hence this module.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sanic.worker.loader import AppLoader

from web_performance_monitor.adapter import cli

PROG = "python -m sanic_wpm"
USAGE = f"usage: {PROG} path.to:app {{{','.join(cli.COMMANDS)}}} ...\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Load the app named first, then run the rest as a ``wpm`` command line; the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        return 0 if args else 2
    target = args.pop(0)
    try:
        app = AppLoader(target).load()
    except Exception as exc:
        sys.stderr.write(f"{PROG}: error: cannot load the Sanic app {target!r}: {exc}\n")
        return cli.EXIT_FAILED
    state = getattr(app.ctx, "wpm", None)
    if state is None:
        sys.stderr.write(f"{PROG}: error: the Sanic app {app.name!r} is not registered with "
                         "WPM: did you forget to call WPM(app) or wpm.init_app(app)?\n")
        return cli.EXIT_FAILED
    return cli.main(args, config=state.config, key=cli.app_config_key, prog=f"{PROG} {target}")


if __name__ == "__main__":
    raise SystemExit(main())
