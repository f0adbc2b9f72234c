"""The token check of the browser view, on every request: the page, its files and the websocket.

A browser cannot be told to send ``Authorization: Bearer`` on a page load or a websocket, so beside
the header (for scripts, as :func:`cockpit.listen.authorized` checks it) a browser signs in once with
a form (POST, so the token is never in a URL, a history or an access log) and gets a cookie that is
an HMAC of the token, not the token: ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no
other site's page sends it). A websocket must also come from this server's own origin, so a page
elsewhere cannot drive a signed-in browser into the view (cross-site websocket hijacking).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from html import escape

from aiohttp import web

from cockpit.listen import authorized

__all__ = ["COOKIE", "LOGIN_PATH", "auth_middleware", "cookie_value"]

COOKIE = "cockpit_view"
LOGIN_PATH = "/login"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cookie_value(token: str) -> str:
    """What the cookie holds: proof of the token without the token itself."""
    return hmac.new(token.encode(), b"cockpit browser view", hashlib.sha256).hexdigest()


def _signed_in(request: web.Request, token: str) -> bool:
    if authorized(request.headers.get("Authorization"), token):
        return True
    given = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(given.encode(), cookie_value(token).encode())


def _login_page(title: str, wrong: bool) -> web.Response:
    note = "<p class=wrong>That token is not the one this view was started with.</p>" if wrong else ""
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{escape(title)}: sign in</title>
<style>body{{background:#0c181f;color:#eee;font-family:monospace;margin:3em}}.wrong{{color:#f77}}</style></head>
<body><h1>{escape(title)}</h1><p>This browser view needs the token it was started with.</p>{note}
<form method="post" action="{LOGIN_PATH}"><input type="password" name="token" id="token" autofocus
 autocomplete="current-password"> <button type="submit" id="sign-in">Sign in</button></form></body></html>"""
    return web.Response(status=401, text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store", "WWW-Authenticate": 'Bearer realm="cockpit"'})


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (a script with the header or cookie): nothing to forge
    return origin.split("://", 1)[-1] == request.host


def auth_middleware(token: str | None, title: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The middleware that refuses a request without the token (none when no token is set: loopback)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/ws" and not _same_origin(request):
            return web.Response(status=403, text="websocket from another origin refused\n")
        if token is None:
            return await handler(request)
        if request.path == LOGIN_PATH and request.method == "POST":
            form = await request.post()
            given = str(form.get("token", "")).strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _login_page(title, wrong=True)
            response = web.HTTPSeeOther("/")
            response.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="Strict", path="/")
            raise response
        if _signed_in(request, token):
            return await handler(request)
        if request.path == "/" and request.method == "GET":
            return _login_page(title, wrong=False)
        return web.Response(status=401, text="token required: sign in at /\n",
                            headers={"WWW-Authenticate": 'Bearer realm="cockpit"'})

    return check
