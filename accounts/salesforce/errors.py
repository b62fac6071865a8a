"""The project's own Salesforce exceptions.

Callers never see simple-salesforce's or requests' exceptions: the client maps them here, so
the sync can decide per class what to do (retry, re-login, stop the run, skip one record).
"""

from __future__ import annotations


class SalesforceError(Exception):
    """Any failure talking to Salesforce, with Salesforce's own error code and message."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        status: int | None = None,
        fields: tuple[str, ...] = (),
        url: str = "",
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields
        self.url = url
        where = f" ({status} {url})" if status is not None and url else ""
        prefix = f"{code}: " if code else ""
        super().__init__(f"{prefix}{message}{where}")


class SalesforceDisabled(SalesforceError):
    """SALESFORCE_ENABLED is off: nothing may call Salesforce."""


class SalesforceConfigError(SalesforceError):
    """The SALESFORCE_* settings do not describe a usable login."""


class SalesforceAuthError(SalesforceError):
    """Login refused (bad credentials, unknown connected app, bad JWT)."""


class SalesforceSessionExpired(SalesforceAuthError):
    """The session is invalid and one re-login did not help (or none is possible)."""


class SalesforceRetryable(SalesforceError):
    """A transient fault (5xx, UNABLE_TO_LOCK_ROW, timeout, connection reset) that outlived the
    client's bounded retries."""


class SalesforceLimitExceeded(SalesforceError):
    """The org's API allocation is used up (REQUEST_LIMIT_EXCEEDED) or the last seen usage is
    over SALESFORCE_API_USAGE_STOP_SHARE: stop the run and try again later, never in a loop."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "REQUEST_LIMIT_EXCEEDED",
        status: int | None = None,
        url: str = "",
        used: int | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, url=url)
        self.used = used
        self.limit = limit


class SalesforceNotFound(SalesforceError):
    """The record or resource does not exist (or is deleted)."""


class SalesforceRecordRejected(SalesforceError):
    """Salesforce refused one record's write (validation, bad field, bad reference): retrying
    it is pointless; the caller records it and goes on with the others."""


class SalesforceConvertedLead(SalesforceRecordRejected):
    """CANNOT_UPDATE_CONVERTED_LEAD: a converted lead is read-only; skip it."""


class SalesforceQueryError(SalesforceError):
    """The SOQL was refused (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, ...)."""


class SalesforceBulkJobFailed(SalesforceError):
    """A Bulk API 2.0 job ended Failed or Aborted."""
