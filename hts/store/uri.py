"""MongoDB URIs: where credentials may come from, which options carry secrets, and how a URI is shown.

Credentials never live in a campaign file: env ``HTS_MONGO_URI``, or a file named by env
``HTS_MONGO_URI_FILE`` (outside any repository), gives the full URI on the machine that connects.
Every URI that hts prints or stores is :func:`redact_uri`'d to scheme, hosts and database.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

__all__ = ["SECRET_OPTIONS", "StoreURIError", "mongo_uri", "redact_uri", "secret_in_uri"]

# URI options whose value is, or may contain, a secret (matched case-insensitively, as MongoDB does)
SECRET_OPTIONS = ("password", "tlscertificatekeyfilepassword", "sslpemkeypassword", "authmechanismproperties",
                  "sslclientcertificatekeypassword", "awssessiontoken", "secret", "token", "apikey")


class StoreURIError(ValueError):
    """A store URI that cannot be used (one-line message)."""


def secret_in_uri(uri: str) -> str | None:
    """What in ``uri`` is a secret (a password, a key-file password, a token), or None."""
    if re.search(r"://[^/@?]*:[^/@?]*@", uri):
        return "a password"
    query = urlsplit(uri).query if "://" in uri else ""
    for key, value in parse_qsl(query, keep_blank_values=True):
        k = key.lower()
        if any(s in k for s in SECRET_OPTIONS) or re.search(r"(TOKEN|SECRET|PASSWORD)", value, re.I):
            return f"the option {key}"
    return None


def redact_uri(uri: str) -> str:
    """``scheme://hosts/database``: no user, password or options."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "(unparsable URI)"
    hosts = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{hosts}{parts.path or '/'}"


def mongo_uri(uri: str | None = None) -> str | None:
    """The MongoDB URI to use: ``uri``, else env HTS_MONGO_URI, else the first line of the file that env
    HTS_MONGO_URI_FILE names."""
    if uri:
        return uri
    if os.environ.get("HTS_MONGO_URI"):
        return os.environ["HTS_MONGO_URI"]
    path = os.environ.get("HTS_MONGO_URI_FILE")
    if path:
        try:
            lines = [ln.strip() for ln in Path(path).expanduser().read_text().splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreURIError(f"HTS_MONGO_URI_FILE={path}: cannot read it ({exc.__class__.__name__})") from None
        if not lines:
            raise StoreURIError(f"HTS_MONGO_URI_FILE={path} is empty")
        return lines[0]
    return None
