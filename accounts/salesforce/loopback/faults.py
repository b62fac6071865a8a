"""Fault switches for the loopback server: an in-process API that tests flip.

Each switch mimics what a real org does, with the real status and error body, so the client's
mapping (retry, re-login, stop, skip) is tested against the wire, not against a mock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

UNAVAILABLE = [{"message": "Service unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
LIMIT_EXCEEDED = [
    {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
]
LOCK_MESSAGE = "unable to obtain exclusive access to this record or 1 records"
LOCKED = [
    {
        "message": LOCK_MESSAGE,
        "errorCode": "UNABLE_TO_LOCK_ROW",
        "fields": [],
    }
]


@dataclass
class Injection:
    status: int
    body: Any  # JSON-serialisable, or None to drop the connection without an answer
    times: int | None  # None: until cleared
    method: str | None = None
    path: re.Pattern[str] | None = None

    def applies(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path.search(path) is not None
        )


@dataclass
class Faults:
    lock: threading.Lock = field(default_factory=threading.Lock)
    injections: list[Injection] = field(default_factory=list)
    expired_tokens: set[str] = field(default_factory=set)
    api_used: int = 0
    api_limit: int = 100_000
    # Stop answering queryMore after this many pages of one cursor (None: off).
    crash_after_page: int | None = None
    crash_times: int | None = None
    on_query_page: Callable[[str, int], None] | None = None
    # Bulk jobs stay InProgress for this many polls before they complete.
    bulk_polls_in_progress: int = 0
    # The next N records written through composite collections fail, each on its own, with
    # UNABLE_TO_LOCK_ROW (the HTTP answer is still 200, like Salesforce's per-record errors).
    locked_records: int = 0

    def inject(
        self,
        status: int,
        body: Any,
        *,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``times`` matching requests get this answer instead of the real one."""
        with self.lock:
            self.injections.append(
                Injection(status, body, times, method, re.compile(path) if path else None)
            )

    def unavailable(self, times: int = 1, *, path: str | None = None) -> None:
        """503 SERVER_UNAVAILABLE for the next ``times`` API calls."""
        self.inject(503, UNAVAILABLE, times=times, path=path)

    def request_limit_exceeded(self, times: int | None = None) -> None:
        """403 REQUEST_LIMIT_EXCEEDED, until cleared by default (a used-up day does not heal)."""
        self.inject(403, LIMIT_EXCEEDED, times=times)

    def unable_to_lock_row(self, times: int = 1, *, method: str | None = None) -> None:
        """400 UNABLE_TO_LOCK_ROW on the next ``times`` calls (writes by default: PATCH)."""
        self.inject(400, LOCKED, times=times, method=method)

    def lock_records(self, count: int) -> None:
        """The next ``count`` records in composite collections fail with UNABLE_TO_LOCK_ROW."""
        with self.lock:
            self.locked_records = count

    def drop_connection(self, times: int = 1, *, path: str | None = None) -> None:
        """Close the socket without answering (a timeout or reset on the client's side)."""
        self.inject(0, None, times=times, path=path)

    def set_api_usage(self, used: int, limit: int) -> None:
        """What Sforce-Limit-Info reports; past the limit every call is REQUEST_LIMIT_EXCEEDED."""
        with self.lock:
            self.api_used, self.api_limit = used, limit

    def crash_between_pages(self, after_page: int = 1, *, times: int | None = None) -> None:
        """queryMore for page ``after_page + 1`` and later drops the connection (``times``
        times, or until cleared): a sync dies between two pages and must resume."""
        with self.lock:
            self.crash_after_page, self.crash_times = after_page, times

    def clear(self) -> None:
        with self.lock:
            self.injections.clear()
            self.expired_tokens.clear()
            self.crash_after_page = self.crash_times = None
            self.on_query_page = None
            self.bulk_polls_in_progress = 0
            self.locked_records = 0

    # --- used by the server -----------------------------------------------------------------

    def take_injection(self, method: str, path: str, *, login: bool = False) -> Injection | None:
        """The injection answering this request, if any. Logins only get injections that name
        their path, so ``unavailable()`` does not also break the re-login it provokes."""
        with self.lock:
            for injection in self.injections:
                if login and injection.path is None:
                    continue
                if injection.applies(method, path):
                    if injection.times is not None:
                        injection.times -= 1
                        if injection.times <= 0:
                            self.injections.remove(injection)
                    return injection
        return None

    def count_call(self) -> tuple[int, int, bool]:
        """Count one API call; (used, limit, over the limit)."""
        with self.lock:
            self.api_used += 1
            return self.api_used, self.api_limit, self.api_used > self.api_limit

    def take_locked_record(self) -> bool:
        with self.lock:
            if self.locked_records <= 0:
                return False
            self.locked_records -= 1
            return True

    def take_crash(self, page_number: int) -> bool:
        with self.lock:
            if self.crash_after_page is None or page_number <= self.crash_after_page:
                return False
            if self.crash_times is not None:
                self.crash_times -= 1
                if self.crash_times <= 0:
                    self.crash_after_page = self.crash_times = None
            return True
