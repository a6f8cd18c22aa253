#!/usr/bin/env python3
"""Launcher for guardform's AWS emulator: moto server + the guardform extensions.

    .venv/bin/python tests/emulator/server.py --host 127.0.0.1 --port 5000

Readiness: GET http://HOST:PORT/moto-api/data.json answers 200 once the server
listens.  Reset everything: POST http://HOST:PORT/moto-api/reset.

Installed before moto's server starts (so before any service app is built):
  * GuardDuty extension (guardduty_ext.py): detectors, tags, delegated admin,
    organization configuration, members, invitations, member detectors.
  * GuardDuty findings and coverage (findings_ext.py): ListFindings, GetFindings,
    GetFindingsStatistics, Archive/UnarchiveFindings, CreateSampleFindings, ListCoverage,
    GetCoverageStatistics, and the seeding endpoints /moto-api/guardform/findings|coverage.
  * Account Management Region operations (account_ext.py): ListRegions,
    GetRegionOptStatus, EnableRegion, DisableRegion.
  * EventBridge PutTargets refuses the targets and dead-letter queues AWS
    refuses (events_ext.py): cross-Region non-bus targets, cross-account or
    cross-Region event buses without RoleArn, DLQs outside the rule's Region.
  * Organizations CreateAccount honours an account id embedded in the email local
    part: ``name+222222222222@example.com`` -> account 222222222222.
  * moto.backends.list_of_moto_modules() is cached (it lists a directory on every
    request otherwise); looking up an account's backend is O(1) (moto's is O(accounts)).
  * POST /moto-api/reset also forgets Organizations' member->management map.
  * ListMembers and GetMemberDetectors are answered by the extension's handlers straight from
    the WSGI call (moto's routing and request parsing skipped) unless anything is unusual or
    IAM enforcement is on.
  * IAM enforcement (iam_ext.py, once POST /moto-api/reset-auth switches it on): SigV4 checked
    on the request as sent, requests authorized against the Service Authorization Reference's
    resource ARNs (GuardDuty, EventBridge, Lambda, Account, KMS, SQS, IAM), AWS's policy evaluation
    (Deny wins, NotResource, ?, conditions), S3 HeadBucket as s3:ListBucket, AssumeRole trust
    policies, AccessDenied errors per protocol naming action, principal and resource.

Never sets MOTO_ACCOUNT_ID (the account comes from the request's access key).
Per-request access log lines are off unless --verbose (or GUARDFORM_EMULATOR_VERBOSE=1).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import threading
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

EMAIL_ID_RE = re.compile(r"^[^@]*\+(\d{12})@[^@]+$")

_pending = threading.local()


def _install_module_cache() -> None:
    import moto.backends as backends

    modules = tuple(backends.list_of_moto_modules())
    if not modules:
        raise RuntimeError("moto.backends.list_of_moto_modules() returned nothing")

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]


def _install_backend_lookup_fast_path() -> None:
    """moto's BackendDict[account] copies the dict's keys into a list and compares itself with
    every registered BackendDict on every lookup (O(accounts); ~60 us at 1,000 accounts, tens of
    lookups per GuardDuty member call). Answer directly when the account's backend exists and
    this BackendDict is registered for reset; otherwise fall back to moto, which creates and
    registers them. A reset unregisters every BackendDict, so it empties the set too."""
    from moto.core.base_backend import BackendDict

    orig = BackendDict._create_account_specific_backend
    registered: set[int] = set()  # id() of the BackendDicts in BackendDict._instances

    def _create_account_specific_backend(self: Any, account_id: str) -> None:
        if id(self) in registered and dict.__contains__(self, account_id):
            return
        orig(self, account_id)
        registered.add(id(self))

    BackendDict._create_account_specific_backend = _create_account_specific_backend  # type: ignore[method-assign]

    orig_reset = BackendDict.reset.__func__  # type: ignore[attr-defined]

    def reset(cls: Any) -> None:
        registered.clear()
        orig_reset(cls)

    BackendDict.reset = classmethod(reset)  # type: ignore[method-assign,assignment]


def _install_shared_botocore_loader() -> None:
    """moto loads a service's botocore model on first use with a new botocore Loader each time,
    and a new Loader lists every service directory of botocore's data again (about 600
    directories, each stat'ed: seconds on a slow disk, paid again by every thread that misses
    moto's cache at once). One Loader for the process lists them once."""
    import moto.core.utils as core_utils

    loader = core_utils.create_loader()

    def create_loader(*_args: Any, **_kwargs: Any) -> Any:
        return loader

    core_utils.create_loader = create_loader  # type: ignore[assignment]


def _install_request_overhead_cuts() -> None:
    """Two per-request costs in moto that grow with the response, not the work: the list of a
    response class's methods is recomputed with inspect.getmembers on every request (cached per
    class here; the extensions add their handlers before the server starts), and every body,
    JSON ones included, is searched with a look-behind regex for an XML <RequestId> (skipped
    here when the body has none, which leaves the answer unchanged)."""
    import moto.core.responses as responses

    names: dict[type, list[str]] = {}
    orig_names = responses.method_names_from_class

    def method_names_from_class(clazz: Any) -> list[str]:
        found = names.get(clazz)
        if found is None:
            found = names[clazz] = orig_names(clazz)
        return found

    responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]

    orig_enrich = responses.BaseResponse._enrich_response

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:
            return orig_enrich(headers, "")[0], body
        return orig_enrich(headers, body)

    responses.BaseResponse._enrich_response = staticmethod(_enrich_response)  # type: ignore[method-assign,assignment]


def _install_account_lookup_cache() -> None:
    """moto maps an access key to its account by scanning every account's IAM backend
    on every request (O(accounts); ~3 ms per request at 1,000 accounts). Memoize the
    answer and re-check it cheaply; keys moto never generates (e.g. "testing") go
    straight to the default account, as the scan would."""
    import moto.iam.models as iam_models

    orig = iam_models.get_account_id_from
    cache: dict[str, str] = {}

    def _still_valid(access_key: str, account_id: str) -> bool:
        per_account = dict.get(iam_models.iam_backends, account_id)
        if per_account is None:
            return False
        return any(access_key in b.access_keys for b in dict.values(per_account))

    def get_account_id_from(access_key: str) -> str:
        hit = cache.get(access_key)
        if hit is not None:
            if _still_valid(access_key, hit):
                return hit
            cache.pop(access_key, None)
        # moto's keys are 20 chars with an AKIA/ASIA prefix (see
        # moto.iam.utils.generate_access_key_id_from_account_id); anything else can never
        # be found by the scan.
        if not (isinstance(access_key, str) and len(access_key) == 20
                and access_key[:4] in ("AKIA", "ASIA")):
            return iam_models.DEFAULT_ACCOUNT_ID
        account_id = orig(access_key)
        if _still_valid(access_key, account_id):
            cache[access_key] = account_id
        return account_id

    iam_models.get_account_id_from = get_account_id_from


def _install_organizations_hooks() -> None:
    import moto.organizations.models as org_models
    import moto.organizations.utils as org_utils
    from moto.core.base_backend import BackendDict

    orig_random_id = org_utils.make_random_account_id

    def make_random_account_id() -> str:
        wanted = getattr(_pending, "account_id", None)
        if wanted:
            _pending.account_id = None
            return wanted
        return orig_random_id()

    org_utils.make_random_account_id = make_random_account_id

    orig_create = org_models.OrganizationsBackend.create_account

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        m = EMAIL_ID_RE.match(kwargs.get("Email") or "")
        if m and self.org is not None:
            wanted = m.group(1)
            taken = any(a.id == wanted for a in self.accounts) or (
                wanted in org_models.organizations_backends.master_accounts
            ) or wanted == self.account_id
            if taken:
                # What AWS reports when the email/account already exists: a FAILED status.
                import uuid

                return {
                    "CreateAccountStatus": {
                        "Id": "car-" + uuid.uuid4().hex,
                        "AccountName": kwargs.get("AccountName"),
                        "State": "FAILED",
                        "FailureReason": "EMAIL_ALREADY_EXISTS",
                    }
                }
            _pending.account_id = wanted
        try:
            return orig_create(self, **kwargs)
        finally:
            _pending.account_id = None

    org_models.OrganizationsBackend.create_account = create_account  # type: ignore[method-assign]

    # BackendDict.reset() leaves organizations_backends.master_accounts behind, so after a
    # reset former member accounts could not create an organization. Clear it too.
    orig_reset = BackendDict.reset.__func__  # type: ignore[attr-defined]

    def reset(cls: Any) -> None:
        orig_reset(cls)
        org_models.organizations_backends.master_accounts.clear()

    BackendDict.reset = classmethod(reset)  # type: ignore[method-assign,assignment]


_FAST_PATHS = (
    # (method, path pattern, handler name in guardduty_ext): the two reads a no-op plan makes
    # once per 50 members per Region (96% of its calls at 10,000 accounts).
    ("GET", re.compile(r"^/detector/[^/]+/member$"), "list_members"),
    ("POST", re.compile(r"^/detector/[^/]+/member/detector/get$"), "get_member_detectors"),
)
_GUARDDUTY_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/guardduty/aws4_request")


def _install_guardduty_fast_path() -> None:
    """ListMembers and GetMemberDetectors skip moto's per-request machinery (werkzeug routing to
    the service's Flask app, BaseResponse.setup_class parsing headers, body and query twice,
    method lookup, response enrichment): about half of each call's time. The same extension
    handlers answer, with the same account (from the access key, as moto finds it) and Region
    (from the credential scope). Anything unusual -- an error to report, an unsigned request, IAM
    enforcement switched on (INITIAL_NO_AUTH_ACTION_COUNT, read on every request: moto's
    POST /moto-api/reset-auth changes it at run time) -- goes through moto as before, with the
    body put back, so errors stay byte-for-byte moto's and enforcement applies."""
    import io
    import uuid
    from urllib.parse import parse_qs

    import guardduty_ext
    import moto.iam.models as iam_models
    from moto import settings
    from moto.guardduty.responses import GuardDutyResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    handlers = [(m, rx, getattr(guardduty_ext, name)) for m, rx, name in _FAST_PATHS]
    orig_call = DomainDispatcherApplication.__call__

    def answer(environ: dict[str, Any], handler: Any, body: bytes) -> Any:
        cred = _GUARDDUTY_CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION") or "")
        if cred is None or "HTTP_X_MOTO_ACCOUNT_ID" in environ:
            return None
        resp = GuardDutyResponse.__new__(GuardDutyResponse)
        resp.body = body
        resp.path = environ.get("PATH_INFO", "")
        resp.querystring = parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True)
        resp.current_account = iam_models.get_account_id_from(cred.group(1))
        resp.region = cred.group(2)
        try:
            text, headers = handler(resp)
        except Exception:  # errors are moto's to format
            return None
        if headers.get("status", 200) != 200:
            return None
        return text.encode("utf-8")

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf"):
            # IAM enforcement is on (or counting down): checked on every request, since
            # POST /moto-api/reset-auth switches it at run time. moto authenticates, authorizes
            # and counts the request as for any other call.
            return orig_call(self, environ, start_response)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        for want, rx, handler in handlers:
            if method != want or not rx.match(path):
                continue
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            out = answer(environ, handler, body)
            if out is None:
                environ["wsgi.input"] = io.BytesIO(body)
                break
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(out))),
                                      ("x-amzn-RequestId", str(uuid.uuid4()))])
            return [out]
        return orig_call(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]


def install() -> None:
    """Install every extension. Raises if moto's extension points are gone."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        raise SystemExit(
            "MOTO_ACCOUNT_ID is set in the environment: unset it, it would force every request "
            "into one account."
        )
    import account_ext
    import events_ext
    import findings_ext
    import guardduty_ext
    import iam_ext

    _install_module_cache()
    _install_backend_lookup_fast_path()
    _install_request_overhead_cuts()
    _install_shared_botocore_loader()
    _install_account_lookup_cache()
    _install_organizations_hooks()
    guardduty_ext.install()
    _install_guardduty_fast_path()
    findings_ext.install()
    account_ext.install()
    events_ext.install()
    iam_ext.install()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", "-H", default="127.0.0.1")
    parser.add_argument("--port", "-p", type=int, default=int(os.environ.get("MOTO_PORT", "5000")))
    parser.add_argument("--verbose", "-v", action="store_true",
                        default=os.environ.get("GUARDFORM_EMULATOR_VERBOSE") == "1",
                        help="log one line per request (werkzeug access log)")
    args = parser.parse_args(argv)

    install()

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"guardform emulator (moto + extensions) starting on http://{args.host}:{args.port}",
          flush=True)

    from moto import server as moto_server

    moto_server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
