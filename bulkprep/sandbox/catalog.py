"""The sandbox's object catalog: the objects a hub offers and their field metadata.

A small Eloqua-style table (the ``marketing`` hub), enough for metadata look-ups and
for the server-side record checks in :mod:`bulkprep.sandbox.worker`.
"""

from __future__ import annotations

from typing import Any

#: Object names in the order ``GET /hubs/{hub}/objects`` lists them.
OBJECTS: tuple[str, ...] = ("activities", "contact", "campaign", "list", "account")

# (vendorPath, type, vendorNativeType, vendorRequired, vendorReadOnly, vendorDisplayName)
_Field = tuple[str, str, str, bool, bool, str]

_FIELDS: dict[str, tuple[_Field, ...]] = {
    "contact": (
        ("C_EmailAddress", "string", "email", True, False, "Email Address"),
        ("C_FirstName", "string", "text", False, False, "First Name"),
        ("C_LastName", "string", "text", False, False, "Last Name"),
        ("C_Title", "string", "text", False, False, "Title"),
        ("C_BusPhone", "string", "phone", False, False, "Business Phone"),
        ("C_Company", "string", "text", False, False, "Company"),
        ("C_Website1", "string", "url", False, False, "Website"),
    ),
    "account": (
        ("M_CompanyName", "string", "text", True, False, "Company Name"),
        ("M_Address1", "string", "text", False, False, "Address 1"),
        ("M_City", "string", "text", False, False, "City"),
        ("M_State_Prov", "string", "text", False, False, "State or Province"),
        ("M_Zip_Postal", "string", "text", False, False, "Zip or Postal Code"),
        ("M_Country", "string", "text", False, False, "Country"),
        ("M_BusPhone", "string", "phone", False, False, "Business Phone"),
    ),
    "campaign": (
        ("id", "string", "numeric", False, True, "Campaign ID"),
        ("name", "string", "text", True, False, "Name"),
        ("description", "string", "largeText", False, False, "Description"),
        ("startAt", "date", "date", False, False, "Start Date"),
        ("endAt", "date", "date", False, False, "End Date"),
        ("budgetedCost", "number", "numeric", False, False, "Budgeted Cost"),
        ("currentStatus", "string", "text", False, True, "Status"),
    ),
    "list": (
        ("id", "string", "numeric", False, True, "List ID"),
        ("name", "string", "text", True, False, "Name"),
        ("description", "string", "largeText", False, False, "Description"),
        ("scope", "string", "text", False, False, "Scope"),
        ("count", "number", "numeric", False, True, "Member Count"),
    ),
    "activities": (
        ("ActivityId", "string", "numeric", False, True, "Activity ID"),
        ("ActivityType", "string", "text", True, False, "Activity Type"),
        ("ActivityDate", "date", "datetime", True, False, "Activity Date"),
        ("EmailAddress", "string", "email", False, False, "Email Address"),
        ("ContactId", "string", "numeric", False, False, "Contact ID"),
        ("AssetName", "string", "text", False, False, "Asset Name"),
        ("AssetType", "string", "text", False, False, "Asset Type"),
        ("CampaignId", "string", "numeric", False, False, "Campaign ID"),
    ),
}


def object_metadata(name: str) -> dict[str, Any] | None:
    """Return ``{"fields": [...]}`` for an object, or ``None`` if the object is unknown."""
    fields = _FIELDS.get(name)
    if fields is None:
        return None
    return {
        "fields": [
            {
                "vendorPath": path,
                "type": type_,
                "vendorNativeType": native,
                "vendorRequired": required,
                "vendorReadOnly": read_only,
                "vendorDisplayName": display,
            }
            for path, type_, native, required, read_only, display in fields
        ]
    }


def field_names(name: str) -> list[str]:
    """Return the vendor paths of an object's fields (empty for an unknown object)."""
    return [field[0] for field in _FIELDS.get(name, ())]
