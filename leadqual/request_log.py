"""One line per refused or missing page in the log, instead of a traceback.

Django logs every 4xx response on `django.request`, and for a raised PermissionDenied it
attaches the exception, so the console shows a full traceback for an ordinary 403: a newcomer
reads that as a crash. A 4xx is the application answering correctly, so it is logged at INFO,
in one line that says what happened (status, method, path, who asked, and the reason the view
gave). Server errors (5xx) keep their traceback: that is where it is needed.

The development server also writes an access line for every request (`django.server`). For a
4xx that `django.request` has just described, that line would only repeat it, so it is dropped;
the two are matched by thread (the development server answers each request in its own thread,
and logs the access line after Django returns). Requests Django's handler never logged (a
missing static file, say) keep their access line.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from typing import Any

_described = threading.local()
_PHRASES = {status.value for status in HTTPStatus}


def _is_client_error(status: Any) -> bool:
    return isinstance(status, int) and 400 <= status < 500


def _who(request: Any) -> str:
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.get_username())
    return "anonymous"


def _reason(record: logging.LogRecord) -> str:
    exc = record.exc_info[1] if record.exc_info else None
    text = str(exc) if exc is not None else ""
    # A Resolver404 carries a dict of the patterns tried; that is no reason to show anyone.
    if not text or text.startswith("{"):
        return ""
    return text.splitlines()[0]


class ClientErrorsOnOneLine(logging.Filter):
    """On the console handler: a 4xx record becomes one line without its traceback.

    A handler's filter sees every record that reaches it, from `django.request`,
    `django.security.csrf` and the `django.security.<Suspicious...>` loggers alike (a logger's
    own filter would miss its children's records).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if not _is_client_error(status) or getattr(record, "one_line", False):
            return True
        request = getattr(record, "request", None)
        method = getattr(request, "method", "") or ""
        path = getattr(request, "path", "") or ""
        if not path and not method:  # not a Django request: the development server's own line
            return True
        phrase = HTTPStatus(status).phrase if status in _PHRASES else ""
        if record.name == "django.security.csrf":
            # Its message already is the reason: "Forbidden (CSRF cookie not set.): /login/".
            reason = record.getMessage().removeprefix("Forbidden (").rsplit("): ", 1)[0]
        else:
            reason = _reason(record)
        line = f"{status} {phrase}: {method} {path} ({_who(request)})"
        if reason:
            line += f": {reason}"
        record.msg, record.args = line, ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        # A refused or missing page is routine; a suspicious request (a forged Host header,
        # say) stays a warning, without the traceback that only shows Django's own frames.
        level = logging.WARNING if record.name.startswith("django.security.") else logging.INFO
        if record.name == "django.security.csrf":
            level = logging.INFO
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.one_line = True
        _described.path = path
        return True


class DropDescribedAccessLines(logging.Filter):
    """On `django.server`: drop the access line of a 4xx that was just described."""

    def filter(self, record: logging.LogRecord) -> bool:
        described = getattr(_described, "path", None)
        if described is None or not _is_client_error(getattr(record, "status_code", None)):
            return True
        _described.path = None
        args = record.args if isinstance(record.args, tuple) else ()
        request_line = str(args[0]) if args else ""
        parts = request_line.split(" ")
        # 'GET /team/?x=1 HTTP/1.1': the path is the target without its query string.
        target = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
        return target != described
