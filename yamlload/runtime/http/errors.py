"""Names of request errors and failures: Artillery's (Node's) names, so reports compare
across tools. Each transport maps its own exceptions onto these (aiohttp_transport.py's
`error_code`); what is shared by every transport lives here."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

FAILED_CAPTURE = "Failed capture or match"
FAILED_EXPECTATIONS = "Failed expectations"
EXPECTATION_ERROR = "Expectation error"
BODY_TOO_LARGE = "Body over maxBodyBytes"
TOO_MANY_REDIRECTS = "ERR_TOO_MANY_REDIRECTS"
INVALID_REQUEST = "EINVALIDREQUEST"
INVALID_HEADER = "EINVALIDHEADER"
INVALID_URL = "EINVALIDURL"
FILE_PATH = "EFILEPATH"


def certificate_code(text: str) -> str:
    """Node's name for a TLS failure, from the SSL library's words."""
    lowered = text.lower()
    if "self-signed" in lowered or "self signed" in lowered:
        return "DEPTH_ZERO_SELF_SIGNED_CERT"
    if "expired" in lowered:
        return "CERT_HAS_EXPIRED"
    if "hostname" in lowered or "ip address mismatch" in lowered:
        return "ERR_TLS_CERT_ALTNAME_INVALID"
    if "unable to get local issuer" in lowered:
        return "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
    return "EPROTO"


def os_code(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "EIO")


def errno_code(number: object) -> str | None:
    """The OS's own name for an errno, as Node gives it: ECONNREFUSED, EMFILE..."""
    if isinstance(number, int) and number in errno.errorcode:
        return errno.errorcode[number]
    return None


def transport_detail(spec: Mapping[str, Any], exc: BaseException) -> str:
    said = str(exc)
    why = type(exc).__name__ + (f": {said}" if said and said != str(spec["url"]) else "")
    return f"{spec['method']} {spec['url']}: {why}"
