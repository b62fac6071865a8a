"""The loopback org's metadata: objects, their fields and types, as describe() reports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.salesforce.loopback.ids import KEY_PREFIXES

LEAD_STATUSES = (
    ("Open - Not Contacted", False, True),
    ("Working - Contacted", False, False),
    ("Closed - Converted", True, False),
    ("Closed - Not Converted", False, False),
)
# (name, is_closed, is_won, probability)
OPPORTUNITY_STAGES = (
    ("Prospecting", False, False, 10),
    ("Qualification", False, False, 10),
    ("Needs Analysis", False, False, 20),
    ("Value Proposition", False, False, 50),
    ("Proposal/Price Quote", False, False, 75),
    ("Negotiation/Review", False, False, 90),
    ("Closed Won", True, True, 100),
    ("Closed Lost", True, False, 0),
)
# The Technologies__c multi-select picklist (unrestricted: an org adds its own values).
ACCOUNT_TECHNOLOGIES = (
    "Salesforce",
    "HubSpot",
    "Snowflake",
    "AWS",
    "Azure",
    "Tableau",
    "Looker",
    "Zendesk",
)
TIERS = ("Sales Ready", "Nurture", "Success", "Support", "Low Priority", "Disqualified")
ACCOUNT_PRIORITIES = ("High", "Medium", "Low")


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str  # id string picklist reference boolean currency double int percent date datetime ...
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    custom: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    label: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "length": self.length,
            "precision": 18 if self.type in ("currency", "double", "percent") else 0,
            "scale": 2 if self.type in ("currency", "double", "percent") else 0,
            "nillable": not self.required and self.type != "boolean",
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None or self.type == "boolean",
            "externalId": self.external_id,
            "idLookup": self.external_id or self.type == "id",
            "unique": self.external_id,
            "custom": self.custom,
            "calculated": False,
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": v == self.default}
                for v in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
        }


@dataclass
class ObjectDef:
    name: str
    fields: dict[str, FieldDef]
    label: str = ""
    createable: bool = True
    deletable: bool = True
    _lower: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._lower = {name.lower(): name for name in self.fields}

    @property
    def key_prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    def field(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in SOQL and in JSON bodies."""
        canonical = self._lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def add_field(self, definition: FieldDef) -> None:
        self.fields[definition.name] = definition
        self._lower[definition.name.lower()] = definition.name

    def relationship(self, name: str) -> FieldDef | None:
        for definition in self.fields.values():
            if (
                definition.relationship_name
                and definition.relationship_name.lower() == name.lower()
            ):
                return definition
        return None

    def describe(self, version: str) -> dict[str, Any]:
        return {
            **self.global_entry(version),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [],
            "recordTypeInfos": [],
        }

    def global_entry(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label or self.name,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "queryable": True,
            "createable": self.createable,
            "updateable": self.createable,
            "deletable": self.deletable,
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }


def _ro(name: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name, type_, createable=False, updateable=False, **kw)


def _ref(name: str, *targets: str, relationship: str | None = None, **kw: Any) -> FieldDef:
    return FieldDef(
        name,
        "reference",
        length=18,
        reference_to=targets,
        relationship_name=relationship if relationship is not None else name.removesuffix("Id"),
        **kw,
    )


def _system_fields() -> list[FieldDef]:
    return [
        _ro("Id", "id", length=18),
        _ro("IsDeleted", "boolean"),
        _ro("CreatedDate", "datetime"),
        FieldDef(
            "CreatedById",
            "reference",
            length=18,
            createable=False,
            updateable=False,
            reference_to=("User",),
            relationship_name="CreatedBy",
        ),
        _ro("LastModifiedDate", "datetime"),
        FieldDef(
            "LastModifiedById",
            "reference",
            length=18,
            createable=False,
            updateable=False,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
        ),
        _ro("SystemModstamp", "datetime"),
    ]


def _owner() -> FieldDef:
    return _ref("OwnerId", "User", "Group", relationship="Owner")


def _object(name: str, fields: list[FieldDef], **kw: Any) -> ObjectDef:
    all_fields = _system_fields() + fields
    return ObjectDef(name, {f.name: f for f in all_fields}, **kw)


def default_schema() -> dict[str, ObjectDef]:
    """Standard objects the sync reads, with the custom fields the push writes."""
    s = lambda name, length=255, **kw: FieldDef(name, "string", length=length, **kw)  # noqa: E731
    objects = [
        _object(
            "User",
            [
                s("Username", 80, required=True, external_id=True),
                _ro("Name", "string", length=121),
                s("FirstName", 40),
                s("LastName", 80, required=True),
                FieldDef("Email", "email", length=128, required=True),
                FieldDef("IsActive", "boolean", default=True),
                s("Title", 80),
                s("Department", 80),
                s("UserType", 40, createable=False, updateable=False, default="Standard"),
                _ref("ManagerId", "User"),
            ],
        ),
        _object(
            "Group",
            [s("Name", 40, required=True), s("Type", 40, default="Queue")],
        ),
        _object(
            "Account",
            [
                s("Name", required=True),
                s("Industry", 40),
                FieldDef("AnnualRevenue", "currency"),
                FieldDef("NumberOfEmployees", "int"),
                s("Website"),
                s("BillingCountry", 80),
                s("BillingState", 80),
                s("BillingCity", 40),
                _owner(),
                _ref("ParentId", "Account"),
                s("External_Id__c", 80, external_id=True, custom=True),
                # What the account push writes (docs/salesforce.md, The account push).
                FieldDef(
                    "LeadQual_Priority__c",
                    "picklist",
                    length=40,
                    custom=True,
                    picklist=ACCOUNT_PRIORITIES,
                    restricted=True,
                ),
                FieldDef("LeadQual_Account_Score__c", "double", custom=True),
                # The account feeds an org keeps on the Account (docs/salesforce.md).
                FieldDef("Fiscal_Year_Start_Month__c", "double", custom=True),
                FieldDef("Contract_Renewal_Date__c", "date", custom=True),
                s("Incumbent_Vendor__c", 255, custom=True),
                FieldDef(
                    "Technologies__c",
                    "multipicklist",
                    length=4099,
                    custom=True,
                    picklist=ACCOUNT_TECHNOLOGIES,
                ),
            ],
        ),
        _object(
            "Contact",
            [
                s("FirstName", 40),
                s("LastName", 80, required=True),
                _ro("Name", "string", length=121),
                FieldDef("Email", "email", length=80),
                s("Title", 128),
                s("LeadSource", 40),
                _ref("AccountId", "Account"),
                _owner(),
                s("External_Id__c", 80, external_id=True, custom=True),
            ],
        ),
        _object(
            "Lead",
            [
                s("Salutation", 40),
                s("FirstName", 40),
                s("LastName", 80, required=True),
                _ro("Name", "string", length=121),
                s("Title", 128),
                s("Company", required=True),
                FieldDef("Email", "email", length=80),
                FieldDef("Phone", "phone", length=40),
                s("Website"),
                FieldDef("Description", "textarea", length=32000),
                FieldDef(
                    "LeadSource",
                    "picklist",
                    length=40,
                    picklist=(
                        "Web",
                        "Phone Inquiry",
                        "Partner Referral",
                        "Purchased List",
                        "Other",
                    ),
                ),
                FieldDef(
                    "Status",
                    "picklist",
                    length=40,
                    picklist=tuple(s[0] for s in LEAD_STATUSES),
                    default="Open - Not Contacted",
                ),
                s("Industry", 40),
                FieldDef("Rating", "picklist", length=40, picklist=("Hot", "Warm", "Cold")),
                FieldDef("AnnualRevenue", "currency"),
                FieldDef("NumberOfEmployees", "int"),
                s("City", 40),
                s("State", 80),
                s("Country", 80),
                _owner(),
                _ro("IsConverted", "boolean"),
                _ro("ConvertedDate", "date"),
                _ro(
                    "ConvertedAccountId",
                    "reference",
                    length=18,
                    reference_to=("Account",),
                    relationship_name="ConvertedAccount",
                ),
                _ro(
                    "ConvertedContactId",
                    "reference",
                    length=18,
                    reference_to=("Contact",),
                    relationship_name="ConvertedContact",
                ),
                _ro(
                    "ConvertedOpportunityId",
                    "reference",
                    length=18,
                    reference_to=("Opportunity",),
                    relationship_name="ConvertedOpportunity",
                ),
                _ro(
                    "MasterRecordId",
                    "reference",
                    length=18,
                    reference_to=("Lead",),
                    relationship_name="MasterRecord",
                ),
                FieldDef("Score__c", "double", custom=True),
                FieldDef(
                    "Tier__c", "picklist", length=40, custom=True, picklist=TIERS, restricted=True
                ),
                FieldDef("Brief__c", "textarea", length=32768, custom=True),
                FieldDef("Top_Reasons__c", "textarea", length=1000, custom=True),
                s("External_Id__c", 80, external_id=True, custom=True),
            ],
        ),
        _object(
            "Opportunity",
            [
                s("Name", 120, required=True),
                _ref("AccountId", "Account"),
                FieldDef(
                    "StageName",
                    "picklist",
                    length=255,
                    required=True,
                    picklist=tuple(s[0] for s in OPPORTUNITY_STAGES),
                ),
                FieldDef("CloseDate", "date", required=True),
                FieldDef("Amount", "currency"),
                FieldDef("Probability", "percent"),
                _ro("IsClosed", "boolean"),
                _ro("IsWon", "boolean"),
                s("Type", 40),
                s("LeadSource", 40),
                _owner(),
                _ref("ContactId", "Contact"),
                s("External_Id__c", 80, external_id=True, custom=True),
            ],
        ),
        _object(
            "Task",
            [
                s("Subject"),
                _ref("WhoId", "Lead", "Contact", relationship="Who"),
                _ref("WhatId", "Account", "Opportunity", relationship="What"),
                _owner(),
                FieldDef(
                    "Status",
                    "picklist",
                    length=40,
                    default="Not Started",
                    picklist=("Not Started", "In Progress", "Completed"),
                ),
                _ro("IsClosed", "boolean"),
                FieldDef("ActivityDate", "date"),
                FieldDef("TaskSubtype", "picklist", length=40, picklist=("Task", "Email", "Call")),
                FieldDef("CallDurationInSeconds", "int"),
                _ro("IsArchived", "boolean"),
            ],
        ),
        _object(
            "Event",
            [
                s("Subject"),
                _ref("WhoId", "Lead", "Contact", relationship="Who"),
                _ref("WhatId", "Account", "Opportunity", relationship="What"),
                _owner(),
                FieldDef("StartDateTime", "datetime"),
                FieldDef("EndDateTime", "datetime"),
                FieldDef("ActivityDateTime", "datetime"),
                FieldDef("DurationInMinutes", "int"),
                FieldDef("IsAllDayEvent", "boolean"),
                _ro("IsArchived", "boolean"),
            ],
        ),
        _object(
            "LeadStatus",
            [
                _ro("MasterLabel", "string", length=255),
                _ro("ApiName", "string", length=255),
                _ro("IsConverted", "boolean"),
                _ro("IsDefault", "boolean"),
                _ro("SortOrder", "int"),
            ],
            createable=False,
            deletable=False,
        ),
        _object(
            "OpportunityStage",
            [
                _ro("MasterLabel", "string", length=255),
                _ro("ApiName", "string", length=255),
                _ro("IsActive", "boolean"),
                _ro("IsClosed", "boolean"),
                _ro("IsWon", "boolean"),
                _ro("DefaultProbability", "percent"),
                _ro("SortOrder", "int"),
            ],
            createable=False,
            deletable=False,
        ),
    ]
    return {o.name: o for o in objects}
