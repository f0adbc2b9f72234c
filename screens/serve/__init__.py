"""The browser view (``cockpit serve``): the cockpit's own Textual app in a browser, read-only, behind the token.

Parts: ``server`` (:class:`BrowserServer`, textual-serve with our page; :func:`observer_command`),
``auth`` (the per-request token check: header or sign-in cookie, and same-origin websockets).
"""

from __future__ import annotations

from screens.serve.auth import COOKIE, LOGIN_PATH, auth_middleware, cookie_value
from screens.serve.server import BrowserServer, observer_command

__all__ = ["COOKIE", "LOGIN_PATH", "BrowserServer", "auth_middleware", "cookie_value", "observer_command"]
