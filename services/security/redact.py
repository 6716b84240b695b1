"""Server addresses as they may be logged: without their passwords."""

import re

_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):[^@/]*@", re.I)


def redact_uri(uri: str) -> str:
    """`mongodb://user:secret@host/` → `mongodb://user:***@host/`."""
    return _PASSWORD.sub(r"\g<scheme>\g<user>:***@", uri)
