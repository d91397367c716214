"""Which canonical columns identify a person, and their normalised form.

The canonical column names of the source contracts (and the staging models) are the link
between a source row and a person: record keys of the customer records and of the events
that belong to them, and the contact identifiers. The same normalisation runs when an
erasure builds the suppression list and when the loader checks incoming rows against it.
"""

from __future__ import annotations

from pipelines.privacy.secrets import salted_hash
from pipelines.standardise import normalize_email, normalize_phone

# canonical column -> kind of identifier
IDENTIFYING_COLUMNS = {
    "crm_contact_id": "crm_contact",
    "shop_customer_id": "shop_customer",
    "social_profile_id": "social_profile",
    "shop_order_id": "shop_order",
    "email": "email",
    "phone": "phone",
    "mobile_phone": "phone",
    "phone_e164": "phone",
}
# record kinds by the source_system of a customer record
RECORD_KINDS = {"crm": "crm_contact", "shop": "shop_customer", "social": "social_profile"}


def normalise(kind: str, value, region: str | None = None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if kind == "email":
        return normalize_email(text)
    if kind == "phone":
        if text.startswith("+") and normalize_phone(text) == text:
            return text
        return normalize_phone(text, region)
    return text


def identifier_hash(kind: str, value, region: str | None, salt: bytes) -> str | None:
    norm = normalise(kind, value, region)
    return None if norm is None else salted_hash(kind, norm, salt)
