"""Secrets come only from environment variables; they are never written to files, logs or
MLflow. `C360_PRIVACY_SALT` keys the salted hashes of erased identifiers (suppression list,
audit log); `C360_ENCRYPTION_KEY` encrypts the warehouse and the restricted output."""

from __future__ import annotations

import hashlib
import hmac
import os

SALT_ENV = "C360_PRIVACY_SALT"
ENCRYPTION_ENV = "C360_ENCRYPTION_KEY"
SECRET_ENVS = (SALT_ENV, ENCRYPTION_ENV)


class MissingSecret(RuntimeError):
    pass


def privacy_salt(required: bool = True) -> bytes | None:
    value = os.environ.get(SALT_ENV, "")
    if not value:
        if required:
            raise MissingSecret(
                f"{SALT_ENV} is not set: erasure needs a secret salt (from the environment "
                "only, never a file) to keep salted hashes of erased identifiers. Keep it "
                "stable: the suppression list only matches with the same salt."
            )
        return None
    return value.encode("utf-8")


def encryption_key() -> str | None:
    return os.environ.get(ENCRYPTION_ENV) or None


def salted_hash(kind: str, value: str, salt: bytes) -> str:
    """HMAC-SHA256 of `kind:value`: the same identifier gives the same hash under one salt,
    and cannot be recovered or recomputed without the salt."""
    return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
