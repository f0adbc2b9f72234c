"""``cockpit serve``: the cockpit in a browser for the people who will not open a terminal.

Loaded by the dispatcher only for this command (aiohttp and textual-serve stay out of the others).
The token (needed beyond loopback) comes from ``--token-env`` or ``--token-file``, never argv; it is
then dropped from this process's environment, so the per-tab cockpits never inherit it.
"""

from __future__ import annotations

import argparse
import os

from cockpit.cli.common import EXIT_OK, config_path, operator_name
from cockpit.config import load_config
from cockpit.listen import load_token, parse_listen, require_token
from cockpit.sanitize import strip_control
from screens.serve import BrowserServer, observer_command

DEFAULT_PORT = 8765  # the default of --listen in the parser (dispatch)


def cmd_serve(args: argparse.Namespace) -> int:
    """Check everything before listening: the config loads, the address parses, the token is there."""
    path = config_path(args).resolve()
    config = load_config(path)  # a bad config is exit 2 here, not a broken page per tab
    host, port = parse_listen(args.listen, DEFAULT_PORT)
    token = load_token(args.token_env, args.token_file)
    require_token(host, token)
    if args.token_env:
        os.environ.pop(args.token_env, None)
    operator = operator_name(args.operator or "browser")
    server = BrowserServer(observer_command(path, operator), host, port,
                           title=f"{strip_control(config.cockpit.title)} (browser view, read-only)", token=token)
    server.serve()
    return EXIT_OK
