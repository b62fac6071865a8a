"""The loopback org: records in memory behind one lock, with Salesforce's write semantics.

Every write validates like Salesforce (required fields, read-only fields, lengths, restricted
picklists, references, converted leads), stamps SystemModstamp/LastModifiedDate from an
injectable clock at second resolution, and runs the lead assignment rule unless the request
said ``Sforce-Auto-Assign: FALSE``. Deletes are soft (IsDeleted) so queryAll still sees them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from accounts.salesforce.loopback import soql
from accounts.salesforce.loopback.ids import IdFactory, looks_like_id, to18
from accounts.salesforce.loopback.schema import (
    LEAD_STATUSES,
    OPPORTUNITY_STAGES,
    FieldDef,
    ObjectDef,
    default_schema,
)

# Field values are immutable (str, int, float, bool, date, datetime, None), so a shallow
# dict() is a full copy: deepcopy made a 50,000-row query ten times slower.
Record = dict[str, Any]
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)
INTEGRATION_USERNAME = "integration@loopback.example.com"


class SfError(Exception):
    """A Salesforce error answer: HTTP status, errorCode, message, fields."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
        super().__init__(f"{status} {code}: {message}")

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


class Clock:
    """Second-resolution UTC clock; real time unless a test sets or advances it."""

    def __init__(self) -> None:
        self._fixed: dt.datetime | None = None
        self._offset = dt.timedelta()

    def now(self) -> dt.datetime:
        base = self._fixed or dt.datetime.now(dt.UTC)
        return (base + self._offset).replace(microsecond=0)

    def set(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("Clock.set needs an aware datetime")
        self._fixed, self._offset = moment.astimezone(dt.UTC), dt.timedelta()

    def advance(self, seconds: float) -> None:
        self._offset += dt.timedelta(seconds=seconds)


def format_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def to_json(fdef: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def to_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass
class Cursor:
    rows: list[Record]
    total: int
    object_name: str
    page_size: int = 2000
    pages_served: int = 0


class OrgStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = IdFactory()
        self.schema: dict[str, ObjectDef] = default_schema()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
        self.org_id = self.ids.new("00D")
        # Lead assignment rule: an owner id, or a function of the lead returning one; None = off.
        self.assignment_rule: str | Callable[[Record], str] | None = None
        self.cursors: dict[str, Cursor] = {}
        # Who the current request acts as (its token's user), per server thread.
        self._local = threading.local()
        self.integration_user_id = self._insert_raw(
            "User",
            {
                "Username": INTEGRATION_USERNAME,
                "FirstName": "Integration",
                "LastName": "User",
                "Email": INTEGRATION_USERNAME,
                "IsActive": True,
                "UserType": "Standard",
            },
        )
        # Seeded rows and back-door changes (conversions) are made by a person, not the API
        # user, so a sync can tell its own echoes (LastModifiedById) from real changes.
        self.admin_user_id = self._insert_raw(
            "User",
            {
                "Username": "admin@loopback.example.com",
                "FirstName": "Org",
                "LastName": "Admin",
                "Email": "admin@loopback.example.com",
                "IsActive": True,
            },
        )
        for order, (name, converted, default) in enumerate(LEAD_STATUSES, start=1):
            self._insert_raw(
                "LeadStatus",
                {
                    "MasterLabel": name,
                    "ApiName": name,
                    "IsConverted": converted,
                    "IsDefault": default,
                    "SortOrder": order,
                },
            )
        for order, (name, closed, won, probability) in enumerate(OPPORTUNITY_STAGES, start=1):
            self._insert_raw(
                "OpportunityStage",
                {
                    "MasterLabel": name,
                    "ApiName": name,
                    "IsActive": True,
                    "IsClosed": closed,
                    "IsWon": won,
                    "DefaultProbability": probability,
                    "SortOrder": order,
                },
            )

    @property
    def actor(self) -> str:
        """The user writes are stamped with (CreatedById, LastModifiedById, default owner)."""
        return getattr(self._local, "user_id", None) or self.integration_user_id

    @contextlib.contextmanager
    def acting_as(self, user_id: str) -> Iterator[None]:
        previous = getattr(self._local, "user_id", None)
        self._local.user_id = user_id
        try:
            yield
        finally:
            self._local.user_id = previous

    # --- lookups --------------------------------------------------------------------------

    def object(self, name: str) -> ObjectDef:
        for key, definition in self.schema.items():
            if key.lower() == name.lower():
                return definition
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    def object_for_id(self, record_id: str) -> str | None:
        prefix = record_id[:3]
        for name, definition in self.schema.items():
            if definition.key_prefix == prefix and to18(record_id) in self.records[name]:
                return name
        return None

    def get(self, obj: str, record_id: str, *, include_deleted: bool = False) -> Record:
        """A copy of one record; 404 NOT_FOUND or ENTITY_IS_DELETED like the REST API."""
        with self.lock:
            definition = self.object(obj)
            record = (
                self.records[definition.name].get(to18(record_id))
                if looks_like_id(record_id)
                else None
            )
            if record is None:
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            if record["IsDeleted"] and not include_deleted:
                raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted")
            return dict(record)

    def all(self, obj: str, *, include_deleted: bool = True) -> list[Record]:
        with self.lock:
            rows = self.records[self.object(obj).name].values()
            return [dict(r) for r in rows if include_deleted or not r["IsDeleted"]]

    def find_by(self, obj: str, field_name: str, value: Any) -> list[str]:
        with self.lock:
            definition = self.object(obj)
            fdef = definition.field(field_name)
            if fdef is None:
                raise SfError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {field_name}",
                )
            wanted = str(value).lower()
            return [
                record_id
                for record_id, record in self.records[definition.name].items()
                if not record["IsDeleted"]
                and record.get(fdef.name) is not None
                and str(record[fdef.name]).lower() == wanted
            ]

    # --- writes ---------------------------------------------------------------------------

    def create(self, obj: str, values: Mapping[str, Any], *, auto_assign: bool = True) -> str:
        with self.lock:
            definition = self.object(obj)
            if not definition.createable:
                raise SfError(
                    400,
                    "INVALID_TYPE_FOR_OPERATION",
                    f"entity type {definition.name} does not support insert",
                )
            record: Record = dict.fromkeys(definition.fields)
            for fdef in definition.fields.values():
                if fdef.type == "boolean":
                    record[fdef.name] = bool(fdef.default)
                elif fdef.default is not None:
                    record[fdef.name] = fdef.default
            record["OwnerId"] = self.actor if "OwnerId" in definition.fields else None
            self._apply(definition, record, values, creating=True)
            self._finish(definition, record, creating=True, auto_assign=auto_assign)
            self.records[definition.name][record["Id"]] = record
            return str(record["Id"])

    def update(
        self, obj: str, record_id: str, values: Mapping[str, Any], *, auto_assign: bool = True
    ) -> None:
        with self.lock:
            definition = self.object(obj)
            current = self.get(definition.name, record_id)
            if definition.name == "Lead" and current["IsConverted"]:
                raise SfError(
                    400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"
                )
            self._apply(definition, current, values, creating=False)
            self._finish(definition, current, creating=False, auto_assign=auto_assign)
            self.records[definition.name][current["Id"]] = current

    def upsert(
        self,
        obj: str,
        ext_field: str,
        ext_value: str,
        values: Mapping[str, Any],
        *,
        auto_assign: bool = True,
    ) -> tuple[str, bool]:
        """(id, created). Several matches give 300, like the REST API."""
        with self.lock:
            definition = self.object(obj)
            fdef = definition.field(ext_field)
            if fdef is None or not (fdef.external_id or fdef.type == "id"):
                raise SfError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {ext_field}",
                )
            body = {k: v for k, v in values.items() if k.lower() != fdef.name.lower()}
            matches = self.find_by(definition.name, fdef.name, ext_value) if ext_value else []
            if len(matches) > 1:
                raise SfError(
                    300, "MULTIPLE_RECORDS", f"Multiple records found for {fdef.name}={ext_value}"
                )
            if matches:
                self.update(definition.name, matches[0], body, auto_assign=auto_assign)
                return matches[0], False
            if fdef.type == "id":
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            return self.create(
                definition.name, {**body, fdef.name: ext_value}, auto_assign=auto_assign
            ), True

    def delete(self, obj: str, record_id: str) -> None:
        with self.lock:
            definition = self.object(obj)
            if not definition.deletable or definition.name == "User":
                raise SfError(
                    400, "DELETE_FAILED", f"entity type {definition.name} cannot be deleted"
                )
            record = self.get(definition.name, record_id)
            now = self.clock.now()
            record.update(
                IsDeleted=True,
                SystemModstamp=now,
                LastModifiedDate=now,
                LastModifiedById=self.actor,
            )
            self.records[definition.name][record["Id"]] = record

    def hard_delete(self, obj: str, record_id: str) -> None:
        with self.lock:
            self.records[self.object(obj).name].pop(to18(record_id), None)

    def undelete(self, obj: str, record_id: str) -> None:
        with self.lock:
            record = self.get(obj, record_id, include_deleted=True)
            now = self.clock.now()
            record.update(IsDeleted=False, SystemModstamp=now, LastModifiedDate=now)
            self.records[self.object(obj).name][record["Id"]] = record

    def seed(
        self,
        obj: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        system_modstamp: dt.datetime | None = None,
    ) -> list[str]:
        """Insert rows as an admin data load would: read-only fields (IsConverted, CreatedDate,
        SystemModstamp...) may be given; references are not checked. For fixtures only."""
        with self.lock:
            return [self._insert_raw(obj, row, system_modstamp=system_modstamp) for row in rows]

    def set_system_modstamp(self, obj: str, record_id: str, moment: dt.datetime) -> None:
        with self.lock:
            self.records[self.object(obj).name][to18(record_id)]["SystemModstamp"] = moment

    def _insert_raw(
        self, obj: str, row: Mapping[str, Any], *, system_modstamp: dt.datetime | None = None
    ) -> str:
        definition = self.object(obj)
        now = system_modstamp or self.clock.now()
        record: Record = {
            f: (bool(d.default) if d.type == "boolean" else d.default)
            for f, d in definition.fields.items()
        }
        if "OwnerId" in record and getattr(self, "integration_user_id", None):
            record["OwnerId"] = self.integration_user_id
        for key, value in row.items():
            fdef = definition.field(key)
            if fdef is None:
                raise KeyError(
                    f"{definition.name} has no field {key!r} (add it with add_custom_field)"
                )
            record[fdef.name] = self._coerce(definition, fdef, value, check_refs=False)
        record["Id"] = (
            to18(record["Id"]) if record.get("Id") else self.ids.new(definition.key_prefix)
        )
        record["IsDeleted"] = bool(record.get("IsDeleted"))
        record["CreatedDate"] = record.get("CreatedDate") or now
        record["LastModifiedDate"] = record.get("LastModifiedDate") or now
        record["SystemModstamp"] = system_modstamp or record.get("SystemModstamp") or now
        user = (
            getattr(self, "admin_user_id", None)
            or getattr(self, "integration_user_id", None)
            or record["Id"]
        )
        record["CreatedById"] = record.get("CreatedById") or user
        record["LastModifiedById"] = record.get("LastModifiedById") or user
        self._derive(definition, record, explicit=set(row))
        self.records[definition.name][record["Id"]] = record
        return str(record["Id"])

    def _apply(
        self, definition: ObjectDef, record: Record, values: Mapping[str, Any], *, creating: bool
    ) -> None:
        unknown = [k for k in values if k != "attributes" and definition.field(k) is None]
        if unknown:
            raise SfError(
                400,
                "INVALID_FIELD",
                f"No such column '{unknown[0]}' on sobject of type {definition.name}",
                unknown[:1],
            )
        read_only = [
            fdef.name
            for key in values
            if key != "attributes"
            and (fdef := definition.field(key)) is not None
            and not (fdef.createable if creating else fdef.updateable)
            and not (fdef.name == "Id" and not creating)
        ]
        if read_only:
            raise SfError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
                f"security "
                f"settings of this field and verify that it is read/write for your profile or "
                f"permission set.",
                read_only,
            )
        for key, value in values.items():
            if key == "attributes" or key.lower() == "id":
                continue
            fdef = definition.field(key)
            assert fdef is not None
            record[fdef.name] = self._coerce(definition, fdef, value, check_refs=True)
        explicit = {f.name for k in values if k != "attributes" and (f := definition.field(k))}
        self._derive(definition, record, explicit=explicit)

    def _finish(
        self, definition: ObjectDef, record: Record, *, creating: bool, auto_assign: bool
    ) -> None:
        if definition.name == "Lead" and auto_assign and self.assignment_rule is not None:
            rule = self.assignment_rule
            record["OwnerId"] = rule(dict(record)) if callable(rule) else rule
        missing = [
            f.name
            for f in definition.fields.values()
            if f.required and f.createable and record.get(f.name) in (None, "")
        ]
        if missing:
            raise SfError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        now = self.clock.now()
        if creating:
            record["Id"] = self.ids.new(definition.key_prefix)
            record["IsDeleted"] = False
            record["CreatedDate"] = now
            record["CreatedById"] = self.actor
        record["LastModifiedDate"] = now
        record["LastModifiedById"] = self.actor
        record["SystemModstamp"] = now

    def _derive(self, definition: ObjectDef, record: Record, *, explicit: set[str]) -> None:
        if definition.name in ("Lead", "Contact", "User"):
            record["Name"] = (
                " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
            )
        if definition.name == "Opportunity" and record.get("StageName"):
            stage = next((s for s in OPPORTUNITY_STAGES if s[0] == record["StageName"]), None)
            if stage is not None:
                record["IsClosed"], record["IsWon"] = stage[1], stage[2]
                if "Probability" not in explicit:
                    record["Probability"] = float(stage[3])
        if definition.name == "Task":
            record["IsClosed"] = record.get("Status") == "Completed"

    def _coerce(
        self, definition: ObjectDef, fdef: FieldDef, value: Any, *, check_refs: bool
    ) -> Any:
        if value is None or (value == "" and fdef.type not in ("string", "textarea")):
            return None
        label = fdef.name.removesuffix("__c")
        try:
            if fdef.type == "boolean":
                if isinstance(value, str):
                    return value.strip().lower() in ("true", "1")
                return bool(value)
            if fdef.type == "int":
                return int(float(value))
            if fdef.type in soql.NUMERIC:
                return float(value)
            if fdef.type == "datetime":
                if isinstance(value, dt.datetime):
                    return value.astimezone(dt.UTC).replace(microsecond=0)
                return soql.parse_datetime_literal(str(value)).replace(microsecond=0)
            if fdef.type == "date":
                if isinstance(value, dt.date):
                    return value if not isinstance(value, dt.datetime) else value.date()
                return dt.date.fromisoformat(str(value)[:10])
        except (TypeError, ValueError) as exc:
            raise SfError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {fdef.type} from value {value!r} for {fdef.name}",
            ) from exc
        if fdef.type in ("reference", "id"):
            text = str(value)
            if not looks_like_id(text):
                raise SfError(
                    400, "MALFORMED_ID", f"{label}: id value of incorrect type: {text}", [fdef.name]
                )
            text = to18(text)
            if check_refs and fdef.type == "reference":
                target = self.object_for_id(text)
                if target is None or target not in fdef.reference_to:
                    raise SfError(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        f"invalid cross reference id: {text}",
                        [fdef.name],
                    )
                if (
                    fdef.name == "OwnerId"
                    and target == "User"
                    and not self.records["User"][text]["IsActive"]
                ):
                    raise SfError(
                        400,
                        "INACTIVE_OWNER_OR_USER",
                        f"operation performed with inactive user [{text}] as owner of "
                        f"{definition.name.lower()}",
                        [fdef.name],
                    )
            return text
        text = value if isinstance(value, str) else str(value)
        if fdef.length and len(text) > fdef.length:
            raise SfError(
                400,
                "STRING_TOO_LONG",
                f"{label}: data value too large: {text[:40]} (max length={fdef.length})",
                [fdef.name],
            )
        if fdef.restricted and text not in fdef.picklist:
            raise SfError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {text}",
                [fdef.name],
            )
        return text

    # --- back-doors -------------------------------------------------------------------------

    def set_lead_assignment_rule(self, owner: str | Callable[[Record], str] | None) -> None:
        """Activate (owner id or function of the lead) or deactivate (None) the lead rule."""
        with self.lock:
            self.assignment_rule = owner

    def add_custom_field(
        self,
        obj: str,
        name: str,
        type_: str = "string",
        *,
        length: int = 255,
        external_id: bool = False,
        picklist: tuple[str, ...] = (),
        restricted: bool = False,
    ) -> None:
        with self.lock:
            definition = self.object(obj)
            definition.add_field(
                FieldDef(
                    name,
                    type_,
                    length=length,
                    external_id=external_id,
                    custom=True,
                    picklist=picklist,
                    restricted=restricted,
                )
            )
            for record in self.records[definition.name].values():
                record.setdefault(name, False if type_ == "boolean" else None)

    def convert_lead(
        self,
        lead_id: str,
        *,
        converted_status: str = "Closed - Converted",
        account_id: str | None = None,
        create_opportunity: bool = True,
        opportunity_name: str | None = None,
    ) -> dict[str, str | None]:
        """SOAP convertLead() semantics (the REST API has no convert): creates the account,
        contact and optionally opportunity, re-parents activities, makes the lead read-only."""
        with self.lock, self.acting_as(self.admin_user_id):
            lead = self.get("Lead", lead_id)
            if lead["IsConverted"]:
                raise SfError(
                    400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"
                )
            owner = (
                lead["OwnerId"]
                if self.object_for_id(lead["OwnerId"]) == "User"
                else self.integration_user_id
            )
            if account_id is None:
                account_id = self.create(
                    "Account",
                    {"Name": lead["Company"], "OwnerId": owner, "Industry": lead.get("Industry")},
                    auto_assign=False,
                )
            contact_id = self.create(
                "Contact",
                {
                    "FirstName": lead.get("FirstName"),
                    "LastName": lead["LastName"],
                    "Email": lead.get("Email"),
                    "Title": lead.get("Title"),
                    "AccountId": account_id,
                    "OwnerId": owner,
                    "LeadSource": lead.get("LeadSource"),
                },
                auto_assign=False,
            )
            opportunity_id = None
            today = self.clock.now().date()
            if create_opportunity:
                opportunity_id = self.create(
                    "Opportunity",
                    {
                        "Name": opportunity_name or f"{lead['Company']}-",
                        "AccountId": account_id,
                        "StageName": OPPORTUNITY_STAGES[0][0],
                        "CloseDate": (today + dt.timedelta(days=30)).isoformat(),
                        "OwnerId": owner,
                        "LeadSource": lead.get("LeadSource"),
                        "ContactId": contact_id,
                    },
                    auto_assign=False,
                )
            now = self.clock.now()
            lead.update(
                IsConverted=True,
                Status=converted_status,
                ConvertedDate=today,
                ConvertedAccountId=account_id,
                ConvertedContactId=contact_id,
                ConvertedOpportunityId=opportunity_id,
                SystemModstamp=now,
                LastModifiedDate=now,
                LastModifiedById=self.actor,
            )
            self.records["Lead"][lead["Id"]] = lead
            for activity in ("Task", "Event"):
                for record in self.records[activity].values():
                    if record.get("WhoId") == lead["Id"]:
                        record.update(
                            WhoId=contact_id,
                            WhatId=opportunity_id or account_id,
                            SystemModstamp=now,
                        )
            return {
                "account_id": account_id,
                "contact_id": contact_id,
                "opportunity_id": opportunity_id,
            }

    # --- queries ----------------------------------------------------------------------------

    def get_path(self, record: Record, chain: list[FieldDef]) -> Any:
        current: Record | None = record
        for fdef in chain[:-1]:
            ref = current.get(fdef.name) if current else None
            target = self.object_for_id(ref) if ref else None
            current = self.records[target].get(str(ref)) if target else None
            if current is None:
                return None
        return current.get(chain[-1].name) if current else None

    def select(self, text: str, *, include_deleted: bool) -> tuple[soql.Query, list[Record]]:
        """Parse, bind and run a SELECT; returns the bound query and matching records (copies
        taken under the lock, so a cursor is a stable snapshot)."""
        with self.lock:
            query = soql.bind(soql.parse(text), self.schema, self.clock.now().date())
            rows = [
                r
                for r in self.records[query.object_name].values()
                if (include_deleted or not r["IsDeleted"])
                and soql.matches(query.where, r, self.get_path)
            ]
            rows = soql.sort_records(query, rows, self.get_path)
            start = query.offset or 0
            end = start + query.limit if query.limit is not None else None
            return query, [dict(r) for r in rows[start:end]]

    def project(self, query: soql.Query, record: Record, version: str) -> Record:
        """One QueryResult record: selected fields, relationship fields as nested objects."""
        out: Record = {"attributes": self.attributes(query.object_name, record["Id"], version)}
        for path in query.paths:
            chain = query.chains[path]
            if len(chain) == 1:
                out[chain[0].name] = to_json(chain[0], record.get(chain[0].name))
                continue
            node = out
            current: Record | None = record
            for fdef in chain[:-1]:
                ref = current.get(fdef.name) if current else None
                target = self.object_for_id(ref) if ref else None
                current = self.records[target].get(str(ref)) if target else None
                key = fdef.relationship_name or fdef.name
                if current is None or target is None:
                    node[key] = None
                    break
                if not isinstance(node.get(key), dict):
                    node[key] = {"attributes": self.attributes(target, current["Id"], version)}
                node = node[key]
            else:
                node[chain[-1].name] = to_json(
                    chain[-1], current.get(chain[-1].name) if current else None
                )
        return out

    def serialize(
        self, obj: str, record: Record, version: str, fields: list[str] | None = None
    ) -> Record:
        definition = self.object(obj)
        out: Record = {"attributes": self.attributes(definition.name, record["Id"], version)}
        for name, fdef in definition.fields.items():
            if fields is None or name.lower() in {f.lower() for f in fields}:
                out[name] = to_json(fdef, record.get(name))
        return out

    @staticmethod
    def attributes(obj: str, record_id: str, version: str) -> dict[str, str]:
        return {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{record_id}"}
