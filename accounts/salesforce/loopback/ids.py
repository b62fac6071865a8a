"""Salesforce record ids: 3-char key prefix + 12-char sequence + 3-char case checksum."""

from __future__ import annotations

import itertools
import threading

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "User": "005",
    "Group": "00G",
    "LeadStatus": "01J",
    "OpportunityStage": "01J",
    "Organization": "00D",
}
BULK_JOB_PREFIX = "750"
QUERY_LOCATOR_PREFIX = "0r8"


def checksum(id15: str) -> str:
    """The 3-char suffix that makes an id case-insensitively unique."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to18(value: str) -> str:
    """Accept 15- or 18-char ids (Salesforce does); return the 18-char form."""
    if len(value) == 15:
        return value + checksum(value)
    return value


def looks_like_id(value: str) -> bool:
    return len(value) in (15, 18) and value.isalnum()


class IdFactory:
    """Thread-safe, per-prefix sequences; "5" in the pod position like a real org."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            number = next(self._counter)
        digits = ""
        while number:
            number, rest = divmod(number, 62)
            digits = _BASE62[rest] + digits
        id15 = f"{prefix}5g{digits.rjust(10, '0')}"
        return id15 + checksum(id15)
