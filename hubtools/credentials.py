"""Credentials: never recorded by a run, and refused wherever they slipped into what a push would publish.

A configuration key that holds a credential (``training.hub_token``, any ``*_token`` of a Hub client, passwords,
API keys) is dropped from everything a run writes for others: results.json's configuration, the recorded command
line, the cards and the resume fingerprint. :func:`has_token` finds a Hugging Face access token in any bytes, so
``hubtools push`` refuses a file that carries one whatever its name or suffix.
"""

from __future__ import annotations

import re
from typing import Any

# Keys of the configuration (any section) whose values are credentials.
_SECRET_KEY = re.compile(r"(?:^|_)(?:hub_token|hf_token|auth_token|access_token|password|passwd|secret|api_key"
                         r"|apikey|credentials)$|^token$", re.IGNORECASE)
# A Hugging Face user access token: ``hf_`` and 34 letters or digits (older tokens: ``api_``, org tokens ``api_org_``).
TOKEN = re.compile(rb"(?<![A-Za-z0-9_])(?:hf|api_org|api)_[A-Za-z0-9]{30,}(?![A-Za-z0-9])")
_TOKEN_TEXT = re.compile(TOKEN.pattern.decode())


def is_secret_key(key: str) -> bool:
    """True for a configuration key (last part of ``section.key``) that holds a credential."""
    return bool(_SECRET_KEY.search(key.rsplit(".", 1)[-1].replace("-", "_")))


def without_secrets(value: Any) -> Any:
    """``value`` (a configuration snapshot) without the keys that hold credentials, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not (isinstance(k, str) and is_secret_key(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def command_without_secrets(argv: list[str]) -> list[str]:
    """A command line without credentials: ``section.key=VALUE`` overrides and ``--key VALUE`` / ``--key=VALUE``
    options whose key holds one are dropped, and so is any argument that contains a token."""
    out: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
            continue
        key, sep, _ = arg.partition("=")
        if is_secret_key(key.lstrip("-")) or _TOKEN_TEXT.search(arg):
            skip_value = arg.startswith("--") and not sep
            continue
        out.append(arg)
    return out


def has_token(data: bytes) -> bool:
    """True when ``data`` contains something shaped like a Hugging Face access token."""
    return TOKEN.search(data) is not None
