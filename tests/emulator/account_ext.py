"""AWS Account Management API Region operations for moto 5.2.5 (server mode).

moto 5.2.5's ``account`` service only knows the alternate-contact operations. This
adds ListRegions, GetRegionOptStatus, EnableRegion and DisableRegion (REST-JSON,
PascalCase wire names as in botocore's ``account/2021-02-01`` model), with the
Region opt-in state kept per account on moto's AccountBackend (wiped by
``POST /moto-api/reset``).

Opt-in changes are immediate (AWS goes through ENABLING/DISABLING for minutes):
set ``GUARDFORM_EMULATOR_REGION_TRANSITIONS=1`` to keep the transitional status
until the next ListRegions/GetRegionOptStatus call instead.
"""

from __future__ import annotations

import json
import os
from typing import Any

from moto.account import urls as account_urls
from moto.account.models import account_backends
from moto.account.responses import AccountResponse
from moto.core.exceptions import JsonRESTError

DEFAULT_REGIONS = [
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
    "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
]
OPT_IN_REGIONS = [
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "ca-west-1", "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1",
    "me-central-1", "me-south-1", "mx-central-1",
]
ALL_REGIONS = sorted(DEFAULT_REGIONS + OPT_IN_REGIONS)
STATUSES = ["ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT"]


class AccountError(JsonRESTError):
    code = 400

    def __init__(self, error_type: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(error_type, message)
        self.code = status
        body = {"message": message, "__type": error_type}
        body.update(extra)
        self.description = json.dumps(body)
        self._error_type = error_type

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"), ("X-Amzn-ErrorType", self._error_type)]


def _validation(message: str, reason: str = "fieldValidationFailed") -> AccountError:
    return AccountError("ValidationException", message, 400, reason=reason)


def _access_denied(message: str) -> AccountError:
    return AccountError("AccessDeniedException", message, 403)


def _state(account_id: str) -> dict[str, str]:
    backend = account_backends[account_id]["aws"]
    st = getattr(backend, "gf_regions", None)
    if st is None:
        st = {r: "ENABLED_BY_DEFAULT" for r in DEFAULT_REGIONS}
        st.update({r: "DISABLED" for r in OPT_IN_REGIONS})
        backend.gf_regions = st
    return st


def _settle(st: dict[str, str]) -> None:
    for r, s in st.items():
        if s == "ENABLING":
            st[r] = "ENABLED"
        elif s == "DISABLING":
            st[r] = "DISABLED"


def region_status(account_id: str, region: str) -> str | None:
    """Opt-in status of `region` for `account_id` (None for an unknown Region)."""
    st = _state(account_id)
    return st.get(region)


def set_region_status(account_id: str, region: str, status: str) -> None:
    _state(account_id)[region] = status


def _transitions() -> bool:
    return os.environ.get("GUARDFORM_EMULATOR_REGION_TRANSITIONS") == "1"


def _body(self: Any) -> dict[str, Any]:
    raw = self.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise _validation("Invalid JSON in request body.")
    if not isinstance(data, dict):
        raise _validation("Invalid request body.")
    return data


def _target_account(self: Any, body: dict[str, Any]) -> str:
    """Resolve AccountId: the caller, or (management/delegated admin) a member account."""
    caller = self.current_account
    target = body.get("AccountId")
    if target is None:
        return caller
    if not isinstance(target, str) or len(target) != 12 or not target.isdigit():
        raise _validation("1 validation error detected: Value at 'accountId' failed to satisfy constraint: "
                          "Member must satisfy regular expression pattern: \\d{12}")
    from guardduty_ext import _org_backend_for, _management_id  # type: ignore

    ob = _org_backend_for(caller)
    mgmt = _management_id(ob)
    if target == caller:
        if caller == mgmt:
            raise _access_denied(
                "The management account can't specify its own AccountId; call the operation without AccountId."
            )
        return caller
    if ob is None or target not in {a.id for a in ob.accounts}:
        raise _access_denied(
            f"User: arn:aws:iam::{caller}:root is not authorized to perform this operation on account {target}."
        )
    delegated = any(
        a.account.id == caller and "account.amazonaws.com" in a.services for a in ob.admins
    )
    if caller != mgmt and not delegated:
        raise _access_denied(
            f"User: arn:aws:iam::{caller}:root is not authorized to perform this operation on account {target}."
        )
    return target


def _region_name(body: dict[str, Any]) -> str:
    region = body.get("RegionName")
    if not isinstance(region, str) or not 1 <= len(region) <= 50:
        raise _validation("1 validation error detected: Value at 'regionName' failed to satisfy constraint: "
                          "Member must have length between 1 and 50")
    if region not in ALL_REGIONS:
        raise _validation(f"The Region {region} is not a valid Region.", "invalidRegionOptTarget")
    return region


def _ok(body: Any = None) -> tuple[str, dict[str, Any]]:
    return (json.dumps(body) if body is not None else ""), {"Content-Type": "application/json", "status": 200}


def list_regions(self: Any) -> Any:
    body = _body(self)
    account = _target_account(self, body)
    st = _state(account)
    filt = body.get("RegionOptStatusContains")
    if filt is not None:
        if not isinstance(filt, list) or any(s not in STATUSES for s in filt):
            raise _validation("Invalid value for RegionOptStatusContains.")
    max_results = body.get("MaxResults", 50)
    if not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise _validation("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
                          "Member must have value between 1 and 50")
    token = body.get("NextToken")
    start = 0
    if token:
        try:
            start = int(token)
        except (TypeError, ValueError):
            raise _validation("Invalid NextToken.")
    regions = [{"RegionName": r, "RegionOptStatus": st[r]} for r in ALL_REGIONS
               if not filt or st[r] in filt]
    if not _transitions():
        _settle(st)
    chunk = regions[start:start + max_results]
    out: dict[str, Any] = {"Regions": chunk}
    if start + max_results < len(regions):
        out["NextToken"] = str(start + max_results)
    if _transitions():
        _settle(st)
    return _ok(out)


def get_region_opt_status(self: Any) -> Any:
    body = _body(self)
    account = _target_account(self, body)
    region = _region_name(body)
    st = _state(account)
    status = st[region]
    _settle(st)
    return _ok({"RegionName": region, "RegionOptStatus": status})


def enable_region(self: Any) -> Any:
    body = _body(self)
    account = _target_account(self, body)
    region = _region_name(body)
    st = _state(account)
    cur = st[region]
    if cur == "ENABLED_BY_DEFAULT":
        raise _validation(f"The Region {region} is enabled by default and can't be enabled or disabled.",
                          "invalidRegionOptTarget")
    if cur == "DISABLING":
        raise AccountError("ConflictException",
                           f"The Region {region} is being disabled; try again later.", 409)
    if cur in ("ENABLED", "ENABLING"):
        return _ok()
    st[region] = "ENABLING" if _transitions() else "ENABLED"
    return _ok()


def disable_region(self: Any) -> Any:
    body = _body(self)
    account = _target_account(self, body)
    region = _region_name(body)
    st = _state(account)
    cur = st[region]
    if cur == "ENABLED_BY_DEFAULT":
        raise _validation(f"The Region {region} is enabled by default and can't be enabled or disabled.",
                          "invalidRegionOptTarget")
    if cur == "ENABLING":
        raise AccountError("ConflictException",
                           f"The Region {region} is being enabled; try again later.", 409)
    if cur in ("DISABLED", "DISABLING"):
        return _ok()
    st[region] = "DISABLING" if _transitions() else "DISABLED"
    return _ok()


HANDLERS = {f.__name__: f for f in [list_regions, get_region_opt_status, enable_region, disable_region]}
ROUTES = ["{0}/listRegions$", "{0}/getRegionOptStatus$", "{0}/enableRegion$", "{0}/disableRegion$"]

_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    if not isinstance(account_urls.url_paths, dict):
        raise RuntimeError("moto.account.urls.url_paths is not a dict; extension cannot hook in")
    for route in ROUTES:
        account_urls.url_paths[route] = AccountResponse.dispatch
    for name, fn in HANDLERS.items():
        setattr(AccountResponse, name, fn)
    _INSTALLED = True
