"""HTTPS requests for responders: TLS verification always on (with an optional CA bundle),
bounded timeouts and an overall deadline, a few retries on 429 and 5xx, no redirects (a
redirect could carry an API key to another host), and errors that name a display URL chosen by
the caller rather than the real one (a Slack webhook URL is itself a secret).

Standard library only: this file is copied to the root of every bundle's Lambda zip.
"""

from __future__ import annotations

import json
import os
import random
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Seconds before the first retry; doubled for each further one, plus jitter. Tests lower it.
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 8.0


class HttpError(Exception):
    """The request could not be completed (connection, TLS, timeout, deadline)."""

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        return None


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context. `ca_bundle` is a PEM file path (relative paths are read from
    the function's code directory) or PEM text; when given, only those CAs are trusted."""
    if not ca_bundle:
        return ssl.create_default_context()
    text = ca_bundle.strip()
    if text.startswith("-----BEGIN"):
        return ssl.create_default_context(cadata=text)
    path = text
    if not os.path.isabs(path):
        path = os.path.join(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd(), path)
    if not os.path.isfile(path):
        raise HttpError(f"CA bundle file {path} does not exist", tls=True)
    return ssl.create_default_context(cafile=path)


def request(
    method: str,
    url: str,
    *,
    display: str,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout: float = 10.0,
    attempts: int = 3,
    deadline: float | None = None,
    context: ssl.SSLContext | None = None,
) -> HttpResponse:
    """Sends one HTTPS request and returns the final response, whatever its status. Retries
    (up to `attempts` in all) on 429 and 5xx, honouring Retry-After, and on connection
    failures other than TLS verification. `deadline` is a `time.monotonic()` value after which
    no attempt starts. `display` names the target in errors instead of the URL."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise HttpError(f"{display}: only https:// URLs are allowed")
    data = None
    all_headers = {"Accept": "application/json", "User-Agent": "guardform-responder"}
    all_headers.update(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context or tls_context()),
        _NoRedirect(),
    )
    last_problem = ""
    for attempt in range(1, max(1, attempts) + 1):
        budget = timeout
        if deadline is not None:
            budget = min(timeout, deadline - time.monotonic())
            if budget < 0.5:
                raise HttpError(f"{display}: out of time before attempt {attempt}" + (f" (last: {last_problem})" if last_problem else ""))
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        retry_after: float | None = None
        try:
            with opener.open(req, timeout=budget) as raw:
                return HttpResponse(raw.status, raw.read(), dict(raw.headers.items()), attempt)
        except urllib.error.HTTPError as error:
            body = error.read() if error.fp else b""
            response = HttpResponse(error.code, body, dict(error.headers.items()) if error.headers else {}, attempt)
            if error.code not in RETRY_STATUSES or attempt >= attempts:
                return response
            last_problem = f"HTTP {error.code}"
            retry_after = _retry_after(response.headers.get("Retry-After"))
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise HttpError(f"{display}: TLS certificate verification failed ({reason.verify_message or reason})", tls=True) from None
            if isinstance(reason, ssl.SSLError):
                raise HttpError(f"{display}: TLS error ({reason})", tls=True) from None
            last_problem = _describe(reason)
            if attempt >= attempts:
                raise HttpError(f"{display}: {last_problem} (after {attempt} attempts)") from None
        except (socket.timeout, TimeoutError, ConnectionError, OSError) as error:
            if isinstance(error, ssl.SSLCertVerificationError):
                raise HttpError(f"{display}: TLS certificate verification failed ({error.verify_message or error})", tls=True) from None
            last_problem = _describe(error)
            if attempt >= attempts:
                raise HttpError(f"{display}: {last_problem} (after {attempt} attempts)") from None
        pause = retry_after if retry_after is not None else RETRY_BASE_SECONDS * (2 ** (attempt - 1))
        pause = min(RETRY_MAX_SECONDS, pause) + random.uniform(0, RETRY_BASE_SECONDS / 4)
        if deadline is not None and time.monotonic() + pause + 0.5 > deadline:
            raise HttpError(f"{display}: out of time to retry after {last_problem}")
        time.sleep(pause)
    raise HttpError(f"{display}: gave up after {attempts} attempts ({last_problem})")  # pragma: no cover


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _describe(reason: Any) -> str:
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
