"""IAM enforcement for moto 5.2.5 (server mode), made to behave like AWS where guardform needs it.

moto evaluates identity policies once a test switches enforcement on
(``POST /moto-api/reset-auth`` with body ``0``; ``inf`` switches it off again). Measured on
moto 5.2.5 with enforcement on, several things are wrong; this module replaces moto's
``ActionAuthenticatorMixin`` authorization steps (``moto/core/authorization.py``) and the
policy evaluation of ``moto/iam/access_control.py`` with the following:

* **Signature (SigV4).** moto re-signs a botocore ``AWSRequest`` built from the request, and
  for a request with neither a query string nor a body it signs moto's "querystring" -- which
  setup_class fills with the *headers* -- as the body: every correctly signed ``GET /detector``
  (ListDetectors), ``GET /detector/{id}`` (GetDetector), Lambda ``ListFunctions``... was
  refused with ``SignatureDoesNotMatch``. Form bodies (IAM, STS) were re-encoded from the
  parsed form rather than taken as sent. The check here builds the canonical request from
  what arrived on the wire (SigV4 as the "Create a signed AWS API request" guide defines it):
  the path as sent (S3: as is; other services: normalized and URI-encoded again, as every AWS
  SDK signs them), the query string sorted and URI-encoded, the signed headers' values
  trimmed, and the payload hash from ``x-amz-content-sha256`` or else SHA-256 of the raw body
  (kept aside at the WSGI layer while enforcement is on). A wrong signature still fails.
* **Resources.** moto authorizes GuardDuty, EventBridge, Lambda and Account calls against
  ``"*"`` only, so statements scoped to ARNs never match. Here each request is authorized
  against the ARN(s) the Service Authorization Reference defines for its action (see
  ``_guardduty_resources``, ``_events_resources``, ``_lambda_resources``,
  ``_account_resources``, ``_kms_resources``, ``_iam_resources``, ``_sqs_resources``); S3,
  STS, existing SQS queues and existing IAM roles keep the ARNs moto computes.
* **Policy evaluation** (``evaluate``): explicit Deny wins, then any Allow, else implicit deny;
  ``Action``/``NotAction`` (case-insensitive) and ``Resource``/``NotResource`` (case-sensitive)
  with ``*`` and ``?`` wildcards; ``Condition`` with the String/Arn/Numeric/Bool/Null operators
  (``...IfExists``, ``ForAnyValue:``/``ForAllValues:``). moto answered an explicit DENY for any
  statement whose condition did not hold (even an Allow), ignored ``NotResource`` and treated
  patterns as regular expressions.
* **S3 actions**: HeadBucket needs ``s3:ListBucket`` (moto asked for ``s3:HeadBucket``, which
  does not exist); Get/Put/DeletePublicAccessBlock, Get/Put/DeleteBucketEncryption,
  ownership controls, replication, object lock, inventory and object tagging map to the actions
  of "Required permissions for Amazon S3 API operations" (``S3_BUCKET_ACTIONS``,
  ``S3_OBJECT_ACTIONS``).
* **sts:AssumeRole** also needs the role's trust policy to allow the caller (moto only looked
  for the role in the caller's own account, so cross-account trust was never checked): the
  role must exist; an explicit Deny in either policy refuses; the trust policy must allow the
  caller (``"*"``, the account id or ``:root`` ARN, the user or role ARN, the role's sessions)
  and, unless it names the caller's own ARN in the same account, an identity policy must allow
  ``sts:AssumeRole`` on the role ARN too ("Cross-account policy evaluation logic").
* **Errors**, per protocol, naming action, principal and resource (AWS's "User: ARN is not
  authorized to perform: ACTION on resource: RESOURCE because no identity-based policy allows
  the ACTION action" / "... with an explicit deny in an identity-based policy"): REST-JSON and
  JSON 1.x services answer 403 ``{"__type": "AccessDeniedException", "message": ...}`` with
  ``X-Amzn-ErrorType``; query services (IAM, STS, SQS query) moto's XML ``AccessDenied``; S3
  XML ``AccessDenied`` with the resource in double quotes, as S3 words it. A bad signature is
  ``InvalidSignatureException`` / ``SignatureDoesNotMatch``, an unknown key
  ``UnrecognizedClientException`` / ``InvalidClientTokenId``, no Authorization header
  ``MissingAuthenticationTokenException`` / ``MissingAuthenticationToken``.

Not modelled: resource-based policies (bucket, key, queue, function policies), permission
boundaries, SCPs, session policies, dependent actions (e.g. ``iam:CreateServiceLinkedRole``
when GuardDuty creates its role), presigned URLs, SigV4A, and condition keys beyond
``CONTEXT_KEYS``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import threading
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import quote, unquote, urlparse

from werkzeug.exceptions import HTTPException

RAW_BODY_KEY = "guardform.raw_body"
INF = float("inf")

_INSTALLED = False
_local = threading.local()


def enforcing() -> bool:
    """Whether moto is (or will be, after its free requests) checking credentials. Read on every
    request: POST /moto-api/reset-auth changes it at run time."""
    from moto import settings  # a dict lookup once imported

    return settings.INITIAL_NO_AUTH_ACTION_COUNT != INF


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

MSG_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details.")
MSG_BAD_TOKEN = "The security token included in the request is invalid."
MSG_MISSING_AUTH = "Missing Authentication Token"


class JsonAuthError(HTTPException):
    """An authentication/authorization error of a JSON or REST-JSON service."""

    def __init__(self, error_type: str, message: str, status: int = 403) -> None:
        super().__init__()
        self.code = status
        self.error_type = error_type
        self.message = message
        self.description = json.dumps({"__type": error_type, "message": message})


class QueryAuthError(HTTPException):
    """An authentication/authorization error of a query-protocol service (IAM, STS, SQS query),
    in AWS's shape: ErrorResponse/Error/{Type,Code,Message} and RequestId, as moto serializes
    these services' other errors (moto's legacy AccessDenied/SignatureDoesNotMatch add an
    <Errors> wrapper that the AWS SDK for Rust cannot parse: "unhandled error")."""

    def __init__(self, error_type: str, message: str, status: int = 403) -> None:
        import uuid
        from xml.sax.saxutils import escape

        super().__init__()
        self.code = status
        self.error_type = error_type
        self.message = message
        self.description = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(error_type)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")


def _query_error(error_type: str, message: str, status: int = 403) -> HTTPException:
    return QueryAuthError(error_type, message, status)


def _s3_access_denied(bucket: str | None, message: str) -> Exception:
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError

    err: Any = BucketAccessDeniedError(bucket) if bucket else S3AccessDeniedError()
    err.message = message
    err.args = (message,)
    return err


def denied_message(principal: str, action: str, resource: str, explicit: bool,
                   quoted: bool = False) -> str:
    res = f'"{resource}"' if quoted else resource
    head = f"User: {principal} is not authorized to perform: {action} on resource: {res}"
    if explicit:
        return f"{head} with an explicit deny in an identity-based policy"
    return f"{head} because no identity-based policy allows the {action} action"


# ---------------------------------------------------------------------------------------
# SigV4 verification
# ---------------------------------------------------------------------------------------

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<sh>[^,\s]+)"
    r"\s*,\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _raw_path_and_query(environ: dict[str, Any]) -> tuple[str, str]:
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw_uri:
        if raw_uri.startswith(("http://", "https://")):
            parsed = urlparse(raw_uri)
            path, query = parsed.path, parsed.query
        else:
            path, _, query = raw_uri.partition("?")
    else:
        path = quote(environ.get("PATH_INFO", "") or "/", safe="/~!$&'()*+,;=:@")
        query = environ.get("QUERY_STRING", "")
    if not path.startswith("/"):
        path = "/" + path
    return path, environ.get("QUERY_STRING", query) or ""


def _uri_candidates(raw_path: str, service: str) -> list[str]:
    from botocore.utils import normalize_url_path

    single = quote(unquote(raw_path), safe="/~")
    if service == "s3":
        # S3 signs the path as sent, once encoded, never normalized.
        out = [raw_path, single]
    else:
        # Every other service: normalized, then URI-encoded again (the path was already encoded
        # on the wire), as botocore and the Rust SDK (percent_encoding_mode Double) sign it.
        out = [quote(normalize_url_path(raw_path), safe="/~"), raw_path, single]
    return list(dict.fromkeys(out))


def _query_candidates(query: str) -> list[str]:
    if not query:
        return [""]
    pairs = [p.partition("=") for p in query.split("&") if p != ""]
    as_sent = "&".join(f"{k}={v}" for k, _, v in sorted((k, s, v) for k, s, v in pairs))
    enc = sorted((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
                 for k, _, v in pairs)
    canonical = "&".join(f"{k}={v}" for k, v in enc)
    return list(dict.fromkeys([canonical, as_sent]))


def _amz_date(headers: Any) -> str | None:
    value = headers.get("X-Amz-Date")
    if value:
        return value.strip()
    date = headers.get("Date")
    if date:
        try:
            return parsedate_to_datetime(date).strftime("%Y%m%dT%H%M%SZ")
        except (TypeError, ValueError):
            return None
    return None


def signature_matches(environ: dict[str, Any], headers: Any, method: str, secret_key: str,
                      body: bytes | None) -> bool:
    """SigV4 header authentication, computed from the request as received."""
    m = _AUTH_RE.match((headers.get("Authorization") or "").strip())
    if m is None:
        return False
    cred = m.group("cred").split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        return False
    _, day, region, service, _ = cred
    amz_date = _amz_date(headers)
    if not amz_date:
        return False
    signed = m.group("sh").split(";")
    lines = []
    for name in signed:
        value = headers.get(name)
        if value is None:
            return False
        lines.append(f"{name.lower()}:{' '.join(str(value).split())}")
    canonical_headers = "\n".join(lines) + "\n"
    payload = headers.get("X-Amz-Content-SHA256")
    if not payload:
        raw = environ.get(RAW_BODY_KEY)
        if raw is None:
            raw = body or b""
        payload = hashlib.sha256(raw).hexdigest() if raw else _EMPTY_SHA256
    scope = f"{day}/{region}/{service}/aws4_request"
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode("utf-8"), day), region), service),
                "aws4_request")
    raw_path, query = _raw_path_and_query(environ)
    wanted = m.group("sig").lower()
    for uri in _uri_candidates(raw_path, service):
        for qs in _query_candidates(query):
            creq = "\n".join([method.upper(), uri, qs, canonical_headers, ";".join(signed), payload])
            sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(creq.encode("utf-8")).hexdigest()])
            sig = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
            if hmac.compare_digest(sig, wanted):
                return True
    return False


# ---------------------------------------------------------------------------------------
# Policy evaluation
# ---------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _substitute(pattern: str, ctx: dict[str, Any]) -> str | None:
    """Policy variables: ${*}, ${?}, ${$} and context keys (None when a key is missing)."""
    if "${" not in pattern:
        return pattern
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        if name in ("*", "?", "$"):
            return "\x00" + name  # literal, protected from wildcard expansion below
        value = ctx.get(name.lower())
        if value is None or isinstance(value, list):
            missing = True
            return ""
        return str(value).replace("*", "\x00*").replace("?", "\x00?")

    out = _VARIABLE.sub(repl, pattern)
    return None if missing else out


def _resource_match(pattern: str, resource: str, ctx: dict[str, Any]) -> bool:
    p = _substitute(pattern, ctx)
    if p is None:
        return False
    if "\x00" not in p:
        return wildcard_match(p, resource)
    parts = []
    i = 0
    while i < len(p):
        ch = p[i]
        if ch == "\x00" and i + 1 < len(p):
            parts.append(re.escape(p[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(parts), resource, re.DOTALL) is not None


def _str_values(values: Any) -> list[str]:
    out = []
    for v in _as_list(values):
        if isinstance(v, bool):
            out.append("true" if v else "false")
        else:
            out.append(str(v))
    return out


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _arn_like(pattern: str, value: str) -> bool:
    # ArnEquals/ArnLike: the six colon-delimited parts are matched one by one.
    p_parts, v_parts = pattern.split(":", 5), value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return False
    return all(wildcard_match(a, b) for a, b in zip(p_parts, v_parts))


_MATCHERS = {
    "stringequals": (lambda p, v: p == v, False),
    "stringnotequals": (lambda p, v: p == v, True),
    "stringequalsignorecase": (lambda p, v: p.lower() == v.lower(), False),
    "stringnotequalsignorecase": (lambda p, v: p.lower() == v.lower(), True),
    "stringlike": (lambda p, v: wildcard_match(p, v), False),
    "stringnotlike": (lambda p, v: wildcard_match(p, v), True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "numericequals": (lambda p, v: _num(p) is not None and _num(p) == _num(v), False),
    "numericnotequals": (lambda p, v: _num(p) is not None and _num(p) == _num(v), True),
    "numericlessthan": (lambda p, v: None not in (_num(p), _num(v)) and _num(v) < _num(p), False),  # type: ignore[operator]
    "numericlessthanequals": (lambda p, v: None not in (_num(p), _num(v)) and _num(v) <= _num(p), False),  # type: ignore[operator]
    "numericgreaterthan": (lambda p, v: None not in (_num(p), _num(v)) and _num(v) > _num(p), False),  # type: ignore[operator]
    "numericgreaterthanequals": (lambda p, v: None not in (_num(p), _num(v)) and _num(v) >= _num(p), False),  # type: ignore[operator]
    "bool": (lambda p, v: p.lower() == v.lower(), False),
}


def _condition_holds(operator: str, key: str, expected: Any, ctx: dict[str, Any]) -> bool:
    op = operator.lower()
    qualifier = None
    if ":" in op:
        qualifier, op = op.split(":", 1)
    if_exists = op.endswith("ifexists")
    if if_exists:
        op = op[: -len("ifexists")]
    actual = ctx.get(key.lower())
    present = actual is not None
    if op == "null":
        want_null = _str_values(expected)[0].lower() == "true" if _as_list(expected) else True
        return (not present) == want_null
    matcher = _MATCHERS.get(op)
    if matcher is None:
        raise _UnsupportedCondition(operator)
    match, negated = matcher
    patterns = _str_values(expected)
    if op.startswith("string") or op.startswith("arn"):
        patterns = [q for q in (_substitute(p, ctx) for p in patterns) if q is not None]
    if not present:
        if if_exists:
            return True
        if qualifier == "forallvalues":
            return True
        return negated
    values = _str_values(actual)

    def one(v: str) -> bool:
        hit = any(match(p, v) for p in patterns)
        return not hit if negated else hit

    if qualifier == "forallvalues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


class _UnsupportedCondition(Exception):
    pass


def _conditions_hold(conditions: Any, ctx: dict[str, Any]) -> bool:
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            return False
        for key, expected in block.items():
            try:
                if not _condition_holds(operator, key, expected, ctx):
                    return False
            except _UnsupportedCondition:
                return False  # an operator the emulator cannot evaluate never applies
    return True


def statement_applies(st: dict[str, Any], action: str, resource: str | None,
                      ctx: dict[str, Any]) -> bool:
    """Whether an identity-policy statement covers (action, resource) in this context. With
    resource None the Resource element is not looked at (trust policies)."""
    if "Action" in st:
        if not any(wildcard_match(str(a), action, ignore_case=True) for a in _as_list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(wildcard_match(str(a), action, ignore_case=True) for a in _as_list(st["NotAction"])):
            return False
    else:
        return False
    if resource is not None:
        if "Resource" in st:
            if not any(_resource_match(str(r), resource, ctx) for r in _as_list(st["Resource"])):
                return False
        elif "NotResource" in st:
            if any(_resource_match(str(r), resource, ctx) for r in _as_list(st["NotResource"])):
                return False
        else:
            return False
    return _conditions_hold(st.get("Condition"), ctx)


def _statements(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, dict)]


ALLOW, IMPLICIT_DENY, EXPLICIT_DENY = "allow", "implicit", "explicit"


def evaluate(documents: Iterable[Any], action: str, resources: list[str],
             ctx: dict[str, Any]) -> tuple[str, str]:
    """Identity-policy decision for `action` on every resource: (decision, resource). An
    explicit Deny on any resource wins; every resource needs an Allow."""
    stmts = [s for d in documents for s in _statements(d)]
    first_implicit = None
    for res in resources:
        allowed = False
        for st in stmts:
            if not statement_applies(st, action, res, ctx):
                continue
            if str(st.get("Effect", "")).lower() == "deny":
                return EXPLICIT_DENY, res
            if str(st.get("Effect", "")).lower() == "allow":
                allowed = True
        if not allowed and first_implicit is None:
            first_implicit = res
    if first_implicit is not None:
        return IMPLICIT_DENY, first_implicit
    return ALLOW, resources[0] if resources else "*"


def _policy_document(policy: Any) -> Any:
    from moto.iam.access_control import IAMPolicy

    try:
        return IAMPolicy(policy)._policy_json
    except (ValueError, TypeError, KeyError, StopIteration):
        pass
    text = policy if isinstance(policy, str) else None
    if text:
        try:
            return json.loads(unquote(text))
        except ValueError:
            return None
    return None


# ---------------------------------------------------------------------------------------
# Trust policies (sts:AssumeRole)
# ---------------------------------------------------------------------------------------

_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/(.+)$")


def _find_role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    m = _ROLE_ARN.match(role_arn or "")
    if m is None:
        return None
    partition = role_arn.split(":")[1]
    try:
        backend = iam_backends[m.group(1)][partition if partition.startswith("aws") else get_partition("us-east-1")]
    except KeyError:
        return None
    for role in list(backend.roles.values()):
        if role.arn == role_arn:
            return role
    return None


def principal_matches(element: Any, caller: dict[str, Any]) -> tuple[bool, bool]:
    """(matches, names the caller itself) for a trust statement's Principal element."""
    if element == "*":
        return True, False
    if not isinstance(element, dict):
        return False, False
    matched, specific = False, False
    for p in _as_list(element.get("AWS")):
        p = str(p)
        if p == "*":
            matched = True
        elif re.fullmatch(r"\d{12}", p) or re.fullmatch(r"arn:[^:]+:iam::\d{12}:root", p):
            # The account: it delegates to its own IAM policies (checked by the caller).
            if (p if p.isdigit() else p.split(":")[4]) == caller["account"]:
                matched = True
        elif p == caller["arn"] or (caller.get("role_arn") and p == caller["role_arn"]):
            matched, specific = True, True
    return matched, specific


def evaluate_trust(role: Any, caller: dict[str, Any], ctx: dict[str, Any]) -> tuple[str, bool]:
    """(decision, names the caller) of the role's trust policy for sts:AssumeRole."""
    try:
        doc = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        try:
            doc = json.loads(unquote(role.assume_role_policy_document))
        except (TypeError, ValueError):
            return IMPLICIT_DENY, False
    allowed, specific = False, False
    for st in _statements(doc):
        if "Principal" in st:
            hit, named = principal_matches(st["Principal"], caller)
        elif "NotPrincipal" in st:
            hit, named = not principal_matches(st["NotPrincipal"], caller)[0], False
        else:
            continue
        if not hit or not statement_applies(st, "sts:AssumeRole", None, ctx):
            continue
        if str(st.get("Effect", "")).lower() == "deny":
            return EXPLICIT_DENY, False
        if str(st.get("Effect", "")).lower() == "allow":
            allowed = True
            specific = specific or named
    return (ALLOW if allowed else IMPLICIT_DENY), specific


# ---------------------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------------------

CONTEXT_KEYS = ("aws:RequestedRegion", "aws:PrincipalArn", "aws:PrincipalAccount",
                "aws:PrincipalType", "aws:username", "aws:PrincipalOrgID", "aws:SecureTransport",
                "iam:AWSServiceName", "organizations:ServicePrincipal", "sts:ExternalId",
                "sts:RoleSessionName", "s3:prefix")


def _json_body(resp: Any) -> dict[str, Any]:
    cached = getattr(resp, "_gf_json_body", None)
    if cached is not None:
        return cached
    body = getattr(resp, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    out: dict[str, Any] = {}
    if body and isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                out = loaded
        except ValueError:
            pass
    try:
        resp._gf_json_body = out
    except AttributeError:
        pass
    return out


def _param(resp: Any, name: str) -> Any:
    qs = getattr(resp, "querystring", None) or {}
    if isinstance(qs, dict) and name in qs and not _is_header_echo(resp):
        value = qs[name]
        return value[0] if isinstance(value, list) and value else value
    return _json_body(resp).get(name)


def _is_header_echo(resp: Any) -> bool:
    # setup_class fills the querystring with the headers when there is neither a query
    # string nor a form body.
    qs = getattr(resp, "querystring", None)
    return bool(qs) and "Authorization" in qs


def _org_of(account_id: str) -> Any:
    try:
        import guardduty_ext  # type: ignore

        ob = guardduty_ext._org_backend_for(account_id)
    except Exception:  # pragma: no cover - organizations not loaded
        return None
    return ob.org if ob is not None else None


def _caller(req: Any) -> dict[str, Any]:
    from moto.iam.access_control import AssumedRoleAccessKey

    key = req._access_key
    account = req.account_id
    out: dict[str, Any] = {"arn": key.arn, "account": account, "type": "User"}
    if isinstance(key, AssumedRoleAccessKey):
        out["type"] = "AssumedRole"
        role_arn = f"arn:{key.partition}:iam::{account}:role/{key._owner_role_name}"
        try:
            role_arn = key.backend.get_role(key._owner_role_name).arn
        except Exception:
            pass
        out["role_arn"] = role_arn
        out["principal_arn"] = role_arn
    else:
        out["principal_arn"] = key.arn
        out["username"] = getattr(key, "_owner_user_name", None)
    return out


def _context(resp: Any, req: Any, caller: dict[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "aws:requestedregion": getattr(resp, "region", None),
        "aws:principalarn": caller["principal_arn"],
        "aws:principalaccount": caller["account"],
        "aws:principaltype": caller["type"],
        "aws:securetransport": "true",
    }
    if caller.get("username"):
        ctx["aws:username"] = caller["username"]
    org = _org_of(caller["account"])
    if org is not None:
        ctx["aws:principalorgid"] = org.id
    for key, param in (("iam:awsservicename", "AWSServiceName"),
                       ("organizations:serviceprincipal", "ServicePrincipal"),
                       ("sts:externalid", "ExternalId"),
                       ("sts:rolesessionname", "RoleSessionName")):
        value = _param(resp, param)
        if isinstance(value, str):
            ctx[key] = value
    if req._service == "s3":
        prefix = _param(resp, "prefix")
        if isinstance(prefix, str):
            ctx["s3:prefix"] = prefix
    return {k: v for k, v in ctx.items() if v is not None}


# ---------------------------------------------------------------------------------------
# Resources per service (Service Authorization Reference)
# ---------------------------------------------------------------------------------------

GD_SETS = ("ipset", "threatintelset", "threatentityset", "trustedentityset")


def _gd_arn(resp: Any, rest: str) -> str:
    return f"arn:{resp.partition}:guardduty:{resp.region}:{resp.current_account}:{rest}"


def _guardduty_resources(resp: Any, action: str) -> list[str]:
    """GuardDuty: the SAR gives resource types detector, filter, ipset, threatintelset,
    threatentityset, trustedentityset, publishingDestination and malwareprotectionplan.
    Operations on one of them use its ARN; every other operation under /detector/{id} uses the
    detector's ARN (AWS's own denials name it, e.g. for ListMembers); ListDetectors uses
    detector/* (AWS: "... guardduty:ListDetectors on resource:
    arn:aws:guardduty:REGION:ACCOUNT:detector/*"); account-level operations (CreateDetector,
    the organization admin and invitation operations, Create/ListMalwareProtectionPlans...)
    use "*"."""
    raw_path, _ = _raw_path_and_query(resp.normalized_request.environ)
    segs = [s for s in raw_path.split("/") if s != ""]
    if not segs:
        return ["*"]
    head = segs[0]
    if head == "detector":
        if len(segs) == 1:
            return [_gd_arn(resp, "detector/*")] if resp.method == "GET" else ["*"]
        det = unquote(segs[1])
        base = f"detector/{det}"
        if len(segs) >= 3:
            kind = segs[2]
            if kind == "filter":
                if len(segs) >= 4:
                    return [_gd_arn(resp, f"{base}/filter/{unquote(segs[3])}")]
                if action == "CreateFilter":
                    name = _json_body(resp).get("name")
                    if isinstance(name, str) and name:
                        return [_gd_arn(resp, f"{base}/filter/{name}")]
            elif kind in GD_SETS and len(segs) >= 4:
                return [_gd_arn(resp, f"{base}/{kind}/{unquote(segs[3])}")]
            elif kind == "publishingDestination" and len(segs) >= 4:
                # The SAR's ARN spells the segment in lower case.
                return [_gd_arn(resp, f"{base}/publishingdestination/{unquote(segs[3])}")]
        return [_gd_arn(resp, base)]
    if head == "malware-protection-plan":
        if len(segs) >= 2:
            return [_gd_arn(resp, f"malware-protection-plan/{unquote(segs[1])}")]
        return ["*"]
    if head == "tags" and len(segs) >= 2:
        return [unquote("/".join(segs[1:]))]
    return ["*"]


EVENTS_RULE_KEY = {"PutRule": "Name", "DeleteRule": "Name", "DescribeRule": "Name",
                   "EnableRule": "Name", "DisableRule": "Name", "PutTargets": "Rule",
                   "RemoveTargets": "Rule", "ListTargetsByRule": "Rule"}


def _events_bus(resp: Any, bus: Any) -> tuple[str, str]:
    """(account, bus name) of an EventBusName (name or ARN)."""
    if isinstance(bus, str) and bus.startswith("arn:"):
        parts = bus.split(":", 5)
        name = parts[5].split("/", 1)[1] if len(parts) == 6 and "/" in parts[5] else "default"
        return parts[4] if len(parts) > 4 else resp.current_account, name
    return resp.current_account, bus if isinstance(bus, str) and bus else "default"


def _events_resources(resp: Any, action: str) -> list[str]:
    """EventBridge: rule ARN arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME for the rule
    operations (ListRules has no resource type); event-bus ARNs for the bus operations."""
    body = _json_body(resp)
    region = resp.region
    if action in EVENTS_RULE_KEY:
        name = body.get(EVENTS_RULE_KEY[action])
        if not isinstance(name, str) or not name:
            return ["*"]
        if name.startswith("arn:"):
            return [name]
        account, bus = _events_bus(resp, body.get("EventBusName"))
        path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
        return [f"arn:{resp.partition}:events:{region}:{account}:{path}"]
    if action in ("TagResource", "UntagResource", "ListTagsForResource"):
        arn = body.get("ResourceARN")
        return [arn] if isinstance(arn, str) and arn else ["*"]
    if action in ("CreateEventBus", "DeleteEventBus", "DescribeEventBus", "UpdateEventBus"):
        account, bus = _events_bus(resp, body.get("Name"))
        return [f"arn:{resp.partition}:events:{region}:{account}:event-bus/{bus}"]
    if action in ("PutPermission", "RemovePermission"):
        account, bus = _events_bus(resp, body.get("EventBusName"))
        return [f"arn:{resp.partition}:events:{region}:{account}:event-bus/{bus}"]
    if action == "PutEvents":
        out = []
        for entry in _as_list(body.get("Entries")):
            if isinstance(entry, dict):
                account, bus = _events_bus(resp, entry.get("EventBusName"))
                out.append(f"arn:{resp.partition}:events:{region}:{account}:event-bus/{bus}")
        return list(dict.fromkeys(out)) or ["*"]
    return ["*"]


_LAMBDA_FN = re.compile(r"^/[^/]+/functions/([^/]+)(?:/.*)?$")
_LAMBDA_TAGS = re.compile(r"^/[^/]+/tags/(.+)$")


def _lambda_function_arn(resp: Any, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:  # partial ARN ACCOUNT:function:NAME
        arn = f"arn:{resp.partition}:lambda:{resp.region}:{name}"
    elif ":" in name:  # NAME:QUALIFIER
        fn, _, q = name.partition(":")
        arn = f"arn:{resp.partition}:lambda:{resp.region}:{resp.current_account}:function:{fn}:{q}"
    else:
        arn = f"arn:{resp.partition}:lambda:{resp.region}:{resp.current_account}:function:{name}"
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _lambda_resources(resp: Any, action: str) -> list[str]:
    """Lambda: function ARN arn:aws:lambda:REGION:ACCOUNT:function:NAME (":QUALIFIER" when the
    request names a version or alias); ListFunctions has no resource type."""
    raw_path, _ = _raw_path_and_query(resp.normalized_request.environ)
    m = _LAMBDA_FN.match(raw_path)
    if m:
        qualifier = _param(resp, "Qualifier")
        return [_lambda_function_arn(resp, unquote(m.group(1)),
                                     qualifier if isinstance(qualifier, str) else None)]
    m = _LAMBDA_TAGS.match(raw_path)
    if m:
        return [unquote(m.group(1))]
    if action == "CreateFunction":
        name = _json_body(resp).get("FunctionName")
        if isinstance(name, str) and name:
            return [_lambda_function_arn(resp, name, None)]
    return ["*"]


def _account_resources(resp: Any, action: str) -> list[str]:
    """Account Management: arn:aws:account::ACCOUNT:account for the caller's own account,
    arn:aws:account::MANAGEMENT:account/o-ORG/MEMBER for AccountId of an organization member."""
    target = _json_body(resp).get("AccountId")
    own = f"arn:{resp.partition}:account::{resp.current_account}:account"
    if not isinstance(target, str) or not target or target == resp.current_account:
        return [own]
    org = _org_of(target)
    if org is None:
        return [own]
    return [f"arn:{resp.partition}:account::{org.master_account_id}:account/{org.id}/{target}"]


def _slr_name(service: str) -> str:
    try:
        import guardduty_ext  # type: ignore

        if service in guardduty_ext.SLR_NAMES:
            return guardduty_ext.SLR_NAMES[service]
    except ImportError:  # pragma: no cover
        pass
    from moto.iam.models import SERVICE_NAME_CONVERSION

    parts = service.split(".")
    if len(parts) < 3:
        return f"AWSServiceRoleFor{service}"
    svc, prefix = parts[-3], parts[0]
    if svc != prefix:
        prefix = "".join(x.capitalize() for x in prefix.split("-"))
        svc = SERVICE_NAME_CONVERSION.get(svc, svc) + "_" + prefix
    else:
        svc = SERVICE_NAME_CONVERSION.get(svc, svc)
    return f"AWSServiceRoleFor{svc}"


def _iam_resources(resp: Any, action: str) -> list[str]:
    """IAM where moto answers "*": CreateServiceLinkedRole -> the role it creates
    (role/aws-service-role/SERVICE/NAME, the ARN of AWS's documented policies); a RoleName,
    UserName or GroupName -> that entity's ARN (built from the name when it does not exist);
    PolicyArn -> the policy."""
    acct, part = resp.current_account, resp.partition
    if action == "CreateServiceLinkedRole":
        service = _param(resp, "AWSServiceName")
        if isinstance(service, str) and service:
            name = _slr_name(service)
            suffix = _param(resp, "CustomSuffix")
            if isinstance(suffix, str) and suffix:
                name = f"{name}_{suffix}"
            return [f"arn:{part}:iam::{acct}:role/aws-service-role/{service}/{name}"]
        return ["*"]
    backend = None
    try:
        from moto.iam.models import iam_backends

        backend = iam_backends[acct][part]
    except Exception:  # pragma: no cover
        pass
    role = _param(resp, "RoleName")
    if isinstance(role, str) and role:
        path = _param(resp, "Path") if action == "CreateRole" else None
        if backend is not None:
            for r in list(backend.roles.values()):
                if r.name == role:
                    return [r.arn]
        return [f"arn:{part}:iam::{acct}:role{path if isinstance(path, str) and path else '/'}{role}"]
    user = _param(resp, "UserName")
    if isinstance(user, str) and user:
        if backend is not None and user in backend.users:
            return [backend.users[user].arn]
        path = _param(resp, "Path") if action == "CreateUser" else None
        return [f"arn:{part}:iam::{acct}:user{path if isinstance(path, str) and path else '/'}{user}"]
    group = _param(resp, "GroupName")
    if isinstance(group, str) and group:
        return [f"arn:{part}:iam::{acct}:group/{group}"]
    policy = _param(resp, "PolicyArn")
    if isinstance(policy, str) and policy:
        return [policy]
    name = _param(resp, "PolicyName")
    if action == "CreatePolicy" and isinstance(name, str) and name:
        # The Service Authorization Reference: CreatePolicy acts on the policy it creates.
        path = _param(resp, "Path")
        return [f"arn:{part}:iam::{acct}:policy{path if isinstance(path, str) and path else '/'}{name}"]
    return ["*"]


def _sqs_resources(resp: Any, action: str) -> list[str]:
    """SQS where moto answers "*" (the queue does not exist): the queue's ARN
    arn:aws:sqs:REGION:ACCOUNT:NAME from QueueName (CreateQueue, GetQueueUrl with
    QueueOwnerAWSAccountId) or QueueUrl; ListQueues has no resource type."""
    if action in ("ListQueues",):
        return ["*"]
    url = _param(resp, "QueueUrl")
    if isinstance(url, str) and url:
        parts = [p for p in urlparse(url).path.split("/") if p]
        if len(parts) >= 2:
            return [f"arn:{resp.partition}:sqs:{resp.region}:{parts[-2]}:{parts[-1]}"]
    name = _param(resp, "QueueName")
    if isinstance(name, str) and name:
        owner = _param(resp, "QueueOwnerAWSAccountId")
        account = owner if isinstance(owner, str) and owner else resp.current_account
        return [f"arn:{resp.partition}:sqs:{resp.region}:{account}:{name}"]
    return ["*"]


KMS_NO_RESOURCE = {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom",
                   "ListRetirableGrants", "CreateCustomKeyStore", "DescribeCustomKeyStores"}


def _kms_arn(resp: Any, key_id: Any) -> str | None:
    """The key ARN a KeyId names (key id, key ARN, alias name or alias ARN; an alias resolves
    to its key, as KMS authorizes against the key). An alias that names no key yields the
    alias's own ARN."""
    if not isinstance(key_id, str) or not key_id:
        return None
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    region, account = resp.region, resp.current_account
    if key_id.startswith("arn:") and ":alias/" in key_id:
        parts = key_id.split(":")
        region, account = parts[3], parts[4]
        alias = "alias/" + key_id.split(":alias/", 1)[1]
    elif key_id.startswith("alias/"):
        alias = key_id
    else:
        return f"arn:{resp.partition}:kms:{region}:{account}:key/{key_id}"
    try:
        from moto.kms.models import kms_backends

        for key in list(kms_backends[account][region].keys.values()):
            if alias in key.aliases:
                return key.arn
    except Exception:  # pragma: no cover
        pass
    return f"arn:{resp.partition}:kms:{region}:{account}:{alias}"


def _kms_resources(resp: Any, action: str) -> list[str]:
    """KMS: key ARN arn:aws:kms:REGION:ACCOUNT:key/ID for the key operations (an alias in KeyId
    is resolved to its key); CreateAlias/UpdateAlias/DeleteAlias need the alias ARN and the
    key's; CreateKey, ListKeys, ListAliases have no resource type."""
    if action in KMS_NO_RESOURCE:
        return ["*"]
    if action in ("CreateAlias", "UpdateAlias", "DeleteAlias"):
        alias = _param(resp, "AliasName")
        if not isinstance(alias, str) or not alias:
            return ["*"]
        alias_arn = alias if alias.startswith("arn:") else \
            f"arn:{resp.partition}:kms:{resp.region}:{resp.current_account}:{alias}"
        target = _param(resp, "TargetKeyId") if action != "DeleteAlias" else alias
        key = _kms_arn(resp, target)
        return [alias_arn] + ([key] if key and key != alias_arn else [])
    key = _kms_arn(resp, _param(resp, "KeyId"))
    return [key] if key else ["*"]


RESOLVERS = {
    "kms": _kms_resources,
    "sqs": _sqs_resources,
    "guardduty": _guardduty_resources,
    "events": _events_resources,
    "lambda": _lambda_resources,
    "account": _account_resources,
    "iam": _iam_resources,
}


def request_resources(resp: Any, service: str, action: str, given: str) -> list[str]:
    if given and given != "*":
        return [given]
    resolver = RESOLVERS.get(service)
    if resolver is None:
        return [given or "*"]
    try:
        return resolver(resp, action) or ["*"]
    except Exception:  # never turn a resolver bug into a 500: fall back to moto's "*"
        return ["*"]


# ---------------------------------------------------------------------------------------
# The authorization step (replaces ActionAuthenticatorMixin._authenticate_and_authorize_*)
# ---------------------------------------------------------------------------------------


def _protocol(resp: Any) -> str:
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    try:
        model = get_service_model(resp.boto3_service_name)
        return determine_request_protocol(model, resp.headers.get("Content-Type", "") or "")
    except Exception:
        return "query"


def _json_protocol(protocol: str) -> bool:
    return protocol in ("json", "rest-json")


def _fail(resp: Any, protocol: str, json_type: str, query_type: str, message: str) -> None:
    """Raise the protocol's error; the headers go out through resp.response_headers, which
    call_action merges into its error response."""
    if _json_protocol(protocol):
        sent = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        if protocol == "rest-json":
            ctype = "application/json"
        elif sent.startswith("application/x-amz-json-"):
            ctype = sent  # 1.0 (SQS, DynamoDB...) or 1.1
        else:
            ctype = "application/x-amz-json-1.1"
        resp.response_headers["Content-Type"] = ctype
        resp.response_headers["X-Amzn-ErrorType"] = json_type
        raise JsonAuthError(json_type, message)
    resp.response_headers["Content-Type"] = "text/xml"
    if protocol == "ec2":
        # EC2's own shapes, as moto words them: AuthFailure for credentials,
        # UnauthorizedOperation for permissions.
        from moto.core.exceptions import AuthFailureError, _RESTError

        if query_type != "AccessDenied":
            raise AuthFailureError()

        class UnauthorizedOperation(_RESTError):
            code = 403

        raise UnauthorizedOperation("UnauthorizedOperation",
                                    f"You are not authorized to perform this operation. {message}")
    raise _query_error(query_type, message)


UNSIGNED_ACTIONS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}


def authenticate_and_authorize(resp: Any, iam_request_cls: type, resource: Any = "*",
                               s3_bucket: str | None = None) -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import S3IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    if resp.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return
    is_s3 = issubclass(iam_request_cls, S3IAMRequest)
    protocol = "rest-xml" if is_s3 else _protocol(resp)
    if not resp.headers.get("Authorization"):
        if not is_s3 and (resp._get_action() or "") in UNSIGNED_ACTIONS:
            return  # authenticated by the identity provider's token, not by AWS credentials
        if is_s3:
            raise _s3_access_denied(s3_bucket, "Access Denied")
        _fail(resp, protocol, "MissingAuthenticationTokenException", "MissingAuthenticationToken",
              MSG_MISSING_AUTH)
    parsed_url = urlparse(resp.uri)
    path = resp.raw_path + (("?" + parsed_url.query) if parsed_url.query else "")
    action_name = resp._get_action()
    try:
        req = iam_request_cls(account_id=resp.current_account, method=resp.method, path=path,
                              data=resp.data, body=resp.raw_body, headers=resp.headers,
                              action=action_name)
    except HTTPException as e:
        if is_s3:
            raise e
        _fail(resp, protocol, "UnrecognizedClientException", "InvalidClientTokenId", MSG_BAD_TOKEN)
    environ = resp.normalized_request.environ
    secret = req._access_key.create_credentials().secret_key
    if not signature_matches(environ, resp.headers, resp.method, secret, resp.raw_body):
        if is_s3:
            req._raise_signature_does_not_match()
        _fail(resp, protocol, "InvalidSignatureException", "SignatureDoesNotMatch", MSG_SIGNATURE)
    action = req._action
    if action == "sts:GetCallerIdentity":  # always allowed, even with an explicit Deny
        return
    service = req._service
    resources = [resource] if isinstance(resource, str) else list(resource)
    if not is_s3 and len(resources) == 1:
        resources = request_resources(resp, service, action_name or "", resources[0])
    caller = _caller(req)
    ctx = _context(resp, req, caller)
    documents = [d for d in (_policy_document(p) for p in req._access_key.collect_policies())
                 if d is not None]
    decision, res = evaluate(documents, action, resources, ctx)

    if action == "sts:AssumeRole":
        role = _find_role(resources[0])
        trust, named = (evaluate_trust(role, caller, ctx) if role is not None
                        else (IMPLICIT_DENY, False))
        same_account = _ROLE_ARN.match(resources[0] or "") is not None and \
            resources[0].split(":")[4] == caller["account"]
        if decision == EXPLICIT_DENY:
            pass
        elif trust == ALLOW and (decision == ALLOW or (same_account and named)):
            return
        else:
            _fail(resp, protocol, "AccessDeniedException", "AccessDenied",
                  f"User: {caller['arn']} is not authorized to perform: sts:AssumeRole on "
                  f"resource: {resources[0]}")
    if decision == ALLOW:
        return
    message = denied_message(caller["arn"], action, res, decision == EXPLICIT_DENY, quoted=is_s3)
    if is_s3:
        raise _s3_access_denied(s3_bucket, message)
    _fail(resp, protocol, "AccessDeniedException", "AccessDenied", message)


# ---------------------------------------------------------------------------------------
# S3 actions ("Required permissions for Amazon S3 API operations")
# ---------------------------------------------------------------------------------------

S3_BUCKET_ACTIONS: dict[str, dict[str, str]] = {
    "HEAD": {"DEFAULT": "ListBucket"},  # HeadBucket: s3:ListBucket (there is no s3:HeadBucket)
    "GET": {
        "uploads": "ListBucketMultipartUploads",
        "location": "GetBucketLocation",
        "lifecycle": "GetLifecycleConfiguration",
        "versioning": "GetBucketVersioning",
        "policy": "GetBucketPolicy",
        "policyStatus": "GetBucketPolicyStatus",
        "website": "GetBucketWebsite",
        "acl": "GetBucketAcl",
        "tagging": "GetBucketTagging",
        "logging": "GetBucketLogging",
        "cors": "GetBucketCORS",
        "notification": "GetBucketNotification",
        "accelerate": "GetAccelerateConfiguration",
        "versions": "ListBucketVersions",
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "encryption": "GetEncryptionConfiguration",
        "ownershipControls": "GetBucketOwnershipControls",
        "replication": "GetReplicationConfiguration",
        "object-lock": "GetBucketObjectLockConfiguration",
        "inventory": "GetInventoryConfiguration",
        "analytics": "GetAnalyticsConfiguration",
        "metrics": "GetMetricsConfiguration",
        "intelligent-tiering": "GetIntelligentTieringConfiguration",
        "requestPayment": "GetBucketRequestPayment",
        "DEFAULT": "ListBucket",  # ListObjects, ListObjectsV2
    },
    "PUT": {
        "lifecycle": "PutLifecycleConfiguration",
        "versioning": "PutBucketVersioning",
        "policy": "PutBucketPolicy",
        "website": "PutBucketWebsite",
        "acl": "PutBucketAcl",
        "tagging": "PutBucketTagging",
        "logging": "PutBucketLogging",
        "cors": "PutBucketCORS",
        "notification": "PutBucketNotification",
        "accelerate": "PutAccelerateConfiguration",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "encryption": "PutEncryptionConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "replication": "PutReplicationConfiguration",
        "object-lock": "PutBucketObjectLockConfiguration",
        "inventory": "PutInventoryConfiguration",
        "analytics": "PutAnalyticsConfiguration",
        "metrics": "PutMetricsConfiguration",
        "intelligent-tiering": "PutIntelligentTieringConfiguration",
        "requestPayment": "PutBucketRequestPayment",
        "DEFAULT": "CreateBucket",
    },
    "DELETE": {
        "lifecycle": "PutLifecycleConfiguration",
        "policy": "DeleteBucketPolicy",
        "website": "DeleteBucketWebsite",
        "tagging": "PutBucketTagging",
        "cors": "PutBucketCORS",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "encryption": "PutEncryptionConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "replication": "PutReplicationConfiguration",
        "inventory": "PutInventoryConfiguration",
        "analytics": "PutAnalyticsConfiguration",
        "metrics": "PutMetricsConfiguration",
        "intelligent-tiering": "PutIntelligentTieringConfiguration",
        "DEFAULT": "DeleteBucket",
    },
}

S3_OBJECT_ACTIONS: dict[str, dict[str, str]] = {
    "HEAD": {"DEFAULT": "GetObject"},
    "GET": {
        "uploadId": "ListMultipartUploadParts",
        "acl": "GetObjectAcl",
        "tagging": "GetObjectTagging",
        "attributes": "GetObjectAttributes",
        "legal-hold": "GetObjectLegalHold",
        "retention": "GetObjectRetention",
        "DEFAULT": "GetObject",
    },
    "PUT": {
        "acl": "PutObjectAcl",
        "tagging": "PutObjectTagging",
        "legal-hold": "PutObjectLegalHold",
        "retention": "PutObjectRetention",
        "DEFAULT": "PutObject",  # PutObject, CopyObject (destination), UploadPart
    },
    "DELETE": {
        "uploadId": "AbortMultipartUpload",
        "tagging": "DeleteObjectTagging",
        "DEFAULT": "DeleteObject",
    },
    "POST": {
        "uploads": "PutObject",
        "uploadId": "PutObject",
        "restore": "RestoreObject",
        "select": "GetObject",
        "DEFAULT": "PutObject",
    },
}

# With ?versionId the object actions name the version (GetObjectVersion, ...).
S3_VERSIONED = {
    "GetObject": "GetObjectVersion", "GetObjectAcl": "GetObjectVersionAcl",
    "GetObjectTagging": "GetObjectVersionTagging", "GetObjectAttributes": "GetObjectVersionAttributes",
    "PutObjectAcl": "PutObjectVersionAcl", "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObject": "DeleteObjectVersion", "DeleteObjectTagging": "DeleteObjectVersionTagging",
}


def s3_action(resource_type: str, method: str, querystring: dict[str, Any]) -> str:
    if resource_type == "BUCKET":
        table = S3_BUCKET_ACTIONS.get(method, {})
    elif resource_type == "KEY":
        table = S3_OBJECT_ACTIONS.get(method, {})
    else:
        table = {}
    action = None
    for key, value in table.items():
        if key != "DEFAULT" and key in querystring:
            action = value
            break
    if action is None:
        action = table.get("DEFAULT")
    if action is None:
        return ""
    if resource_type == "KEY" and "versionId" in querystring:
        action = S3_VERSIONED.get(action, action)
    return action


_S3_DELETE_KEY = re.compile(r"<Key>(.*?)</Key>", re.DOTALL)


def _s3_delete_keys(body: Any) -> list[str]:
    from xml.sax.saxutils import unescape

    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return []
    return [unescape(k, {"&quot;": '"', "&apos;": "'"}) for k in _S3_DELETE_KEY.findall(body)]


def _install_s3_actions() -> None:
    import moto.s3.responses as s3r

    orig_set_action = s3r.S3Response._set_action

    def _set_action(self: Any, action_resource_type: str, method: str,
                    querystring: dict[str, Any]) -> None:
        action = s3_action(action_resource_type, method, querystring)
        if action:
            self.data["Action"] = action
        else:
            orig_set_action(self, action_resource_type, method, querystring)

    s3r.S3Response._set_action = _set_action  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------
# Install
# ---------------------------------------------------------------------------------------


def _install_raw_body_capture() -> None:
    """While enforcement is on, keep the request body as it arrived (werkzeug parses form
    bodies away; the signature covers the bytes sent). S3 signs the payload hash in a header,
    so its bodies are left alone."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    orig_call = DomainDispatcherApplication.__call__
    if getattr(orig_call, "_gf_iam", False):
        return

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if (enforcing() and "HTTP_AUTHORIZATION" in environ
                and "HTTP_X_AMZ_CONTENT_SHA256" not in environ
                and not environ.get("PATH_INFO", "").startswith("/moto-api")):
            length = environ.get("CONTENT_LENGTH")
            body = b""
            try:
                if length:
                    n = int(length)
                    body = environ["wsgi.input"].read(n) if n > 0 else b""
                elif environ.get("wsgi.input_terminated"):
                    body = environ["wsgi.input"].read()
            except (ValueError, OSError):
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ[RAW_BODY_KEY] = body
        return orig_call(self, environ, start_response)

    __call__._gf_iam = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]


def install() -> None:
    """Hook into moto. Idempotent. Raises if moto's extension points moved."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam import access_control

    for name in ("_authenticate_and_authorize_action", "_authenticate_and_authorize_normal_action",
                 "_authenticate_and_authorize_s3_action"):
        if not hasattr(ActionAuthenticatorMixin, name):
            raise RuntimeError(f"moto ActionAuthenticatorMixin has no {name}; iam_ext cannot hook in")
    for name in ("IAMRequest", "S3IAMRequest", "IAMPolicy", "AssumedRoleAccessKey"):
        if not hasattr(access_control, name):
            raise RuntimeError(f"moto.iam.access_control has no {name}; iam_ext cannot hook in")

    def _authenticate_and_authorize_action(self: Any, iam_request_cls: type,
                                           resource: str = "*") -> None:
        authenticate_and_authorize(self, iam_request_cls, resource)

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        authenticate_and_authorize(self, access_control.IAMRequest, resource)

    def _authenticate_and_authorize_s3_action(self: Any, bucket_name: str | None = None,
                                              key_name: str | None = None) -> None:
        from moto.utilities.utils import get_partition

        partition = get_partition(self.region)
        arn = f"{bucket_name or '*'}/{key_name}" if key_name else (bucket_name or "*")
        resource: Any = f"arn:{partition}:s3:::{arn}"
        if not bucket_name and not key_name:
            resource = "*"  # ListBuckets (s3:ListAllMyBuckets) has no resource type
        elif bucket_name and not key_name and self.data.get("Action") == "DeleteObject":
            # DeleteObjects (POST ?delete): s3:DeleteObject on every object it names.
            keys = _s3_delete_keys(self.raw_body)
            if keys:
                resource = [f"arn:{partition}:s3:::{bucket_name}/{k}" for k in keys]
        authenticate_and_authorize(self, access_control.S3IAMRequest, resource,
                                   s3_bucket=bucket_name)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _authenticate_and_authorize_s3_action  # type: ignore[method-assign]
    _install_s3_actions()
    _install_raw_body_capture()
    _INSTALLED = True


def installed() -> bool:
    return _INSTALLED
