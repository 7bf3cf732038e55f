"""Pseudonymous patient ids: a keyed hash (HMAC-SHA256) of the hospital's id.

The key never enters the repository, the config or the provenance records: it comes from an
environment variable or a key file outside the repository. Without one, a development key
is used and the run is marked as not for release; a release build refuses to run.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gistlm.extract.errors import ExtractError

if TYPE_CHECKING:  # the Snakefile imports this module: keep pandas out of its start-up
    import pandas as pd

DEVELOPMENT_KEY = b"gistlm development key - not for release"
PREFIX = "PT-"
DIGITS = 16  # 64 bits: no collision expected below billions of patients


def load_key(env_var: str, key_file: str | None, release: bool) -> tuple[bytes, str]:
    """The pseudonymisation key and where it came from ('environment', 'file', 'development')."""
    if value := os.environ.get(env_var, "").strip():
        return value.encode(), "environment"
    if key_file:
        path = Path(key_file).expanduser()
        if not path.is_file():
            raise ExtractError(
                f"privacy.key_file {path} does not exist; create it (e.g. "
                f"`openssl rand -hex 32 > {path}`) or set {env_var}."
            )
        return path.read_bytes().strip(), "file"
    if release:
        raise ExtractError(
            f"a release build needs a pseudonymisation key: set the environment variable "
            f"{env_var} or privacy.key_file (a file outside the repository)."
        )
    return DEVELOPMENT_KEY, "development"


def key_fingerprint(key: bytes) -> str:
    """Identifies the key in params and provenance without revealing it."""
    return hashlib.sha256(b"gistlm key fingerprint:" + key).hexdigest()[:16]


def pseudonymise(ids: pd.Series, key: bytes, namespace: str = "") -> pd.Series:
    """PT-<16 hex> per id; missing ids stay missing; equal ids get equal pseudonyms.

    `namespace` (a site of a multi-centre registry) is hashed with the id, because hospitals
    number their patients independently: P0001 of two sites are two patients.
    """
    return pseudonymise_all([ids], key, namespace)[0]


def pseudonymise_all(columns: list[pd.Series], key: bytes, namespace: str = "") -> list[pd.Series]:
    """`pseudonymise` of each id column, each distinct id hashed once: a site's four tables
    name the same patients (the hashes were a quarter of ingestion at 1M patients)."""
    unique = set().union(*(column.dropna().unique() for column in columns))
    prefix = f"{namespace}/" if namespace else ""
    # hmac.digest: the one-shot C path, a quarter less CPU than hmac.new(...).hexdigest(), same bytes
    mapping = {
        value: PREFIX + hmac.digest(key, f"{prefix}{value}".encode(), "sha256").hex()[:DIGITS] for value in unique
    }
    return [column.map(mapping).astype(object).where(column.notna()) for column in columns]
