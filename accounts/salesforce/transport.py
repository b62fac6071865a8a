"""requests transport pieces: a default timeout, and the loopback URL rewrite.

simple-salesforce builds every URL as ``https://{host}/...`` and its login URLs as
``https://{domain}.salesforce.com/...``; a plain-HTTP loopback server is reachable only if the
session rewrites those URLs (docs/salesforce.md, "Option A"). The real requests -> urllib3 ->
socket path still runs.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class TimeoutAdapter(HTTPAdapter):
    """Applies a default timeout: simple-salesforce's Bulk 2.0 calls accept none, and a request
    without one can hang a sync forever."""

    def __init__(self, *, timeout: float, **kwargs: Any) -> None:
        self.default_timeout = timeout
        super().__init__(**kwargs)

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        # requests passes stream/timeout/verify/cert/proxies as keywords.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, *args, **kwargs)


class LoopbackAdapter(TimeoutAdapter):
    """Sends every https:// request to a plain-HTTP server at ``target`` ("127.0.0.1:8765")."""

    def __init__(self, target: str, *, timeout: float = 30.0, **kwargs: Any) -> None:
        self.target = target
        super().__init__(timeout=timeout, **kwargs)

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        parts = urllib.parse.urlsplit(request.url or "")
        request.url = urllib.parse.urlunsplit(
            ("http", self.target, parts.path, parts.query, parts.fragment)
        )
        request.headers["Host"] = self.target
        return super().send(request, *args, **kwargs)


def loopback_target(url: str) -> str:
    """ "http://127.0.0.1:8765" -> "127.0.0.1:8765", refusing anything that is not host:port."""
    parts = urllib.parse.urlsplit(url if "//" in url else f"http://{url}")
    if not parts.hostname or not parts.port:
        raise ValueError(
            f"SALESFORCE_LOOPBACK_URL must look like http://127.0.0.1:8765, not {url!r}"
        )
    return f"{parts.hostname}:{parts.port}"


def build_session(*, timeout: float, loopback_url: str = "") -> requests.Session:
    """A session for the client. With a loopback URL every https:// request goes there."""
    session = requests.Session()
    if loopback_url:
        # REQUESTS_CA_BUNDLE / HTTPS_PROXY from the environment would otherwise be merged into
        # every request and capture or break loopback traffic.
        session.trust_env = False
        session.mount("https://", LoopbackAdapter(loopback_target(loopback_url), timeout=timeout))
        session.mount("http://", LoopbackAdapter(loopback_target(loopback_url), timeout=timeout))
    else:
        session.mount("https://", TimeoutAdapter(timeout=timeout))
    return session
