"""Secrets kept out of what is shown: a tracking URI may carry a database or server password.

`postgresql://mlflow:pw@db/mlflow` and `https://user:token@mlflow.example` name a secret in their
user info; whatever the service answers or logs shows it as `***`.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote

MASK = "***"
MIN_SECRET_CHARS = 4
# scheme://user:secret@host or scheme://secret@host (a token as the user name).
_USER_INFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")


def _secret(userinfo: str) -> str:
    user, colon, password = userinfo.partition(":")
    return password if colon else user


def redact_uri(uri: str) -> str:
    """The URI with the secret of its user info replaced by ***; unchanged when it has none."""

    def mask(found: re.Match[str]) -> str:
        user, colon, _ = found["userinfo"].partition(":")
        kept = f"{user}:" if colon else ""
        return f"{found['scheme']}{kept}{MASK}@"

    return _USER_INFO.sub(mask, uri)


def secrets_of(uri: str) -> tuple[str, ...]:
    """The secrets a URI carries, in the spellings an error message may quote them in."""
    found = _USER_INFO.search(uri)
    secret = _secret(found["userinfo"]) if found else ""
    # A secret of a few characters would turn up inside ordinary words: it is masked in URIs only.
    return tuple(form for form in {secret, unquote(secret), quote(secret, safe="")} if len(form) >= MIN_SECRET_CHARS)


def redact_text(text: str, uri: str) -> str:
    """Text with every appearance of the URI's secret replaced by *** (libraries quote URIs their own way)."""
    text = redact_uri(text)
    for secret in secrets_of(uri):
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A log filter that removes the secret of a URI, and any URI's user-info secret, from every record."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (with its arguments) and traceback text; never drops a record."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = redact_text(message, self.uri)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.uri)
        return True
