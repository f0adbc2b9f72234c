"""The cockpit in a browser: textual-serve runs one observer cockpit per browser tab.

textual-serve starts a process per websocket (the Textual app with its web driver) and relays the
screen and the keys. Here that process is always ``cockpit run --read-only`` on the given config: it
fires nothing, takes no lease over and writes no journal, whatever is typed in the browser. Every
request passes :func:`screens.serve.auth.auth_middleware` first.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from screens.serve.auth import auth_middleware

__all__ = ["BrowserServer", "observer_command"]

TEMPLATES = Path(__file__).with_name("templates")


def observer_command(config: Path, operator: str, python: str = sys.executable) -> str:
    """The shell command textual-serve runs per tab: a read-only cockpit (``exec``: the app is the child)."""
    argv = [python, "-m", "cockpit", "-c", str(config), "run", "--read-only", "--operator", operator]
    return "exec " + shlex.join(argv)


class BrowserServer(Server):
    """textual-serve with the token check, our page (no outside font) and URLs from the request's host."""

    def __init__(self, command: str, host: str, port: int, *, title: str, token: str | None) -> None:
        super().__init__(command, host=host, port=port, title=title, templates_path=TEMPLATES)
        self.token = token
        self.ready: list[str] = []  # what was printed on start-up, for the CLI's tests

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.insert(0, auth_middleware(self.token, self.title))
        return app

    def initialize_logging(self) -> None:
        """No rich log handler with locals in tracebacks: a request's headers may carry the token."""

    async def on_startup(self, app: web.Application) -> None:
        guard = "token required" if self.token else "loopback, no token"
        line = f"cockpit serve: browser view on {self.public_url}/ ({guard}); Ctrl+C stops it"
        self.ready.append(line)
        print(line, flush=True)

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, with its websocket and static URLs on the host the browser used (0.0.0.0 is no address)."""
        base = f"{request.scheme}://{request.host}"
        ws = ("wss:" if request.scheme == "https" else "ws:") + base.split(":", 1)[1]
        return {
            "font_size": _int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{ws}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default
