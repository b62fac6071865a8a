"""Salesforce Users → sales reps: the pull handler for the User object.

A user is matched to a rep by ``SalesRep.salesforce_user_id``; an unmatched one is linked to the
Django user with the same email (creating that user, with no usable password, when there is
none) and gets a rep profile. New reps are inactive unless SALESFORCE_SYNC_NEW_REPS_ACTIVE is on:
routing must not start sending leads to someone before a manager has set their capacity,
territories and skills. A user deactivated in Salesforce deactivates the rep; reactivation is
left to a manager, for the same reason.

Lives in routing, not beside the pull in accounts: reps are routing's, and accounts must not
import routing. The sync hands it to ``salesforce_pull(handlers=...)``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.functions import Lower

from accounts.salesforce.pull import PullCounts
from routing.models import SalesRep

logger = logging.getLogger(__name__)

# Salesforce user types that are people who can own leads; the others are portal, chatter-only
# or automated users.
REP_USER_TYPES = frozenset({"Standard", ""})


class SalesforceUserHandler:
    """A ``PullHandler`` for "User" (accounts.salesforce.pull)."""

    object_name = "User"
    fields: Sequence[str] = (
        "Id",
        "Username",
        "Email",
        "FirstName",
        "LastName",
        "IsActive",
        "UserType",
        "Department",
    )

    def __init__(
        self, *, integration_username: str | None = None, new_reps_active: bool | None = None
    ) -> None:
        # The integration user writes the push; it is not a person to route leads to.
        username = (
            settings.SALESFORCE_USERNAME if integration_username is None else integration_username
        )
        self.integration_username = username.strip().lower()
        self.new_reps_active = (
            settings.SALESFORCE_SYNC_NEW_REPS_ACTIVE if new_reps_active is None else new_reps_active
        )

    def _is_person(self, record: Mapping[str, Any]) -> bool:
        username = str(record.get("Username") or "").lower()
        return (
            bool(username)
            and username != self.integration_username
            and str(record.get("UserType") or "") in REP_USER_TYPES
        )

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        counts = PullCounts()
        ids = [str(r["Id"]) for r in records if r.get("Id")]
        reps = {
            rep.salesforce_user_id: rep
            for rep in SalesRep.objects.filter(salesforce_user_id__in=ids).select_related("user")
        }
        emails = {
            str(r.get("Email") or "").lower()
            for r in records
            if r.get("Id") not in reps and r.get("Email")
        }
        user_model = get_user_model()
        users_by_email: dict[str, list[Any]] = defaultdict(list)
        for user in (
            user_model.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .select_related("sales_rep")
        ):
            users_by_email[user.email_lower].append(user)

        with transaction.atomic():
            for record in records:
                sf_id = str(record.get("Id") or "")
                if not sf_id or not self._is_person(record):
                    counts.skipped += 1
                    continue
                rep = reps.get(sf_id)
                if rep is not None:
                    if self._update(rep, record, dry_run=dry_run):
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
                    continue
                outcome = self._link_or_create(
                    sf_id, record, users_by_email, user_model, dry_run=dry_run
                )
                if outcome == "created":
                    counts.created += 1
                elif outcome == "linked":
                    counts.updated += 1
                elif outcome == "skipped":
                    counts.skipped += 1
                else:
                    logger.warning("Salesforce user %s not made a rep: %s", sf_id, outcome)
                    counts.error(self.object_name, sf_id, outcome)
            if dry_run:
                transaction.set_rollback(True)
        return counts

    def _update(self, rep: SalesRep, record: Mapping[str, Any], *, dry_run: bool) -> bool:
        if record.get("IsActive") is False and rep.is_active:
            if not dry_run:
                rep.is_active = False
                rep.save(update_fields=["is_active"])
            logger.info(
                "Rep %s deactivated: Salesforce user %s is inactive", rep.pk, rep.salesforce_user_id
            )
            return True
        return False

    def _link_or_create(
        self,
        sf_id: str,
        record: Mapping[str, Any],
        users_by_email: Mapping[str, list[Any]],
        user_model: Any,
        *,
        dry_run: bool,
    ) -> str:
        """ "created", "linked", "skipped", or why the user cannot be made a rep."""
        email = str(record.get("Email") or "").strip().lower()
        active = record.get("IsActive") is not False
        matches = users_by_email.get(email, []) if email else []
        if len(matches) > 1:
            return f"{len(matches)} users have the email {email}: link one by hand"
        if matches:
            user = matches[0]
            rep: SalesRep | None = getattr(user, "sales_rep", None)
            if rep is not None:
                if rep.salesforce_user_id:
                    return (
                        f"the rep with the email {email} is already Salesforce user "
                        f"{rep.salesforce_user_id}"
                    )
                rep.salesforce_user_id = sf_id
                fields = ["salesforce_user_id"]
                if not active and rep.is_active:
                    rep.is_active = False
                    fields.append("is_active")
                rep.save(update_fields=fields)
                return "linked"
            if not active:
                return "skipped"
            self._create_rep(user, sf_id, record)
            return "created"
        if not active:
            return "skipped"
        username = str(record.get("Username") or "").strip()[:150]
        if user_model.objects.filter(username=username).exists():
            return f"the username {username} belongs to a user with another email"
        user = user_model(
            username=username,
            email=email,
            first_name=str(record.get("FirstName") or "")[:150],
            last_name=str(record.get("LastName") or "")[:150],
        )
        # Created for routing, not for signing in: a password reset gives them access.
        user.set_unusable_password()
        user.save()
        self._create_rep(user, sf_id, record)
        return "created"

    def _create_rep(self, user: Any, sf_id: str, record: Mapping[str, Any]) -> SalesRep:
        return SalesRep.objects.create(
            user=user,
            salesforce_user_id=sf_id,
            team=str(record.get("Department") or "")[:100],
            is_active=self.new_reps_active,
        )

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        """Salesforce deactivates users rather than deleting them; a rep whose user is gone
        is deactivated (its assignments and history stay)."""
        reps = SalesRep.objects.filter(salesforce_user_id__in=list(salesforce_ids), is_active=True)
        if dry_run:
            return reps.count()
        return reps.update(is_active=False)
