"""A 403 or a 404 logs one line that says what happened, never a traceback.

The end-to-end test runs the real development server (`manage.py runserver`, as `make serve`
does) on its own SQLite file, logs in through the form, asks for a page the SDR may not see and
for two that do not exist, and reads what the server printed.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import pytest

from leadqual.request_log import ClientErrorsOnOneLine, DropDescribedAccessLines

REPO_ROOT = Path(__file__).resolve().parents[1]


def _record(name: str, status: int, *, exc: BaseException | None = None, **extra: object):
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, "Forbidden: %s", ("/x/",), None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    record.status_code = status
    for key, value in extra.items():
        setattr(record, key, value)
    return record


class _Request:
    method = "GET"
    path = "/team/"

    class user:
        is_authenticated = True

        @staticmethod
        def get_username() -> str:
            return "sdr"


def test_a_permission_denied_becomes_one_info_line_with_its_reason_and_no_traceback() -> None:
    try:
        raise PermissionError("The team page is for sales managers.")
    except PermissionError as exc:
        record = _record("django.request", 403, exc=exc, request=_Request())
    assert ClientErrorsOnOneLine().filter(record)
    line = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO 403 Forbidden: GET /team/ (sdr): The team page is for sales managers."


def test_a_server_error_keeps_its_level_and_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        record = _record("django.request", 500, exc=exc, request=_Request())
    assert ClientErrorsOnOneLine().filter(record)
    assert record.levelno == logging.WARNING
    assert "Traceback" in logging.Formatter().format(record)


def test_a_suspicious_request_stays_a_warning_on_one_line() -> None:
    try:
        raise ValueError("Invalid HTTP_HOST header: 'evil.example'.")
    except ValueError as exc:
        record = _record("django.security.DisallowedHost", 400, exc=exc, request=_Request())
    ClientErrorsOnOneLine().filter(record)
    text = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert text == (
        "WARNING 400 Bad Request: GET /team/ (sdr): Invalid HTTP_HOST header: 'evil.example'."
    )


def test_the_access_line_of_a_described_4xx_is_dropped_and_others_kept() -> None:
    ClientErrorsOnOneLine().filter(_record("django.request", 404, request=_Request()))
    access = DropDescribedAccessLines()

    def server_line(target: str, status: int) -> logging.LogRecord:
        line = (f"GET {target} HTTP/1.1", str(status), "10")
        record = logging.LogRecord(
            "django.server", logging.WARNING, "", 1, '"%s" %s %s', line, None
        )
        record.status_code = status
        return record

    assert not access.filter(server_line("/team/?page=2", 404))
    # Only once: the next 4xx (a static file Django's handler never saw) keeps its line.
    assert access.filter(server_line("/static/missing.css", 404))
    assert access.filter(server_line("/queue/", 200))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_the_development_server_logs_a_403_and_a_404_in_one_line_each(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    _manage(env, "migrate", "--no-input", "-v0")
    _manage(env, "create_demo_users")
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            opener = build_opener(HTTPCookieProcessor(CookieJar()))
            deadline = time.monotonic() + 30
            while True:
                try:
                    page = opener.open(f"{base}/login/", timeout=5).read().decode()
                    break
                except URLError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            assert token, "the login form has no CSRF token"
            form = urlencode(
                {"username": "sdr", "password": "leadqual-demo",
                 "csrfmiddlewaretoken": token.group(1)}
            ).encode()  # fmt: skip
            login = Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"})
            opener.open(login, timeout=10)
            statuses = {}
            for path in ("/team/", "/leads/999999/", "/no-such-page/"):
                try:
                    statuses[path] = opener.open(f"{base}{path}", timeout=10).status
                except HTTPError as error:
                    statuses[path] = error.code
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert statuses == {"/team/": 403, "/leads/999999/": 404, "/no-such-page/": 404}
    output = log.read_text()
    assert "Traceback" not in output, output
    for path, status in statuses.items():
        lines = [line for line in output.splitlines() if f" {path}" in line]
        assert len(lines) == 1, f"{path}: {lines}"
        assert f"INFO django.request: {status} " in lines[0]
        assert "(sdr)" in lines[0]
    assert "The team page is for sales managers." in output
