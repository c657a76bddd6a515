"""Names of request errors and failures, and how a transport's exceptions are named:
Artillery's (Node's) names, so reports compare across tools."""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp

FAILED_CAPTURE = "Failed capture or match"
FAILED_EXPECTATIONS = "Failed expectations"
EXPECTATION_ERROR = "Expectation error"
BODY_TOO_LARGE = "Body over maxBodyBytes"
TOO_MANY_REDIRECTS = "ERR_TOO_MANY_REDIRECTS"
INVALID_REQUEST = "EINVALIDREQUEST"
INVALID_HEADER = "EINVALIDHEADER"
INVALID_URL = "EINVALIDURL"
FILE_PATH = "EFILEPATH"

# What the network and aiohttp raise for a request that got no usable response; these,
# and only these, become `errors.NAME` (see error_code). Anything else is a bug in
# yamlload and ends the run.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)


def error_code(exc: BaseException) -> str:
    """Artillery's (Node's) name for a failed request."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "ETIMEDOUT"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return "ENOTFOUND"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _certificate_code(str(exc.certificate_error))
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return _certificate_code(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "ECONNRESET"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return "EPROTO"
    os_errno = getattr(exc, "errno", None)
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_errno = exc.os_error.errno
        if isinstance(exc.os_error, OSError) and "Name or service" in str(exc.os_error):
            return "ENOTFOUND"
    if isinstance(os_errno, int) and os_errno in errno.errorcode:
        # The OS's own name, as Node gives it: ECONNREFUSED, EMFILE, EADDRNOTAVAIL...
        return errno.errorcode[os_errno]
    if isinstance(exc, ConnectionResetError | aiohttp.ClientOSError):
        return "ECONNRESET"
    if isinstance(exc, aiohttp.InvalidURL):
        return INVALID_URL
    return type(exc).__name__


def _certificate_code(text: str) -> str:
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


def transport_detail(spec: Mapping[str, Any], exc: BaseException) -> str:
    said = str(exc)
    why = type(exc).__name__ + (f": {said}" if said and said != str(spec["url"]) else "")
    return f"{spec['method']} {spec['url']}: {why}"
