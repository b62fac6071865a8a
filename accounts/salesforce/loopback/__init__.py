"""A Salesforce-compatible loopback server (tests and the demo): see docs/salesforce.md."""

from accounts.salesforce.loopback.faults import Faults
from accounts.salesforce.loopback.server import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    LoopbackServer,
)
from accounts.salesforce.loopback.store import INTEGRATION_USERNAME, Clock, OrgStore, SfError

__all__ = [
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_PASSWORD",
    "DEFAULT_SECURITY_TOKEN",
    "INTEGRATION_USERNAME",
    "Clock",
    "Faults",
    "LoopbackServer",
    "OrgStore",
    "SfError",
]
