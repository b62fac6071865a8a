"""Path webhooks: the document, its signature, one HTTP attempt and what to do after it.

The only module that talks HTTP to a webhook receiver (`requests`, as the Salesforce client
does). Everything but `post` is pure. See docs/paths.md for the receiver's side: the payload,
the headers, how to check the signature, and the retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

EVENT = "lead.path_assigned"
SCHEMA_VERSION = 1
USER_AGENT = "leadqual-webhook/1"
HEADER_DELIVERY = "X-Leadqual-Delivery"
HEADER_EVENT = "X-Leadqual-Event"
HEADER_SIGNATURE = "X-Leadqual-Signature"
HEADER_ATTEMPT = "X-Leadqual-Attempt"
SIGNATURE_PREFIX = "sha256="
# What the log keeps of a refusal's body: enough to read the receiver's error.
ANSWER_EXCERPT = 500

DELIVERED = "delivered"
RETRY = "retry"
GIVE_UP = "give_up"


@dataclass(frozen=True)
class RuleFacts:
    reason_code: str
    name: str
    category: str
    action: str
    evidence: str


@dataclass(frozen=True)
class PayloadFacts:
    """Everything the document says, as plain values (the service reads them)."""

    delivery_id: str
    created_at: datetime
    path: str
    path_label: str
    lead_id: int
    lead_name: str
    lead_email: str
    lead_title: str
    company: str
    account_id: int | None
    salesforce_id: str
    assignment_id: int
    assigned_at: datetime
    tier: str
    reason: str
    reason_code: str
    rule: RuleFacts | None
    summary: Sequence[str]


def payload(facts: PayloadFacts) -> dict[str, Any]:
    """The JSON document POSTed for one assignment to a path (docs/paths.md, "The payload")."""
    rule = facts.rule
    return {
        "schema_version": SCHEMA_VERSION,
        "event": EVENT,
        "delivery_id": facts.delivery_id,
        "created_at": facts.created_at.isoformat(),
        "path": {"code": facts.path, "label": facts.path_label},
        "lead": {
            "id": facts.lead_id,
            "name": facts.lead_name,
            "email": facts.lead_email,
            "title": facts.lead_title,
            "company": facts.company,
            "account_id": facts.account_id,
            "salesforce_id": facts.salesforce_id or None,
        },
        "assignment": {
            "id": facts.assignment_id,
            "assigned_at": facts.assigned_at.isoformat(),
            "tier": facts.tier,
            "reason": facts.reason,
            "reason_code": facts.reason_code,
        },
        "rule": (
            {
                "reason_code": rule.reason_code,
                "name": rule.name,
                "category": rule.category,
                "action": rule.action,
                "evidence": rule.evidence,
            }
            if rule is not None
            else None
        ),
        "summary": list(facts.summary),
    }


def encode(document: Mapping[str, Any]) -> str:
    """The exact text sent: compact, keys sorted, so the same document is the same bytes."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def signature(body: bytes, secret: str) -> str:
    """The X-Leadqual-Signature value: "sha256=" and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_valid(body: bytes, secret: str, header: str) -> bool:
    """What a receiver does (docs/paths.md): compare in constant time."""
    return hmac.compare_digest(signature(body, secret), header.strip())


def headers(*, delivery_id: str, body: bytes, secret: str, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        HEADER_EVENT: EVENT,
        HEADER_DELIVERY: delivery_id,
        HEADER_SIGNATURE: signature(body, secret),
        HEADER_ATTEMPT: str(attempt),
    }


@dataclass(frozen=True)
class Answer:
    """One attempt's result: the status code, or None when no answer came (and why)."""

    status_code: int | None
    error: str = ""


def post(url: str, *, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """One POST. Redirects are not followed: a redirected POST may lose its body or become a
    GET, so a moved receiver is an error to fix in the destination's URL."""
    try:
        response = requests.post(
            url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        return Answer(None, f"No answer within {timeout:g} s.")
    except requests.RequestException as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:ANSWER_EXCERPT])
    code = response.status_code
    if 200 <= code < 300:
        return Answer(code)
    text = response.text.strip()[:ANSWER_EXCERPT]
    if 300 <= code < 400:
        location = response.headers.get("Location", "")
        return Answer(code, f"Redirected to {location or 'another address'}: set that URL.")
    return Answer(code, f"HTTP {code}: {text}" if text else f"HTTP {code}")


def outcome(answer: Answer) -> str:
    """DELIVERED on 2xx; RETRY on 5xx and when no answer came (connection refused, reset,
    timeout); GIVE_UP on anything else: a 4xx (or a redirect) is the receiver saying no, and
    the same request would get the same answer."""
    code = answer.status_code
    if code is None or code >= 500:
        return RETRY
    if 200 <= code < 300:
        return DELIVERED
    return GIVE_UP


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """The wait before the attempt after `attempt` (1-based): base, 2 x base, 4 x base, ...,
    at most `cap`."""
    return float(min(base * 2 ** max(attempt - 1, 0), cap))
