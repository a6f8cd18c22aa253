"""GuardDuty extension for moto 5.2.5 (server mode).

Installs, into moto's own GuardDuty service, the operations guardform needs that
stock moto lacks or gets wrong: one detector per account and Region with
validated features merged by name, tags, the Organizations delegated
administrator, the organization configuration, members (organization and
invitation flows), invitations, member detectors, filters with AWS's ranks,
and publishing destinations whose status is computed from the emulator's S3
bucket policies and KMS key policies (moto's bucket-policy check on object
calls is fixed for that). Enabling GuardDuty in an
account (any detector creation) creates GuardDuty's service-linked role
AWSServiceRoleForAmazonGuardDuty in that account's IAM, and
iam:CreateServiceLinkedRole answers as AWS does (role names, InvalidInput for a
name already taken).

State lives on moto's ``GuardDutyBackend`` objects (one per account and Region),
so ``POST /moto-api/reset`` wipes it with everything else.

Wire format follows the GuardDuty API reference (botocore's service model
``guardduty/2017-11-28``): camelCase JSON, ``Content-Type: application/json``,
errors as ``{"message": ..., "__type": ...}`` with ``X-Amzn-ErrorType``.

Call :func:`install` before moto's server handles its first GuardDuty request.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import unquote

from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.guardduty import urls as gd_urls
from moto.guardduty.models import Detector, GuardDutyBackend, guardduty_backends
from moto.guardduty.responses import GuardDutyResponse
from moto.moto_api._internal import mock_random

# --------------------------------------------------------------------------------------
# Constants from the API reference
# --------------------------------------------------------------------------------------

# Protection plans guardform manages, in the order AWS lists them in GetDetector.
FEATURES = [
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "EKS_RUNTIME_MONITORING",
    "LAMBDA_NETWORK_LOGS",
    "RUNTIME_MONITORING",
]
# Foundational data sources: always on, listed by GetDetector, not configurable.
FOUNDATIONAL = ["CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS"]
# Additional configuration names valid for each feature.
ADDITIONAL = {
    "EKS_RUNTIME_MONITORING": ["EKS_ADDON_MANAGEMENT"],
    "RUNTIME_MONITORING": [
        "EKS_ADDON_MANAGEMENT",
        "ECS_FARGATE_AGENT_MANAGEMENT",
        "EC2_AGENT_MANAGEMENT",
    ],
}
ALL_ADDITIONAL = ["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"]
# CreateDetector: "When you don't specify any features, with an exception to
# RUNTIME_MONITORING, all the optional features are enabled by default."  EKS Runtime
# Monitoring is superseded by RUNTIME_MONITORING (both at once is an error), so a new
# detector has it disabled too, as AWS shows for new detectors.
DEFAULT_DISABLED = {"RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING"}
FREQUENCIES = ["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"]
FEATURE_STATUSES = ["ENABLED", "DISABLED"]
AUTO_ENABLE = ["NEW", "ALL", "NONE"]
MAX_BATCH = 50
ORG_MEMBER_LIMIT = 50000
GUARDDUTY_PRINCIPAL = "guardduty.amazonaws.com"

MSG_INVALID_INPUT = (
    "The request is rejected because an invalid or out-of-range value is specified as an input parameter."
)
MSG_NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."
MSG_DETECTOR_EXISTS = "The request is rejected because a detector already exists for the current account."
MSG_NO_ORG_PERMISSION = "The request failed because you do not have required AWS Organization master permission."
MSG_ADMIN_EXISTS = (
    "The request failed because another account is already enabled as GuardDuty delegated administrator "
    "for the organization."
)
MSG_NOT_ADMIN = "The request is rejected because the input adminAccountId is not a GuardDuty delegated administrator for the organization."
MSG_DATASOURCES_AND_FEATURES = (
    "The request is rejected because dataSources and features cannot be specified in the same request."
)
MSG_BOTH_RUNTIME = (
    "The request is rejected because EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot be specified "
    "in the same request. Runtime Monitoring already includes EKS Runtime Monitoring."
)
MSG_HAS_MEMBERS = (
    "The request is rejected because the current account cannot delete detector while it has invited or "
    "associated members."
)

# UnprocessedAccount.result texts.
RES_INVALID_ID = "The request is rejected because the input accountId is invalid."
RES_SELF = "The request is rejected because the current account cannot be added as its own member."
RES_OTHER_ADMIN = (
    "The request is rejected because the given account ID is already associated with another administrator account."
)
RES_SUSPENDED = "The request is rejected because the account is suspended."
# AWS's own text (seen in public error reports) when the delegated administrator adds the
# management account while it lacks GuardDuty's service-linked role (see create_members).
RES_MANAGEMENT_NO_SLR = (
    "Operation failed because your organization master must first enable GuardDuty to be added as a member"
)
RES_MANAGEMENT_NO_DETECTOR = RES_MANAGEMENT_NO_SLR  # former name, kept for importers
RES_NOT_MEMBER = "The request is rejected because the input account is not a member of the current account."
RES_NOT_ASSOCIATED = "The request is rejected because the input account is not associated with the current account."
RES_NO_DETECTOR = "The request is rejected because the member account does not have a detector in this Region."
RES_ORG_MEMBER_INVITE = (
    "The request is rejected because organization member accounts cannot be invited; use CreateMembers."
)
RES_AUTO_ENABLE_ALL = (
    "The request is rejected because the organization configuration auto-enables GuardDuty for ALL "
    "accounts; remove the account from the organization or set autoEnableOrganizationMembers to NEW or "
    "NONE first."
)
RES_NO_INVITATION = "The request is rejected because the current account does not have an invitation from the requested account."

ACCOUNT_RE = re.compile(r"^\d{12}$")

# GuardDuty's service-linked role ("Service-linked role permissions for GuardDuty"): created in an
# account the first time GuardDuty is enabled there (CreateDetector, any Region), or explicitly
# with iam:CreateServiceLinkedRole --aws-service-name guardduty.amazonaws.com. IAM is global.
SLR_SERVICE = GUARDDUTY_PRINCIPAL
SLR_NAME = "AWSServiceRoleForAmazonGuardDuty"
SLR_PATH = f"/aws-service-role/{SLR_SERVICE}/"
# AWS's role names for the GuardDuty service principals (moto derives "AWSServiceRoleForguardduty").
SLR_NAMES = {
    SLR_SERVICE: SLR_NAME,
    "malware-protection.guardduty.amazonaws.com": "AWSServiceRoleForAmazonGuardDutyMalwareProtection",
}
# iam:CreateServiceLinkedRole for a name already in the account: InvalidInput (400), as AWS
# answers ("...has been taken in this account, please try a different suffix.", the wording in
# every public report of this error, for any service).
MSG_SLR_TAKEN = "Service role name {name} has been taken in this account, please try a different suffix."
# GuardDuty's role name is fixed: AWS refuses a CustomSuffix for services that take none.
MSG_SLR_NO_SUFFIX = "Custom suffix is not allowed for {service}"


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class GuardDutyError(JsonRESTError):
    """A GuardDuty error: body ``{"__type", "message"}``, ``X-Amzn-ErrorType`` header."""

    header_type = "BadRequestException"
    body_type = "InvalidInputException"

    def __init__(self, message: str) -> None:
        super().__init__(self.body_type, message)

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json"),
            ("X-Amzn-ErrorType", self.header_type),
        ]


class BadRequest(GuardDutyError):
    code = 400


class AccessDenied(GuardDutyError):
    code = 403
    header_type = "AccessDeniedException"
    body_type = "AccessDeniedException"


class InternalError(GuardDutyError):
    code = 500
    header_type = "InternalServerErrorException"
    body_type = "InternalServerErrorException"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime) -> str:
    # AWS: "2023-05-09T20:55:29.060Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=8192)
def _epoch(dt: datetime) -> float:
    # rest-json Timestamp shapes are epoch seconds.
    return round(dt.timestamp(), 3)


def gd(account_id: str, region: str) -> GuardDutyBackend:
    return guardduty_backends[account_id][region]


def _ensure_state(backend: GuardDutyBackend) -> GuardDutyBackend:
    if not hasattr(backend, "gf_members"):
        _init_state(backend)
    return backend


def _init_state(backend: GuardDutyBackend) -> None:
    # As an administrator: account id -> Member
    backend.gf_members = {}
    # As a member: administrator account id (when associated or invited-then-accepted)
    backend.gf_admin_id = None
    # As an invitee: administrator account id -> {"invitationId", "invitedAt"}
    backend.gf_invitations = {}
    # On an organization management account: the delegated administrator in this Region
    backend.gf_org_admin = None
    # On a delegated administrator: its organization configuration
    backend.gf_org_config = None


def _detector_of(account_id: str, region: str) -> "Detector | None":
    backend = gd(account_id, region)
    for det in backend.detectors.values():
        return det
    return None


# Service-linked role (IAM) -------------------------------------------------------------


def _iam_backend(account_id: str, region: str = "us-east-1") -> Any:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region)]


def has_service_linked_role(account_id: str, region: str = "us-east-1") -> bool:
    """Whether `account_id` has AWSServiceRoleForAmazonGuardDuty (IAM is global: any Region of
    the partition answers the same)."""
    return any(
        role.name == SLR_NAME and role.path == SLR_PATH
        for role in list(_iam_backend(account_id, region).roles.values())
    )


def ensure_service_linked_role(account_id: str, region: str = "us-east-1") -> None:
    """What enabling GuardDuty does to the account's IAM: create the service-linked role unless a
    role of that name is already there."""
    iam = _iam_backend(account_id, region)
    if any(role.name == SLR_NAME for role in list(iam.roles.values())):
        return
    iam.create_service_linked_role(SLR_SERVICE, None, None)


def _slr_trust_policy(service: str) -> str:
    # As AWS documents the role's trust policy (Principal.Service a plain string).
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })


def _install_iam_hooks() -> None:
    """iam:CreateServiceLinkedRole as AWS answers it: GuardDuty's role names and path, no custom
    suffix for them, and InvalidInput (not moto's EntityAlreadyExists 409) for a name already
    taken in the account, for every service."""
    from moto.iam.exceptions import EntityAlreadyExists, InvalidInput
    from moto.iam.models import IAMBackend

    orig = IAMBackend.create_service_linked_role
    if getattr(orig, "_gf_wrapped", False):
        return

    def create_service_linked_role(self: Any, service_name: str, description: str | None,
                                   suffix: str | None) -> Any:
        name = SLR_NAMES.get(service_name)
        if name is None:
            try:
                return orig(self, service_name, description, suffix)
            except EntityAlreadyExists as e:
                m = re.match(r"^Role with name (.+) already exists\.$", str(e.message))
                taken = m.group(1) if m else service_name
                raise InvalidInput(MSG_SLR_TAKEN.format(name=taken)) from None
        if suffix:
            raise InvalidInput(MSG_SLR_NO_SUFFIX.format(service=service_name))
        if any(role.name == name for role in list(self.roles.values())):
            raise InvalidInput(MSG_SLR_TAKEN.format(name=name))
        return self.create_role(
            name,
            _slr_trust_policy(service_name),
            f"/aws-service-role/{service_name}/",
            permissions_boundary=None,
            description=description,  # type: ignore[arg-type]
            tags=[],
            max_session_duration="3600",
            linked_service=service_name,
        )

    create_service_linked_role._gf_wrapped = True  # type: ignore[attr-defined]
    IAMBackend.create_service_linked_role = create_service_linked_role  # type: ignore[method-assign]


# Organizations ------------------------------------------------------------------------


def _org_backend_for(account_id: str) -> Any:
    """The OrganizationsBackend holding the organization `account_id` belongs to, or None."""
    from moto.organizations.models import organizations_backends

    own = organizations_backends[account_id]["aws"]
    if own.org is not None:
        return own
    owner = organizations_backends.master_accounts.get(account_id)
    if owner:
        ob = organizations_backends[owner[0]][owner[1]]
        if ob.org is not None and any(a.id == account_id for a in ob.accounts):
            return ob
    return None


def _org_accounts(ob: Any) -> dict[str, Any]:
    return {a.id: a for a in ob.accounts} if ob is not None else {}


def _management_id(ob: Any) -> str | None:
    return ob.org.master_account_id if ob is not None and ob.org is not None else None


def _delegated_admin(ob: Any, region: str) -> str | None:
    mgmt = _management_id(ob)
    if mgmt is None:
        return None
    return _ensure_state(gd(mgmt, region)).gf_org_admin


# Features -----------------------------------------------------------------------------


class OrgConfig:
    def __init__(self) -> None:
        self.auto_enable_members = "NONE"
        self.features: dict[str, dict[str, Any]] = {
            name: {
                "autoEnable": "NONE",
                "additional": {a: "NONE" for a in ADDITIONAL.get(name, [])},
            }
            for name in FEATURES
        }


def _validate_features(features: Any, *, status_key: str, allowed_status: list[str]) -> None:
    if features is None:
        return
    if not isinstance(features, list):
        raise BadRequest(MSG_INVALID_INPUT)
    names = []
    for f in features:
        if not isinstance(f, dict):
            raise BadRequest(MSG_INVALID_INPUT)
        name = f.get("name")
        if name not in FEATURES:
            raise BadRequest(
                f"The request is rejected because an invalid or out-of-range value is specified as an input parameter. Invalid feature name: {name}"
            )
        if name in names:
            raise BadRequest(
                f"The request is rejected because the feature {name} is specified more than once."
            )
        names.append(name)
        st = f.get(status_key)
        if st is not None and st not in allowed_status:
            raise BadRequest(
                f"The request is rejected because an invalid or out-of-range value is specified as an input parameter. Invalid {status_key} for {name}: {st}"
            )
        add = f.get("additionalConfiguration")
        if add is None:
            continue
        if not isinstance(add, list):
            raise BadRequest(MSG_INVALID_INPUT)
        seen = []
        for a in add:
            aname = (a or {}).get("name")
            if aname not in ALL_ADDITIONAL:
                raise BadRequest(
                    f"The request is rejected because an invalid or out-of-range value is specified as an input parameter. Invalid additional configuration name: {aname}"
                )
            if aname not in ADDITIONAL.get(name, []):
                raise BadRequest(
                    f"The request is rejected because the additional configuration {aname} is not supported for the feature {name}."
                )
            if aname in seen:
                raise BadRequest(
                    f"The request is rejected because the additional configuration {aname} is specified more than once."
                )
            seen.append(aname)
            ast = a.get(status_key)
            if ast is not None and ast not in allowed_status:
                raise BadRequest(
                    f"The request is rejected because an invalid or out-of-range value is specified as an input parameter. Invalid {status_key} for {aname}: {ast}"
                )
    if "EKS_RUNTIME_MONITORING" in names and "RUNTIME_MONITORING" in names:
        raise BadRequest(MSG_BOTH_RUNTIME)


def _validate_frequency(freq: Any) -> None:
    if freq is not None and freq not in FREQUENCIES:
        raise BadRequest(
            f"The request is rejected because an invalid or out-of-range value is specified as an input parameter. Invalid findingPublishingFrequency: {freq}"
        )


def _features_from_datasources(ds: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Translate the deprecated dataSources object into feature updates."""
    if not ds:
        return []
    out = []
    s3 = ds.get("s3Logs")
    if isinstance(s3, dict) and s3.get("enable") is not None:
        out.append({"name": "S3_DATA_EVENTS", "status": "ENABLED" if s3["enable"] else "DISABLED"})
    k8s = (ds.get("kubernetes") or {}).get("auditLogs")
    if isinstance(k8s, dict) and k8s.get("enable") is not None:
        out.append({"name": "EKS_AUDIT_LOGS", "status": "ENABLED" if k8s["enable"] else "DISABLED"})
    ebs = ((ds.get("malwareProtection") or {}).get("scanEc2InstanceWithFindings") or {}).get("ebsVolumes")
    if ebs is not None:
        out.append({"name": "EBS_MALWARE_PROTECTION", "status": "ENABLED" if ebs else "DISABLED"})
    return out


def _org_features_from_datasources(ds: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not ds:
        return []
    out = []

    def ae(v: Any) -> str:
        return "NEW" if v else "NONE"

    s3 = ds.get("s3Logs")
    if isinstance(s3, dict) and s3.get("autoEnable") is not None:
        out.append({"name": "S3_DATA_EVENTS", "autoEnable": ae(s3["autoEnable"])})
    k8s = (ds.get("kubernetes") or {}).get("auditLogs")
    if isinstance(k8s, dict) and k8s.get("autoEnable") is not None:
        out.append({"name": "EKS_AUDIT_LOGS", "autoEnable": ae(k8s["autoEnable"])})
    ebs = (((ds.get("malwareProtection") or {}).get("scanEc2InstanceWithFindings") or {}).get("ebsVolumes") or {})
    if isinstance(ebs, dict) and ebs.get("autoEnable") is not None:
        out.append({"name": "EBS_MALWARE_PROTECTION", "autoEnable": ae(ebs["autoEnable"])})
    return out


class GFDetector(Detector):
    """moto's Detector with AWS-like feature configuration (merged by name)."""

    # moto's model metaclass registers instances per service, derived from the module name.
    __module__ = "moto.guardduty.models"

    def __init__(self, account_id: str, region_name: str, enabled: bool, frequency: str,
                 tags: dict[str, str] | None) -> None:
        now = _now()
        super().__init__(
            account_id=account_id,
            region_name=region_name,
            created_at=now,
            finding_publish_freq=frequency,
            enabled=enabled,
            datasources={},
            tags=tags or {},
            features=[],
        )
        self.account_id = account_id
        self.region_name = region_name
        self.created_at = now
        self.updated_at = now
        self.gf_features: dict[str, dict[str, Any]] = {}
        for name in FEATURES:
            st = "DISABLED" if name in DEFAULT_DISABLED else "ENABLED"
            self.gf_features[name] = {
                "status": st,
                "updatedAt": now,
                "additional": {a: {"status": "DISABLED", "updatedAt": now} for a in ADDITIONAL.get(name, [])},
            }
        # features_json() is cached until gf_features changes (only through apply_features or
        # touch_features); a member call reads 50 detectors' features.
        self._gf_features_json: list[dict[str, Any]] | None = None

    def touch_features(self) -> None:
        """Call after changing gf_features in place."""
        self._gf_features_json = None
        self._gf_member_entry = None

    def member_entry(self) -> str:
        """This detector's entry in a GetMemberDetectors answer, as JSON text (cached like
        features_json: a no-op plan over 10,000 members reads each one per Region)."""
        entry = getattr(self, "_gf_member_entry", None)
        if entry is None:
            entry = self._gf_member_entry = json.dumps({
                "accountId": self.account_id,
                "dataSources": self.datasources_json(),
                "features": self.member_features_json(),
            }, separators=(",", ":"))
        return entry

    @property
    def arn(self) -> str:
        return f"arn:aws:guardduty:{self.region_name}:{self.account_id}:detector/{self.id}"

    def apply_features(self, features: Iterable[dict[str, Any]], key: str = "status",
                       mapping: dict[str, str] | None = None) -> None:
        """Merge feature settings by name (and additional configuration by name)."""
        now = _now()
        changed = False
        for f in features:
            cur = self.gf_features[f["name"]]
            st = f.get(key)
            if mapping is not None and st is not None:
                st = mapping.get(st)
            if st is not None and st != cur["status"]:
                cur["status"] = st
                cur["updatedAt"] = now
                changed = True
            for a in f.get("additionalConfiguration") or []:
                ast = a.get(key)
                if mapping is not None and ast is not None:
                    ast = mapping.get(ast)
                acur = cur["additional"][a["name"]]
                if ast is not None and ast != acur["status"]:
                    acur["status"] = ast
                    acur["updatedAt"] = now
                    changed = True
        if changed:
            self.updated_at = now
            self.touch_features()

    def features_json(self) -> list[dict[str, Any]]:
        """The detector's features as GetDetector answers them (callers must not modify them)."""
        if self._gf_features_json is None:
            self._gf_features_json = self._features_json()
        return self._gf_features_json

    def _features_json(self) -> list[dict[str, Any]]:
        out = []
        for name in FOUNDATIONAL:
            out.append({"name": name, "status": "ENABLED", "updatedAt": _epoch(self.created_at)})
        for name in FEATURES:
            cur = self.gf_features[name]
            item: dict[str, Any] = {
                "name": name,
                "status": cur["status"],
                "updatedAt": _epoch(cur["updatedAt"]),
            }
            if cur["additional"]:
                item["additionalConfiguration"] = [
                    {"name": a, "status": v["status"], "updatedAt": _epoch(v["updatedAt"])}
                    for a, v in cur["additional"].items()
                ]
            out.append(item)
        return out

    def member_features_json(self) -> list[dict[str, Any]]:
        return [f for f in self.features_json() if f["name"] in FEATURES]

    def datasources_json(self) -> dict[str, Any]:
        def st(name: str) -> str:
            return self.gf_features[name]["status"]

        return {
            "cloudTrail": {"status": "ENABLED"},
            "dnsLogs": {"status": "ENABLED"},
            "flowLogs": {"status": "ENABLED"},
            "s3Logs": {"status": st("S3_DATA_EVENTS")},
            "kubernetes": {"auditLogs": {"status": st("EKS_AUDIT_LOGS")}},
            "malwareProtection": {
                "scanEc2InstanceWithFindings": {"ebsVolumes": {"status": st("EBS_MALWARE_PROTECTION")}},
                "serviceRole": (
                    f"arn:aws:iam::{self.account_id}:role/aws-service-role/"
                    "malware-protection.guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDutyMalwareProtection"
                ),
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "createdAt": _iso(self.created_at),
            "findingPublishingFrequency": self.finding_publish_freq,
            "serviceRole": self.service_role,
            "status": "ENABLED" if self.enabled else "DISABLED",
            "updatedAt": _iso(self.updated_at),
            "dataSources": self.datasources_json(),
            "tags": dict(self.tags),
            "features": self.features_json(),
        }


def _create_detector(account_id: str, region: str, enabled: bool, frequency: str | None,
                     tags: dict[str, str] | None,
                     features: list[dict[str, Any]] | None = None) -> GFDetector:
    backend = _ensure_state(gd(account_id, region))
    if backend.detectors:
        raise BadRequest(MSG_DETECTOR_EXISTS)
    # Enabling GuardDuty creates its service-linked role in the account (if missing).
    ensure_service_linked_role(account_id, region)
    det = GFDetector(account_id, region, enabled, frequency or "SIX_HOURS", tags)
    if features:
        det.apply_features(features)
        det.updated_at = det.created_at
        for f in det.gf_features.values():
            f["updatedAt"] = det.created_at
            for a in f["additional"].values():
                a["updatedAt"] = det.created_at
        det.touch_features()
    backend.detectors[det.id] = det
    return det


def _as_gf(det: Detector) -> GFDetector:
    """Upgrade a stock Detector (made before install) in place."""
    if isinstance(det, GFDetector):
        return det
    raise InternalError("Detector was created before the guardform extension was installed.")


# --------------------------------------------------------------------------------------
# Response handlers
# --------------------------------------------------------------------------------------

JSON_HEADERS = {"Content-Type": "application/json"}


def _ok(body: Any = None, status: int = 200) -> tuple[str, dict[str, Any]]:
    headers: dict[str, Any] = dict(JSON_HEADERS)
    headers["status"] = status
    if body is None:
        return ("{}" if status != 204 else ""), headers
    return json.dumps(body, separators=(",", ":")), headers


class _Ctx:
    """Request context helpers mixed into GuardDutyResponse."""

    def _gf_body(self: Any) -> dict[str, Any]:
        raw = self.body
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise BadRequest("The request is rejected because the JSON could not be processed.")
        if not isinstance(data, dict):
            raise BadRequest(MSG_INVALID_INPUT)
        return data

    def _gf_path(self: Any) -> list[str]:
        path = self.parsed_url.path if hasattr(self, "parsed_url") else self.path.split("?")[0]
        return [unquote(p) for p in path.split("/") if p]

    def _gf_query(self: Any, name: str) -> str | None:
        v = self.querystring.get(name)
        if isinstance(v, list):
            return v[0] if v else None
        return v

    def _gf_query_all(self: Any, name: str) -> list[str]:
        v = self.querystring.get(name)
        if v is None:
            return []
        return list(v) if isinstance(v, list) else [v]

    def _gf_backend(self: Any) -> GuardDutyBackend:
        return _ensure_state(gd(self.current_account, self.region))

    def _gf_detector(self: Any, detector_id: str | None = None) -> GFDetector:
        if detector_id is None:
            detector_id = self._gf_path()[1]
        backend = self._gf_backend()
        det = backend.detectors.get(detector_id)
        if det is None:
            raise BadRequest(MSG_NOT_OWNED)
        return _as_gf(det)

    def _gf_paging(self: Any) -> tuple[int, int]:
        mr = self._gf_query("maxResults")
        if mr is None:
            max_results = 50
        else:
            try:
                max_results = int(mr)
            except ValueError:
                raise BadRequest(MSG_INVALID_INPUT)
            if not 1 <= max_results <= 50:
                raise BadRequest(
                    "The request is rejected because the parameter maxResults has an invalid value. "
                    "It must be between 1 and 50."
                )
        tok = self._gf_query("nextToken")
        start = 0
        if tok:
            try:
                start = int(tok)
            except ValueError:
                raise BadRequest("The request is rejected because the parameter nextToken has an invalid value.")
        return start, max_results


def _page(items: list[Any], start: int, max_results: int) -> tuple[list[Any], str | None]:
    chunk = items[start:start + max_results]
    nxt = str(start + max_results) if start + max_results < len(items) else None
    return chunk, nxt


def _check_ids(ids: Any, field: str) -> list[str]:
    if not isinstance(ids, list) or not ids:
        raise BadRequest(
            f"The request is rejected because the parameter {field} has an invalid value."
        )
    if len(ids) > MAX_BATCH:
        raise BadRequest(
            f"The request failed because the length provided for the {field} array was {len(ids)}. "
            f"Max allowed length is {MAX_BATCH}."
        )
    return ids


# ---- detectors ------------------------------------------------------------------------


def create_detector(self: Any) -> Any:
    body = self._gf_body()
    if "enable" not in body or not isinstance(body.get("enable"), bool):
        raise BadRequest("The request is rejected because the parameter enable has an invalid value.")
    freq = body.get("findingPublishingFrequency")
    _validate_frequency(freq)
    features = body.get("features")
    ds = body.get("dataSources")
    if features is not None and ds is not None:
        raise BadRequest(MSG_DATASOURCES_AND_FEATURES)
    _validate_features(features, status_key="status", allowed_status=FEATURE_STATUSES)
    tags = body.get("tags")
    _validate_tags(tags)
    updates = features if features is not None else _features_from_datasources(ds)
    det = _create_detector(self.current_account, self.region, body["enable"], freq, tags, updates)
    return _ok({"detectorId": det.id})


def get_detector(self: Any) -> Any:
    det = self._gf_detector()
    return _ok(det.to_json())


def list_detectors(self: Any) -> Any:
    start, max_results = self._gf_paging()
    ids = list(self._gf_backend().detectors.keys())
    chunk, nxt = _page(ids, start, max_results)
    out: dict[str, Any] = {"detectorIds": chunk}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def update_detector(self: Any) -> Any:
    det = self._gf_detector()
    body = self._gf_body()
    freq = body.get("findingPublishingFrequency")
    _validate_frequency(freq)
    features = body.get("features")
    ds = body.get("dataSources")
    if features is not None and ds is not None:
        raise BadRequest(MSG_DATASOURCES_AND_FEATURES)
    _validate_features(features, status_key="status", allowed_status=FEATURE_STATUSES)
    enable = body.get("enable")
    if enable is not None and not isinstance(enable, bool):
        raise BadRequest("The request is rejected because the parameter enable has an invalid value.")
    now = _now()
    if enable is not None and enable != det.enabled:
        det.enabled = enable
        det.updated_at = now
    if freq is not None and freq != det.finding_publish_freq:
        det.finding_publish_freq = freq
        det.updated_at = now
    det.apply_features(features if features is not None else _features_from_datasources(ds))
    return _ok()


def delete_detector(self: Any) -> Any:
    backend = self._gf_backend()
    det = self._gf_detector()
    if any(m.relationship in ("Enabled", "Invited") for m in backend.gf_members.values()):
        raise BadRequest(MSG_HAS_MEMBERS)
    backend.detectors.pop(det.id, None)
    return _ok()


# ---- IP sets and threat intel sets -------------------------------------------------------
#
# What AWS documents (API reference; GuardDuty user guide, "Working with trusted IP lists and
# threat lists"), and how the emulator models it:
#  * 1 IPSet and 6 ThreatIntelSets per account and Region; list names are unique among the
#    account's IP address lists in the Region (IP sets and threat intel sets together).
#  * Only the administrator manages lists: an associated member (relationship Enabled) is
#    refused Create/Update/Delete; a member's List/Get show its administrator's lists.
#  * `location` must be one of the documented S3 URL forms (checked at once: a malformed URL is
#    a 400). The object is read from the emulator's own S3 (moto, same process; bucket names are
#    global) when the list is activated. AWS does that asynchronously, so a missing bucket or
#    key, a bucket whose owner is not `expectedBucketOwner`, an object over 35 MB, or a TXT list
#    with more than 2,000 (IPSet) / 250,000 (ThreatIntelSet) entries gives status ERROR, never
#    an error to the caller. Read permissions (bucket policy, KMS) are not evaluated.
#  * Status lifecycle, deterministic for tests: after a create/update that activates (or
#    re-reads) a list, the next GetIPSet/GetThreatIntelSet answers ACTIVATING and later ones
#    the outcome (ACTIVE or ERROR); after a deactivation of an ACTIVE list the next Get answers
#    DEACTIVATING, later ones INACTIVE. GUARDFORM_EMULATOR_LIST_TRANSITIONS=0 skips the
#    transitional answers. ListIPSets does not consume them.
#  * UpdateIPSet with `activate: true`, or with a new `location`/`expectedBucketOwner` while
#    the list is meant to be active, re-reads the object (AWS: "activate the list again for
#    GuardDuty to use the latest version"). GET /moto-api/guardform/lists shows, per list, how
#    often it was read and the SHA-256 of the content last loaded.
#  * clientToken: the same token with the same parameters returns the same id; with other
#    parameters it is refused.

import hashlib
import ipaddress
from urllib.parse import parse_qs, urlsplit

LIST_FORMATS = ["TXT", "STIX", "OTX_CSV", "ALIEN_VAULT", "PROOF_POINT", "FIRE_EYE"]
LIST_KINDS = {
    # kind: (id field, list field, quota per account and Region, display name)
    "ipset": ("ipSetId", "ipSetIds", 1, "IPSet"),
    "threatintelset": ("threatIntelSetId", "threatIntelSetIds", 6, "ThreatIntelSet"),
    # Entity lists (user guide "Customizing threat detection with entity lists and IP address
    # lists"): "you can add only one trusted entity list and one trusted IP address list per AWS
    # account per Region"; "up to six threat entity lists and threat IP address lists".
    "trustedentityset": ("trustedEntitySetId", "trustedEntitySetIds", 1, "TrustedEntitySet"),
    "threatentityset": ("threatEntitySetId", "threatEntitySetIds", 6, "ThreatEntitySet"),
}
# IP address lists (names unique among them, TXT entries counted) and entity lists (names not
# required to be unique -- the guide states uniqueness "for an IP address list" only -- contents
# not parsed, the bucket owner checked on activation).
IP_LIST_KINDS = ("ipset", "threatintelset")
ENTITY_LIST_KINDS = ("trustedentityset", "threatentityset")
LIST_MAX_ENTRIES = {"ipset": 2000, "threatintelset": 250000}
LIST_MAX_BYTES = 35 * 1024 * 1024  # "The maximum size of the file ... is 35MB"
# "Allowed characters are alphanumeric, whitespace, dash (-), and underscores (_)."
LIST_NAME_RE = re.compile(r"^[A-Za-z0-9 \t_-]+$")
_S3_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
# Documented forms: https://s3.amazonaws.com/bucket.name/file.txt,
# https://s3-aws-region.amazonaws.com/bucket.name/file.txt, http://bucket.s3.amazonaws.com/file.txt,
# http://bucket.s3-aws-region.amazonaws.com/file.txt, s3://bucket.name/file.txt; the current
# S3 endpoint spelling with a dot before the Region (s3.us-east-1.amazonaws.com) is accepted too.
_S3_PATH_HOST_RE = re.compile(rf"^s3(?:[.-]{_S3_REGION})?\.amazonaws\.com(?:\.cn)?$")
_S3_VIRTUAL_HOST_RE = re.compile(rf"^(?P<bucket>[^/]+?)\.s3(?:[.-]{_S3_REGION})?\.amazonaws\.com(?:\.cn)?$")
_S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_LIKE_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")

MSG_LIST_MEMBER = "The request is rejected because member accounts cannot manage IPSets or ThreatIntelSets."
MSG_LIST_NOT_FOUND = "The request is rejected since no such resource found."
MSG_LIST_LIMIT = (
    "The request is rejected because it\u2019s an attempt to create resources beyond the current AWS account limits."
)
MSG_LIST_TOKEN = (
    "The request is rejected because the clientToken was already used with different request parameters."
)


def _msg_list_param(param: str) -> str:
    return f"The request is rejected because the parameter {param} has an invalid value."


def _list_transitions() -> bool:
    return os.environ.get("GUARDFORM_EMULATOR_LIST_TRANSITIONS", "1") != "0"


def _parse_list_location(loc: Any) -> tuple[str, str]:
    """(bucket, key) of a documented S3 URL form; BadRequest otherwise."""
    bad = BadRequest(_msg_list_param("location"))
    if not isinstance(loc, str) or not 1 <= len(loc) <= 300 or loc != loc.strip() or any(c.isspace() for c in loc):
        raise bad
    try:
        u = urlsplit(loc)
        port = u.port
    except ValueError:
        raise bad
    if u.query or u.fragment or u.username or u.password or port is not None or "?" in loc or "#" in loc:
        raise bad
    path = u.path
    if u.scheme == "s3":
        bucket, key = u.netloc, path[1:]
    elif u.scheme in ("https", "http"):
        host = u.netloc.lower()
        m = _S3_VIRTUAL_HOST_RE.match(host)
        if _S3_PATH_HOST_RE.match(host):
            bucket, _, key = path[1:].partition("/")
        elif m:
            bucket, key = m.group("bucket"), path[1:]
        else:
            raise bad
    else:
        raise bad
    key = unquote(key)
    if not _S3_BUCKET_RE.match(bucket) or ".." in bucket or _IPV4_LIKE_RE.match(bucket) or not key:
        raise bad
    return bucket, key


def _validate_list_body(body: dict[str, Any], create: bool) -> None:
    name = body.get("name")
    if (create or name is not None) and (
        not isinstance(name, str) or not 1 <= len(name) <= 300 or not LIST_NAME_RE.match(name)
    ):
        raise BadRequest(_msg_list_param("name"))
    if create and body.get("format") not in LIST_FORMATS:
        raise BadRequest(_msg_list_param("format"))
    if create or body.get("location") is not None:
        _parse_list_location(body.get("location"))
    act = body.get("activate")
    if (create or act is not None) and not isinstance(act, bool):
        raise BadRequest(_msg_list_param("activate"))
    owner = body.get("expectedBucketOwner")
    if owner is not None and (not isinstance(owner, str) or not ACCOUNT_RE.match(owner)):
        raise BadRequest(_msg_list_param("expectedBucketOwner"))
    token = body.get("clientToken")
    if create and token is not None and (not isinstance(token, str) or len(token) > 64):
        raise BadRequest(_msg_list_param("clientToken"))
    if create:
        _validate_tags(body.get("tags"))


def _list_fingerprint(body: dict[str, Any]) -> str:
    return json.dumps(
        [body.get("name"), body.get("format"), body.get("location"), body.get("activate"),
         body.get("expectedBucketOwner"), body.get("tags") or {}],
        sort_keys=True,
    )


def _read_s3_object(bucket: str, key: str, expected_owner: str | None) -> tuple[bytes | None, str | None]:
    """The object's bytes from moto's S3, or (None, why it cannot be used)."""
    from moto.s3.models import FakeKey, s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        return None, f"NoSuchBucket: the bucket {bucket} does not exist"
    partition, account_id = owner
    b = dict.get(dict.get(s3_backends, account_id) or {}, partition)
    b = b.buckets.get(bucket) if b is not None else None
    if b is None:
        return None, f"NoSuchBucket: the bucket {bucket} does not exist"
    if expected_owner and expected_owner != account_id:
        return None, (f"AccessDenied: the bucket {bucket} is owned by {account_id}, "
                      f"not by the expectedBucketOwner {expected_owner}")
    fk = b.keys.get(key)
    if not isinstance(fk, FakeKey):
        return None, f"NoSuchKey: s3://{bucket}/{key} does not exist"
    if fk.size > LIST_MAX_BYTES:
        return None, f"the object is {fk.size} bytes; lists may be at most 35 MB ({LIST_MAX_BYTES} bytes)"
    return fk.value, None


def _txt_entries(data: bytes) -> list[str]:
    """The entries of a TXT list: its non-blank lines that are not # comments."""
    out = []
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _invalid_txt_entries(lines: list[str]) -> tuple[int, list[str]]:
    """Entries that are neither an IP address nor address/prefix-length (a dotted netmask or
    a range is not a CIDR range). AWS's treatment of such lines is not documented: the
    emulator only reports them (debug endpoint) and still activates the list."""
    count, sample = 0, []
    for line in lines:
        try:
            if "/" in line:
                if not line.rpartition("/")[2].isdigit():
                    raise ValueError(line)
                ipaddress.ip_network(line, strict=False)
            else:
                ipaddress.ip_address(line)
        except ValueError:
            count += 1
            if len(sample) < 20:
                sample.append(line)
    return count, sample


class ThreatList:
    """An IPSet or ThreatIntelSet. `status` is the settled status; `pending` is the
    transitional status (ACTIVATING/DEACTIVATING) the next Get reports once."""

    def __init__(self, kind: str, body: dict[str, Any], region: str, account_id: str) -> None:
        self.kind = kind
        self.id = mock_random.get_random_hex(length=32)
        self.account_id = account_id
        self.region = region
        self.name: str = body["name"]
        self.format: str = body["format"]
        self.location: str = body["location"]
        self.activate: bool = body["activate"]
        self.tags: dict[str, str] = dict(body.get("tags") or {})
        self.expected_bucket_owner: str | None = body.get("expectedBucketOwner")
        self.client_token: str | None = body.get("clientToken")
        self.created_at = _now()
        self.updated_at = self.created_at
        self.status = "INACTIVE"
        self.pending: str | None = None
        # What the last read of the object found (see /moto-api/guardform/lists).
        self.load_count = 0
        self.loaded_sha256: str | None = None
        self.loaded_size: int | None = None
        self.entries: int | None = None
        self.invalid_entry_count = 0
        self.invalid_entries: list[str] = []
        self.error: str | None = None
        self.last_loaded_at: datetime | None = None

    def load(self) -> None:
        """Read the object (as GuardDuty does on activation) and settle ACTIVE or ERROR."""
        self.load_count += 1
        self.last_loaded_at = _now()
        bucket, key = _parse_list_location(self.location)
        owner = self.expected_bucket_owner
        if self.kind in ENTITY_LIST_KINDS and not owner:
            owner = self.account_id  # entity lists: the detector's account must own the bucket
        data, error = _read_s3_object(bucket, key, owner)
        if data is not None and self.format == "TXT" and self.kind in IP_LIST_KINDS:
            lines = _txt_entries(data)
            entries = len(lines)
            limit = LIST_MAX_ENTRIES[self.kind]
            if entries > limit:
                error = (f"the list has {entries} entries; a {LIST_KINDS[self.kind][3]} may have at most "
                         f"{limit:,} IP addresses and CIDR ranges")
            else:
                self.entries = entries
                self.invalid_entry_count, self.invalid_entries = _invalid_txt_entries(lines)
        if error is not None:
            self.status, self.error = "ERROR", error
        else:
            assert data is not None
            self.status, self.error = "ACTIVE", None
            self.loaded_sha256 = hashlib.sha256(data).hexdigest()
            self.loaded_size = len(data)
            if self.format != "TXT" or self.kind in ENTITY_LIST_KINDS:
                self.entries, self.invalid_entry_count, self.invalid_entries = None, 0, []
        self.pending = "ACTIVATING" if _list_transitions() else None

    def deactivate(self) -> None:
        was_active = self.status == "ACTIVE" or self.pending == "ACTIVATING"
        self.status = "INACTIVE"
        self.pending = "DEACTIVATING" if was_active and _list_transitions() else None

    def read_status(self) -> str:
        if self.pending is not None:
            status, self.pending = self.pending, None
            return status
        return self.status

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "format": self.format, "location": self.location,
                               "status": self.read_status(), "tags": dict(self.tags)}
        if self.expected_bucket_owner:
            out["expectedBucketOwner"] = self.expected_bucket_owner
        if self.kind in ENTITY_LIST_KINDS:
            # GetThreatEntitySet/GetTrustedEntitySet also answer createdAt, updatedAt and, when
            # the status is ERROR, errorDetails.
            out["createdAt"] = _epoch(self.created_at)
            out["updatedAt"] = _epoch(self.updated_at)
            if out["status"] == "ERROR" and self.error:
                out["errorDetails"] = self.error
        return out

    def debug_json(self, detector_id: str) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "region": self.region,
            "detectorId": detector_id,
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "format": self.format,
            "location": self.location,
            "expectedBucketOwner": self.expected_bucket_owner,
            "activate": self.activate,
            "status": self.status,
            "pendingStatus": self.pending,
            "loadCount": self.load_count,
            "sha256": self.loaded_sha256,
            "size": self.loaded_size,
            "entries": self.entries,
            "invalidEntryCount": self.invalid_entry_count,
            "invalidEntries": list(self.invalid_entries),
            "error": self.error,
            "lastLoadedAt": _iso(self.last_loaded_at) if self.last_loaded_at else None,
            "createdAt": _iso(self.created_at),
        }


def _lists(det: GFDetector, kind: str) -> dict[str, ThreatList]:
    store = det.__dict__.setdefault("gf_lists", {})
    return store.setdefault(kind, {})


def _list_tokens(det: GFDetector, kind: str) -> dict[str, tuple[str, str]]:
    store = det.__dict__.setdefault("gf_list_tokens", {})
    return store.setdefault(kind, {})


def _associated_admin(self: Any) -> str | None:
    """The administrator the caller is an associated (Enabled) member of, in this Region."""
    admin = self._gf_backend().gf_admin_id
    if admin is None:
        return None
    rec = _ensure_state(gd(admin, self.region)).gf_members.get(self.current_account)
    return admin if rec is not None and rec.relationship == "Enabled" else None


def _refuse_members(self: Any, kind: str = "ipset") -> None:
    if _associated_admin(self) is not None:
        raise BadRequest(MSG_LIST_MEMBER if kind in IP_LIST_KINDS else MSG_FILTER_MEMBER)


def _visible_lists(self: Any, det: GFDetector, kind: str) -> dict[str, ThreatList]:
    """The lists a caller sees: a member sees its administrator's lists (ListIPSets: "If you
    use this operation from a member account, the IPSets returned are the IPSets from the
    associated administrator account")."""
    admin = _associated_admin(self)
    if admin is not None:
        admin_det = _detector_of(admin, self.region)
        return _lists(_as_gf(admin_det), kind) if admin_det is not None else {}
    return _lists(det, kind)


def _list_request(self: Any) -> tuple[str, GFDetector, str | None]:
    parts = self._gf_path()
    det = self._gf_detector(parts[1])
    return parts[2], det, (parts[3] if len(parts) > 3 else None)


def _name_taken(det: GFDetector, name: str, except_id: str | None = None) -> bool:
    return any(x.name == name and x.id != except_id
               for kind in IP_LIST_KINDS for x in _lists(det, kind).values())


def _create_list(self: Any) -> Any:
    kind, det, _ = _list_request(self)
    id_field, _, quota, display = LIST_KINDS[kind]
    _refuse_members(self, kind)
    body = self._gf_body()
    _validate_list_body(body, create=True)
    lists = _lists(det, kind)
    tokens = _list_tokens(det, kind)
    token = body.get("clientToken") or None
    fingerprint = _list_fingerprint(body)
    if token is not None and token in tokens:
        known_id, known_fingerprint = tokens[token]
        if known_fingerprint == fingerprint and known_id in lists:
            return _ok({id_field: known_id})
        raise BadRequest(MSG_LIST_TOKEN)
    if len(lists) >= quota:
        raise BadRequest(MSG_LIST_LIMIT)
    if kind in IP_LIST_KINDS and _name_taken(det, body["name"]):
        raise BadRequest(
            f"The request is rejected because a list with the name {body['name']} already exists in this account and Region."
        )
    if kind in ENTITY_LIST_KINDS and body["activate"]:
        _check_entity_bucket_owner(body["location"], body.get("expectedBucketOwner"), self.current_account)
    item = ThreatList(kind, body, self.region, self.current_account)
    lists[item.id] = item
    if token is not None:
        tokens[token] = (item.id, fingerprint)
    if item.activate:
        item.load()
    return _ok({id_field: item.id})


def _get_list(self: Any) -> Any:
    kind, det, set_id = _list_request(self)
    item = _lists(det, kind).get(set_id) or _visible_lists(self, det, kind).get(set_id)
    if item is None:
        raise BadRequest(MSG_LIST_NOT_FOUND)
    return _ok(item.to_json())


def _update_list(self: Any) -> Any:
    kind, det, set_id = _list_request(self)
    _refuse_members(self, kind)
    item = _lists(det, kind).get(set_id)
    if item is None:
        raise BadRequest(MSG_LIST_NOT_FOUND)
    body = self._gf_body()
    _validate_list_body(body, create=False)
    name = body.get("name")
    if kind in ENTITY_LIST_KINDS:
        location = body.get("location") or item.location
        owner = body.get("expectedBucketOwner") or item.expected_bucket_owner
        rereads = body.get("activate") is True or (
            body.get("activate") is None and item.activate
            and (location != item.location or owner != item.expected_bucket_owner))
        if rereads:
            _check_entity_bucket_owner(location, owner, self.current_account)
    if name is not None and name != item.name:
        if kind in IP_LIST_KINDS and _name_taken(det, name, except_id=item.id):
            raise BadRequest(
                f"The request is rejected because a list with the name {name} already exists in this account and Region."
            )
        item.name = name
    moved = False
    location = body.get("location")
    if location is not None and location != item.location:
        item.location, moved = location, True
    owner = body.get("expectedBucketOwner")
    if owner is not None and owner != item.expected_bucket_owner:
        item.expected_bucket_owner, moved = owner, True
    activate = body.get("activate")
    if activate is True:
        item.activate = True
        item.load()  # re-activation is how GuardDuty picks up new content
    elif activate is False:
        item.activate = False
        item.deactivate()
    elif moved and item.activate:
        item.load()
    item.updated_at = _now()
    return _ok()


def _delete_list(self: Any) -> Any:
    kind, det, set_id = _list_request(self)
    _refuse_members(self, kind)
    item = _lists(det, kind).get(set_id)
    if item is None:
        raise BadRequest(MSG_LIST_NOT_FOUND)
    _lists(det, kind).pop(set_id, None)
    tokens = _list_tokens(det, kind)
    for token in [t for t, (i, _) in tokens.items() if i == item.id]:
        del tokens[token]
    return _ok()


def _list_lists(self: Any) -> Any:
    kind, det, _ = _list_request(self)
    _, list_field, _, _ = LIST_KINDS[kind]
    start, max_results = self._gf_paging()
    chunk, nxt = _page(list(_visible_lists(self, det, kind).keys()), start, max_results)
    out: dict[str, Any] = {list_field: chunk}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


create_ip_set = _create_list
get_ip_set = _get_list
update_ip_set = _update_list
delete_ip_set = _delete_list
list_ip_sets = _list_lists
create_threat_intel_set = _create_list
get_threat_intel_set = _get_list
update_threat_intel_set = _update_list
delete_threat_intel_set = _delete_list
list_threat_intel_sets = _list_lists
create_threat_entity_set = _create_list
get_threat_entity_set = _get_list
update_threat_entity_set = _update_list
delete_threat_entity_set = _delete_list
list_threat_entity_sets = _list_lists
create_trusted_entity_set = _create_list
get_trusted_entity_set = _get_list
update_trusted_entity_set = _update_list
delete_trusted_entity_set = _delete_list
list_trusted_entity_sets = _list_lists

# Entity lists (user guide "Adding and activating an entity list or IP list"): "Whether or not you
# specify the value for this parameter, GuardDuty validates that the AWS account ID associated
# with this --detector-id value owns the S3 bucket specified in the --location parameter. If
# GuardDuty finds that this S3 bucket doesn't belong to the specified account ID, you will get an
# error at the time of activating this list." The emulator answers that error synchronously when a
# call activates (or re-reads) the list and the bucket exists in its S3 with another owner (the
# account named by expectedBucketOwner, else the caller). A missing bucket or object is left to
# the asynchronous status (ERROR with errorDetails). AWS's wording is not known.
MSG_ENTITY_BUCKET_OWNER = (
    "The request is rejected because the bucket {bucket} in the parameter location is not owned by "
    "the account {owner}."
)


def _check_entity_bucket_owner(location: str, expected_owner: str | None, caller: str) -> None:
    from moto.s3.models import s3_backends

    bucket, _ = _parse_list_location(location)
    found = s3_backends.bucket_accounts.get(bucket)
    if found is None:
        return
    wanted = expected_owner or caller
    if found[1] != wanted:
        raise BadRequest(MSG_ENTITY_BUCKET_OWNER.format(bucket=bucket, owner=wanted))


def lists_debug_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """GET /moto-api/guardform/lists[?accountId=&region=&kind=ipset|threatintelset]: every
    IP set and threat intel set with what its last read of S3 found. Not an AWS API; reading it
    does not consume pending ACTIVATING/DEACTIVATING answers."""
    json_headers = {"Content-Type": "application/json"}
    if getattr(request, "method", "GET") != "GET":
        return 405, json_headers, json.dumps({"message": "use GET"})
    query = parse_qs(urlsplit(full_url).query)

    def wanted(name: str, value: str) -> bool:
        return name not in query or value in query[name]

    out = []
    with _LOCK:
        for account_id, per_region in sorted(dict.items(guardduty_backends)):
            if not wanted("accountId", account_id):
                continue
            for region, backend in sorted(dict.items(per_region)):
                if not wanted("region", region):
                    continue
                for det in list(backend.detectors.values()):
                    for kind in LIST_KINDS:
                        if not wanted("kind", kind):
                            continue
                        store = det.__dict__.get("gf_lists", {}).get(kind, {})
                        out.extend(item.debug_json(det.id) for item in store.values())
    return 200, json_headers, json.dumps({"lists": out})


def _install_lists_debug_route() -> None:
    from moto.moto_api._internal import urls as moto_api_urls

    if not isinstance(getattr(moto_api_urls, "url_paths", None), dict):
        raise RuntimeError("moto.moto_api._internal.urls.url_paths is not a dict; cannot add /moto-api/guardform/lists")
    moto_api_urls.url_paths["{0}/moto-api/guardform/lists$"] = lists_debug_response


# ---- filters (suppression rules and saved filters) ----------------------------------------
#
# What AWS documents (API reference CreateFilter/UpdateFilter/GetFilter/ListFilters/DeleteFilter;
# user guide "Quotas for GuardDuty", "Suppression rules"), and how the emulator models it:
#  * name 3-64 characters of letters, digits, `.`, `_`, `-`; description at most 512 characters
#    of the documented set; action NOOP (default) or ARCHIVE; findingCriteria.criterion a
#    non-empty map of attribute -> Condition (the 14 operators of botocore's Condition shape).
#    The criteria are stored and returned as given.
#  * ranks are contiguous 1..N per detector. CreateFilter accepts rank 1..N+1 (default N+1;
#    inserting shifts the filters at and after that rank down by one); UpdateFilter moves a
#    filter within 1..N; anything else is AWS's "parameter rank is out-of-bounds" (the text
#    terraform-provider-aws #49127 quotes from AWS). DeleteFilter closes the gap.
#  * at most 100 saved filters per account and Region ("Quotas for GuardDuty").
#  * only the administrator manages filters: an associated member is refused
#    Create/Update/Delete (its own detector's filters only; it sees no administrator filters).

FILTER_LIMIT = 100
FILTER_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
# "Valid characters include alphanumeric characters, and special characters such as hyphen,
# period, colon, underscore, parentheses ({ }, [ ], and ( )), forward slash, horizontal tab,
# vertical tab, newline, form feed, return, and whitespace."
FILTER_DESCRIPTION_RE = re.compile(r"^[A-Za-z0-9 .:_{}\[\]()/\t\n\v\f\r-]*$")
FILTER_ACTIONS = ["NOOP", "ARCHIVE"]
CONDITION_LISTS = ["eq", "neq", "equals", "notEquals"]
CONDITION_INTS = ["gt", "gte", "lt", "lte"]
CONDITION_LONGS = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"]
CONDITION_MATCHES = ["matches", "notMatches"]
CONDITION_KEYS = CONDITION_LISTS + CONDITION_INTS + CONDITION_LONGS + CONDITION_MATCHES

MSG_RANK_OUT_OF_BOUNDS = "The request is rejected because the parameter rank is out-of-bounds."
MSG_FILTER_NOT_FOUND = MSG_LIST_NOT_FOUND
MSG_FILTER_MEMBER = (
    "The request is rejected because member accounts cannot manage specified resources or properties."
)


def _msg_filter_exists(name: str) -> str:
    return f"The request is rejected because a filter with the name {name} already exists."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate_criteria(fc: Any) -> dict[str, Any]:
    bad = BadRequest(_msg_list_param("findingCriteria"))
    if not isinstance(fc, dict) or set(fc) - {"criterion"}:
        raise bad
    crit = fc.get("criterion")
    if not isinstance(crit, dict) or not crit:
        raise bad
    for attr, cond in crit.items():
        if not isinstance(attr, str) or not attr or not isinstance(cond, dict) or not cond:
            raise bad
        for op, v in cond.items():
            if op not in CONDITION_KEYS:
                raise bad
            if op in CONDITION_LISTS:
                if (not isinstance(v, list) or not v or len(v) > 50
                        or not all(isinstance(x, str) for x in v)):
                    raise bad
            elif op in CONDITION_INTS:
                if not _is_int(v) or not -2**31 <= v < 2**31:
                    raise bad
            elif op in CONDITION_LONGS:
                if not _is_int(v) or not -2**63 <= v < 2**63:
                    raise bad
            else:  # matches / notMatches: 0-5 strings of 1-512 characters
                if (not isinstance(v, list) or len(v) > 5
                        or not all(isinstance(x, str) and 1 <= len(x) <= 512 for x in v)):
                    raise bad
    return json.loads(json.dumps(fc))


def _validate_filter_body(body: dict[str, Any], create: bool) -> None:
    if create:
        name = body.get("name")
        if not isinstance(name, str) or not FILTER_NAME_RE.match(name):
            raise BadRequest(_msg_list_param("name"))
    desc = body.get("description")
    if desc is not None and (not isinstance(desc, str) or len(desc) > 512
                             or not FILTER_DESCRIPTION_RE.match(desc)):
        raise BadRequest(_msg_list_param("description"))
    action = body.get("action")
    if action is not None and action not in FILTER_ACTIONS:
        raise BadRequest(_msg_list_param("action"))
    rank = body.get("rank")
    if rank is not None and not _is_int(rank):
        raise BadRequest(_msg_list_param("rank"))
    if create or body.get("findingCriteria") is not None:
        _validate_criteria(body.get("findingCriteria"))
    token = body.get("clientToken")
    if create and token is not None and (not isinstance(token, str) or len(token) > 64):
        raise BadRequest(_msg_list_param("clientToken"))
    if create:
        _validate_tags(body.get("tags"))


def _ranked_filters(det: GFDetector) -> list[Any]:
    return sorted(det.filters.values(), key=lambda f: (getattr(f, "rank", 0) or 0, f.name))


def _renumber(ordered: list[Any]) -> None:
    for i, f in enumerate(ordered, start=1):
        f.rank = i


def _filter_tokens(det: GFDetector) -> dict[str, tuple[str, str]]:
    return det.__dict__.setdefault("gf_filter_tokens", {})


def _filter_fingerprint(body: dict[str, Any]) -> str:
    return json.dumps([body.get("name"), body.get("description"), body.get("action") or "NOOP",
                       body.get("rank"), body.get("findingCriteria"), body.get("tags") or {}],
                      sort_keys=True)


def _refuse_filter_members(self: Any) -> None:
    if _associated_admin(self) is not None:
        raise BadRequest(MSG_FILTER_MEMBER)


def create_filter(self: Any) -> Any:
    from moto.guardduty.models import Filter

    det = self._gf_detector()
    _refuse_filter_members(self)
    body = self._gf_body()
    _validate_filter_body(body, create=True)
    name = body["name"]
    tokens = _filter_tokens(det)
    token = body.get("clientToken") or None
    fingerprint = _filter_fingerprint(body)
    if token is not None and token in tokens:
        known_name, known_fingerprint = tokens[token]
        if known_fingerprint == fingerprint and known_name in det.filters:
            return _ok({"name": known_name})
        raise BadRequest(MSG_LIST_TOKEN)
    if name in det.filters:
        raise BadRequest(_msg_filter_exists(name))
    ordered = _ranked_filters(det)
    if len(ordered) >= FILTER_LIMIT:
        raise BadRequest(MSG_LIST_LIMIT)
    rank = body.get("rank")
    if rank is None:
        rank = len(ordered) + 1
    if not 1 <= rank <= len(ordered) + 1:
        raise BadRequest(MSG_RANK_OUT_OF_BOUNDS)
    f = Filter(name, body.get("action") or "NOOP", body.get("description"),
               json.loads(json.dumps(body["findingCriteria"])), rank)
    now = _now()
    f.tags = dict(body.get("tags") or {})
    f.gf_created_at = now
    f.gf_updated_at = now
    f.gf_version = 1
    ordered.insert(rank - 1, f)
    _renumber(ordered)
    det.filters[name] = f
    if token is not None:
        tokens[token] = (name, fingerprint)
    return _ok({"name": name})


def _filter_of(self: Any) -> tuple[GFDetector, Any]:
    parts = self._gf_path()
    det = self._gf_detector(parts[1])
    f = det.filters.get(parts[3]) if len(parts) > 3 else None
    if f is None:
        raise BadRequest(MSG_FILTER_NOT_FOUND)
    return det, f


def update_filter(self: Any) -> Any:
    det, f = _filter_of(self)
    _refuse_filter_members(self)
    body = self._gf_body()
    _validate_filter_body(body, create=False)
    rank = body.get("rank")
    ordered = _ranked_filters(det)
    if rank is not None and not 1 <= rank <= len(ordered):
        raise BadRequest(MSG_RANK_OUT_OF_BOUNDS)
    if body.get("action") is not None:
        f.action = body["action"]
    if body.get("description") is not None:
        f.description = body["description"]
    if body.get("findingCriteria") is not None:
        f.finding_criteria = json.loads(json.dumps(body["findingCriteria"]))
    if rank is not None:
        ordered.remove(f)
        ordered.insert(rank - 1, f)
        _renumber(ordered)
    f.gf_updated_at = _now()
    f.gf_version = getattr(f, "gf_version", 1) + 1
    return _ok({"name": f.name})


def delete_filter(self: Any) -> Any:
    det, f = _filter_of(self)
    _refuse_filter_members(self)
    del det.filters[f.name]
    _renumber(_ranked_filters(det))
    tokens = _filter_tokens(det)
    for token in [t for t, (n, _) in tokens.items() if n == f.name]:
        del tokens[token]
    return _ok()


def list_filters(self: Any) -> Any:
    det = self._gf_detector()
    start, max_results = self._gf_paging()
    names = [f.name for f in _ranked_filters(det)]
    chunk, nxt = _page(names, start, max_results)
    out: dict[str, Any] = {"filterNames": chunk}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def get_filter(self: Any) -> Any:
    _, f = _filter_of(self)
    out: dict[str, Any] = {
        "name": f.name,
        "action": f.action,
        "rank": f.rank,
        "findingCriteria": f.finding_criteria,
        "tags": dict(getattr(f, "tags", None) or {}),
    }
    if f.description is not None:
        out["description"] = f.description
    if getattr(f, "gf_created_at", None) is not None:
        out["createdAt"] = _epoch(f.gf_created_at)
        out["updatedAt"] = _epoch(f.gf_updated_at)
        out["version"] = f.gf_version
    return _ok(out)


# ---- publishing destinations (findings export to S3) -----------------------------------
#
# What AWS documents (API reference Create/Describe/Update/Delete/ListPublishingDestinations;
# user guide "Exporting generated GuardDuty findings to Amazon S3 buckets"):
#  * destinationType S3; destinationProperties {destinationArn: the bucket ARN, optionally with
#    a prefix (arn:aws:s3:::bucket/prefix/), kmsKeyArn: a KMS key ARN in the bucket's Region,
#    expectedBucketOwner (optional; "only if it was provided" in responses)}; tags; clientToken.
#  * one destination of a type per detector: a second S3 destination is refused with AWS's
#    "The request failed because a publishingDestination already exists with the destinationType
#    value provided in the request." (the text AWS's own Landing Zone Accelerator matches).
#  * GuardDuty needs, on the bucket policy: s3:GetBucketLocation on the bucket and s3:PutObject
#    on the prefix's objects for principal guardduty.amazonaws.com; on the key policy:
#    kms:GenerateDataKey for guardduty.amazonaws.com (the guide's examples scope both with
#    aws:SourceAccount / aws:SourceArn = the detector's account / ARN).
#  * The status is computed on every Describe/List from the emulator's own S3 and KMS state
#    (bucket, bucket owner, bucket policy, key, key state, key policy): PUBLISHING when all
#    grant what GuardDuty needs, else UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY (the only
#    "unable" value in the PublishingStatus enum) with publishingFailureStartTimestamp (epoch
#    milliseconds) set to when the emulator first saw it failing (0 while publishing).

DESTINATION_TYPES = ["S3"]
STATUS_PUBLISHING = "PUBLISHING"
STATUS_UNABLE = "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"
_S3_DEST_ARN_RE = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/]+)(?:/(?P<prefix>.*))?$")
_KMS_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):(?P<account>\d{12}):(?P<kind>key|alias)/(?P<id>[A-Za-z0-9/_+=,.@:-]+)$"
)
MSG_DEST_EXISTS = (
    "The request failed because a publishingDestination already exists with the destinationType value "
    "provided in the request."
)
MSG_NO_DEST_TYPE = "The request failed because no destinationType parameter was included in the request."
MSG_NO_DEST_PROPS = "The request failed because no destinationProperties parameter was included in the request."
# A sample object key of an export: PREFIX/AWSLogs/ACCOUNT/GuardDuty/REGION/YYYY/MM/DD/FILE.
_EXPORT_SAMPLE = "AWSLogs/{account}/GuardDuty/{region}/2024/01/01/sample.jsonl.gz"


def _validate_destination_properties(props: Any, create: bool) -> None:
    if not isinstance(props, dict):
        raise BadRequest(MSG_NO_DEST_PROPS if props is None else _msg_list_param("destinationProperties"))
    arn = props.get("destinationArn")
    if create or arn is not None:
        m = _S3_DEST_ARN_RE.match(arn) if isinstance(arn, str) else None
        if m is None or not _S3_BUCKET_RE.match(m.group("bucket")) or ".." in m.group("bucket"):
            raise BadRequest(_msg_list_param("destinationArn"))
    key = props.get("kmsKeyArn")
    if create or key is not None:
        if not isinstance(key, str) or not _KMS_ARN_RE.match(key):
            raise BadRequest(_msg_list_param("kmsKeyArn"))
    owner = props.get("expectedBucketOwner")
    if owner is not None and (not isinstance(owner, str) or not ACCOUNT_RE.match(owner)):
        raise BadRequest(_msg_list_param("expectedBucketOwner"))


class PublishingDestination:
    def __init__(self, body: dict[str, Any]) -> None:
        props = body["destinationProperties"]
        self.id = mock_random.get_random_hex(length=32)
        self.type: str = body["destinationType"]
        self.destination_arn: str = props["destinationArn"]
        self.kms_key_arn: str = props["kmsKeyArn"]
        self.expected_bucket_owner: str | None = props.get("expectedBucketOwner")
        self.tags: dict[str, str] = dict(body.get("tags") or {})
        self.client_token: str | None = body.get("clientToken") or None
        self.failure_start: datetime | None = None
        # Why the last evaluation was not PUBLISHING (debug endpoint only).
        self.problem: str | None = None

    def properties_json(self) -> dict[str, Any]:
        out = {"destinationArn": self.destination_arn, "kmsKeyArn": self.kms_key_arn}
        if self.expected_bucket_owner:
            out["expectedBucketOwner"] = self.expected_bucket_owner
        return out

    def evaluate(self, det: GFDetector) -> str:
        """Status from the emulator's S3 and KMS state right now."""
        problem = destination_problem(det, self.destination_arn, self.kms_key_arn,
                                      self.expected_bucket_owner)
        self.problem = problem
        if problem is None:
            self.failure_start = None
            return STATUS_PUBLISHING
        if self.failure_start is None:
            self.failure_start = _now()
        return STATUS_UNABLE


def _destinations(det: GFDetector) -> dict[str, PublishingDestination]:
    return det.__dict__.setdefault("gf_destinations", {})


# -- a small policy evaluator ---------------------------------------------------------------


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _wild(pattern: str, value: str, case: bool = True) -> bool:
    """IAM wildcard match: `*` any run of characters, `?` one character."""
    rx = "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + "$"
    return re.match(rx, value, 0 if case else re.IGNORECASE | re.DOTALL) is not None


def _principal_matches(stmt: dict[str, Any], service: str | None) -> bool:
    """Whether the statement's principal covers the service principal `service`; with
    `service=None`, whether it covers any caller at all (`*` / `{"AWS": "*"}`)."""
    def covers(p: Any) -> bool:
        if p == "*":
            return True
        if isinstance(p, dict):
            if "*" in _as_list(p.get("AWS")):
                return True
            return service is not None and service in _as_list(p.get("Service"))
        return False

    if "Principal" in stmt:
        return covers(stmt["Principal"])
    if "NotPrincipal" in stmt:
        return service is not None and not covers(stmt["NotPrincipal"])
    return False


def _condition_holds(op: str, key: str, wanted: Any, context: dict[str, str]) -> bool:
    """One condition operator on one key. Missing keys: false for positive operators (true with
    ...IfExists), true for negated ones, as IAM evaluates them. Unknown operators never hold."""
    op = op.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: on single-valued keys
    if_exists = op.endswith("IfExists")
    if if_exists:
        op = op[: -len("IfExists")]
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    values = [str(w).lower() if isinstance(w, bool) else str(w) for w in _as_list(wanted)]
    if op == "Null":
        return (actual is None) == (values[0].lower() == "true") if values else False
    negated = op in ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike",
                     "ArnNotEquals", "ArnNotLike")
    if actual is None:
        return if_exists or negated
    if op in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        hit = actual in values
    elif op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = actual.lower() in [v.lower() for v in values]
    elif op in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        hit = any(_wild(v, actual) for v in values)
    elif op == "Bool":
        hit = actual.lower() in [v.lower() for v in values]
    else:
        return False
    return not hit if negated else hit


def _statement_applies(stmt: dict[str, Any], service: str | None, action: str, resource: str,
                       context: dict[str, str]) -> bool:
    if not _principal_matches(stmt, service):
        return False
    if "Action" in stmt:
        if not any(_wild(a, action, case=False) for a in _as_list(stmt["Action"]) if isinstance(a, str)):
            return False
    elif "NotAction" in stmt:
        if any(_wild(a, action, case=False) for a in _as_list(stmt["NotAction"]) if isinstance(a, str)):
            return False
    else:
        return False
    if "Resource" in stmt:
        if not any(_wild(r, resource) for r in _as_list(stmt["Resource"]) if isinstance(r, str)):
            return False
    elif "NotResource" in stmt:
        if any(_wild(r, resource) for r in _as_list(stmt["NotResource"]) if isinstance(r, str)):
            return False
    cond = stmt.get("Condition") or {}
    if not isinstance(cond, dict):
        return False
    for op, pairs in cond.items():
        if not isinstance(pairs, dict):
            return False
        for key, wanted in pairs.items():
            if not _condition_holds(op, key, wanted, context):
                return False
    return True


def policy_allows(policy: Any, service: str, action: str, resource: str,
                  context: dict[str, str]) -> bool:
    """Whether a resource policy lets the AWS service principal `service` do `action` on
    `resource` given the request `context` (condition keys): an Allow statement applies and no
    Deny statement does. Statements match on Principal/NotPrincipal (`*`, `{"AWS": "*"}`,
    `{"Service": ...}`), Action/NotAction and Resource/NotResource with `*`/`?` wildcards, and
    Condition operators StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringLike,
    StringNotLike, ArnEquals, ArnNotEquals, ArnLike, ArnNotLike, Bool, Null (with IfExists).
    Anything else makes the statement not apply (an unknown operator neither grants nor denies)."""
    if isinstance(policy, (bytes, bytearray)):
        policy = policy.decode("utf-8", errors="replace")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return False
    if not isinstance(policy, dict):
        return False
    allowed = False
    for stmt in _as_list(policy.get("Statement")):
        if not isinstance(stmt, dict) or not _statement_applies(stmt, service, action, resource, context):
            continue
        if stmt.get("Effect") == "Deny":
            return False
        if stmt.get("Effect") == "Allow":
            allowed = True
    return allowed


def _service_principals(region: str) -> list[str]:
    # Opt-in Regions use the Regional principal ("guardduty.me-south-1.amazonaws.com").
    return [GUARDDUTY_PRINCIPAL, f"guardduty.{region}.amazonaws.com"]


def _allowed_for_guardduty(policy: Any, region: str, action: str, resource: str,
                           context: dict[str, str]) -> bool:
    return any(policy_allows(policy, p, action, resource, dict(context, **{"aws:PrincipalServiceName": p}))
               for p in _service_principals(region))


def _kms_key(key_arn: str) -> Any:
    """moto's KMS key object of a key or alias ARN, or None (does not create AWS-managed keys)."""
    from moto.kms.models import kms_backends

    m = _KMS_ARN_RE.match(key_arn)
    if m is None:
        return None
    per_account = dict.get(kms_backends, m.group("account"))
    backend = dict.get(per_account, m.group("region")) if per_account is not None else None
    if backend is None:
        return None
    if m.group("kind") == "key":
        return backend.keys.get(m.group("id"))
    alias = "alias/" + m.group("id")
    return next((k for k in backend.keys.values() if alias in k.aliases), None)


def destination_problem(det: GFDetector, destination_arn: str, kms_key_arn: str,
                        expected_owner: str | None) -> str | None:
    """None when GuardDuty could export to the destination now; otherwise why not."""
    from moto.s3.models import s3_backends

    account, region = det.account_id, det.region_name
    m = _S3_DEST_ARN_RE.match(destination_arn)
    if m is None:
        return "destinationArn is not an S3 bucket ARN"
    bucket_name, prefix = m.group("bucket"), (m.group("prefix") or "").strip("/")
    owner = s3_backends.bucket_accounts.get(bucket_name)
    backend = dict.get(dict.get(s3_backends, owner[1]) or {}, owner[0]) if owner else None
    bucket = backend.buckets.get(bucket_name) if backend is not None else None
    if bucket is None:
        return f"the bucket {bucket_name} does not exist"
    if expected_owner and expected_owner != owner[1]:
        return f"the bucket {bucket_name} is owned by {owner[1]}, not by expectedBucketOwner {expected_owner}"
    key = _kms_key(kms_key_arn)
    if key is None:
        return f"the KMS key {kms_key_arn} does not exist"
    if not key.enabled or key.key_state != "Enabled":
        return f"the KMS key {key.arn} is {key.key_state}"
    context = {
        "aws:SourceAccount": account,
        "aws:SourceArn": det.arn,
        "aws:SecureTransport": "true",
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": key.arn,
    }
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    sample = _EXPORT_SAMPLE.format(account=account, region=region)
    object_arn = f"{bucket_arn}/{prefix}/{sample}" if prefix else f"{bucket_arn}/{sample}"
    if bucket.policy is None:
        return f"the bucket {bucket_name} has no bucket policy"
    if not _allowed_for_guardduty(bucket.policy, region, "s3:GetBucketLocation", bucket_arn, context):
        return f"the bucket policy does not allow GuardDuty s3:GetBucketLocation on {bucket_arn}"
    if not _allowed_for_guardduty(bucket.policy, region, "s3:PutObject", object_arn, context):
        return f"the bucket policy does not allow GuardDuty s3:PutObject on {object_arn}"
    if not _allowed_for_guardduty(key.policy, region, "kms:GenerateDataKey", key.arn, context):
        return f"the key policy of {key.arn} does not allow GuardDuty kms:GenerateDataKey"
    return None


def _destination_fingerprint(body: dict[str, Any]) -> str:
    return json.dumps([body.get("destinationType"), body.get("destinationProperties"), body.get("tags") or {}],
                      sort_keys=True)


def _install_s3_policy_fix() -> None:
    """moto 5.2.5 enforces bucket policies on object requests (FakeBucket.get_permission) with
    IAMPolicyStatement, which answers DENIED for any statement, Allow or Deny, whose action
    matches but whose Condition does not hold, and applies statements for service principals
    (`{"Service": ...}`) to every caller. So the bucket owner is refused (403) its own
    PutObject/GetObject/DeleteObject under the bucket policy AWS documents for GuardDuty exports
    (Allow for guardduty.amazonaws.com with aws:SourceAccount, and a TLS-only Deny).
    Replacement: only statements for any caller (`*` / `{"AWS": "*"}`) count, evaluated with
    policy_allows' rules and aws:SecureTransport "true" (the real SDKs use TLS against AWS; the
    emulator's plain HTTP is an artefact): a matching Deny -> DENIED, a matching Allow ->
    PERMITTED (public access, as before), otherwise NEUTRAL (the caller's own permissions,
    which moto does not evaluate)."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    if getattr(FakeBucket.get_permission, "_gf_wrapped", False):
        return

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        try:
            doc = json.loads(self.policy.decode("utf-8") if isinstance(self.policy, bytes) else self.policy)
        except ValueError:
            return PermissionResult.NEUTRAL
        context = {"aws:SecureTransport": "true"}
        permitted = False
        for stmt in _as_list(doc.get("Statement") if isinstance(doc, dict) else None):
            if not isinstance(stmt, dict) or not _statement_applies(stmt, None, action, resource, context):
                continue
            if stmt.get("Effect") == "Deny":
                return PermissionResult.DENIED
            if stmt.get("Effect") == "Allow":
                permitted = True
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    get_permission._gf_wrapped = True  # type: ignore[attr-defined]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def create_publishing_destination(self: Any) -> Any:
    det = self._gf_detector()
    body = self._gf_body()
    dtype = body.get("destinationType")
    if dtype is None:
        raise BadRequest(MSG_NO_DEST_TYPE)
    if dtype not in DESTINATION_TYPES:
        raise BadRequest(_msg_list_param("destinationType"))
    _validate_destination_properties(body.get("destinationProperties"), create=True)
    token = body.get("clientToken")
    if token is not None and (not isinstance(token, str) or len(token) > 64):
        raise BadRequest(_msg_list_param("clientToken"))
    _validate_tags(body.get("tags"))
    dests = _destinations(det)
    tokens = det.__dict__.setdefault("gf_destination_tokens", {})
    fingerprint = _destination_fingerprint(body)
    if token:
        known = tokens.get(token)
        if known is not None:
            if known[1] == fingerprint and known[0] in dests:
                return _ok({"destinationId": known[0]})
            raise BadRequest(MSG_LIST_TOKEN)
    if any(d.type == dtype for d in dests.values()):
        raise BadRequest(MSG_DEST_EXISTS)
    dest = PublishingDestination(body)
    dests[dest.id] = dest
    if token:
        tokens[token] = (dest.id, fingerprint)
    return _ok({"destinationId": dest.id})


def _destination_of(self: Any) -> tuple[GFDetector, PublishingDestination]:
    parts = self._gf_path()
    det = self._gf_detector(parts[1])
    dest = _destinations(det).get(parts[3]) if len(parts) > 3 else None
    if dest is None:
        raise BadRequest(MSG_LIST_NOT_FOUND)
    return det, dest


def describe_publishing_destination(self: Any) -> Any:
    det, dest = _destination_of(self)
    status = dest.evaluate(det)
    return _ok({
        "destinationId": dest.id,
        "destinationType": dest.type,
        "status": status,
        "publishingFailureStartTimestamp": (
            int(dest.failure_start.timestamp() * 1000) if dest.failure_start is not None else 0
        ),
        "destinationProperties": dest.properties_json(),
        "tags": dict(dest.tags),
    })


def update_publishing_destination(self: Any) -> Any:
    _, dest = _destination_of(self)
    props = self._gf_body().get("destinationProperties")
    if props is None:
        return _ok()
    _validate_destination_properties(props, create=False)
    if props.get("destinationArn") is not None:
        dest.destination_arn = props["destinationArn"]
    if props.get("kmsKeyArn") is not None:
        dest.kms_key_arn = props["kmsKeyArn"]
    if props.get("expectedBucketOwner") is not None:
        dest.expected_bucket_owner = props["expectedBucketOwner"]
    dest.failure_start = None  # a new configuration starts a new failure period
    return _ok()


def delete_publishing_destination(self: Any) -> Any:
    det, dest = _destination_of(self)
    _destinations(det).pop(dest.id, None)
    tokens = det.__dict__.setdefault("gf_destination_tokens", {})
    for token in [t for t, (i, _) in tokens.items() if i == dest.id]:
        del tokens[token]
    return _ok()


def list_publishing_destinations(self: Any) -> Any:
    det = self._gf_detector()
    start, max_results = self._gf_paging()
    dests = list(_destinations(det).values())
    chunk, nxt = _page(dests, start, max_results)
    out: dict[str, Any] = {"destinations": [
        {"destinationId": d.id, "destinationType": d.type, "status": d.evaluate(det)} for d in chunk
    ]}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


# ---- malware scan settings (Malware Protection for EC2, GuardDuty-initiated scans) ----------
#
# API reference GetMalwareScanSettings / UpdateMalwareScanSettings; user guide "Set up snapshot
# retention and EC2 scan coverage" / "Customizations in Malware Protection for EC2":
#  * per detector (account and Region); "By default, the snapshots retention setting is turned
#    off" -> ebsSnapshotPreservation NO_RETENTION, and no scan-resource criteria (include and
#    exclude empty maps);
#  * scanResourceCriteria {include|exclude: {EC2_INSTANCE_TAG: {mapEquals: [{key, value?}]}}}:
#    "specify tags to either include or exclude" -- the emulator refuses a request that names
#    both a non-empty include and a non-empty exclude (AWS's exact behaviour/wording unknown);
#  * "As a delegated GuardDuty administrator account, only you can make this update on behalf of
#    the organization member accounts. However, if a member account is managed by invitation
#    method, they can make this change on their own." -> an organization member associated with
#    its delegated administrator is refused UpdateMalwareScanSettings.

EBS_SNAPSHOT_PRESERVATION = ["NO_RETENTION", "RETENTION_WITH_FINDING"]
SCAN_CRITERION_KEYS = ["EC2_INSTANCE_TAG"]
MSG_SCAN_BOTH = (
    "The request is rejected because scanResourceCriteria cannot specify both include and exclude "
    "conditions."
)


def _scan_settings(det: GFDetector) -> dict[str, Any]:
    return det.__dict__.setdefault("gf_scan_settings", {
        "scanResourceCriteria": {"include": {}, "exclude": {}},
        "ebsSnapshotPreservation": "NO_RETENTION",
    })


def _validate_scan_criteria(crit: Any) -> dict[str, Any]:
    bad = BadRequest(_msg_list_param("scanResourceCriteria"))
    if not isinstance(crit, dict) or set(crit) - {"include", "exclude"}:
        raise bad
    out: dict[str, Any] = {}
    for side in ("include", "exclude"):
        m = crit.get(side)
        if m is None:
            continue
        if not isinstance(m, dict):
            raise bad
        for key, cond in m.items():
            if key not in SCAN_CRITERION_KEYS:
                raise bad
            if not isinstance(cond, dict) or set(cond) != {"mapEquals"} or not isinstance(cond["mapEquals"], list):
                raise bad
            for pair in cond["mapEquals"]:
                if not isinstance(pair, dict) or set(pair) - {"key", "value"}:
                    raise bad
                k, v = pair.get("key"), pair.get("value")
                if not isinstance(k, str) or not 1 <= len(k) <= 128:
                    raise bad
                if v is not None and (not isinstance(v, str) or len(v) > 256):
                    raise bad
        out[side] = json.loads(json.dumps(m))
    if out.get("include") and out.get("exclude"):
        raise BadRequest(MSG_SCAN_BOTH)
    return out


def _org_member_of_admin(self: Any) -> bool:
    admin = _associated_admin(self)
    if admin is None:
        return False
    rec = _ensure_state(gd(admin, self.region)).gf_members.get(self.current_account)
    return rec is not None and rec.via_org


def get_malware_scan_settings(self: Any) -> Any:
    det = self._gf_detector()
    return _ok(json.loads(json.dumps(_scan_settings(det))))


def update_malware_scan_settings(self: Any) -> Any:
    det = self._gf_detector()
    if _org_member_of_admin(self):
        raise BadRequest(MSG_FILTER_MEMBER)
    body = self._gf_body()
    pres = body.get("ebsSnapshotPreservation")
    if pres is not None and pres not in EBS_SNAPSHOT_PRESERVATION:
        raise BadRequest(_msg_list_param("ebsSnapshotPreservation"))
    crit = body.get("scanResourceCriteria")
    validated = _validate_scan_criteria(crit) if crit is not None else None
    settings = _scan_settings(det)
    if pres is not None:
        settings["ebsSnapshotPreservation"] = pres
    if validated is not None:
        # The criteria given replace the stored ones (a side left out becomes empty).
        settings["scanResourceCriteria"] = {"include": validated.get("include", {}),
                                            "exclude": validated.get("exclude", {})}
    return _ok()


# ---- trusted access for GuardDuty-initiated malware scan ----------------------------------------
#
# User guide "Enabling GuardDuty-initiated malware scan in multiple-account environments",
# "Establishing trusted access to enable GuardDuty-initiated malware scan": "If the GuardDuty
# delegated administrator account is not the same as the management account in your
# organization, the management account must enable GuardDuty-initiated malware scan for their
# organization. This way, the delegated administrator account can create the [malware protection
# service-linked role] in member accounts" (Organizations trusted access for
# malware-protection.guardduty.amazonaws.com). AWS does not document the API's answer when it is
# missing; with GUARDFORM_EMULATOR_MALWARE_TRUSTED_ACCESS=1 the emulator answers:
#  * UpdateMemberDetectors enabling EBS_MALWARE_PROTECTION (or the deprecated
#    dataSources.malwareProtection...ebsVolumes) for organization members: each such member is
#    an unprocessed account with RES_MALWARE_TRUSTED_ACCESS and nothing is applied to it;
#  * UpdateOrganizationConfiguration with EBS_MALWARE_PROTECTION autoEnable NEW or ALL: 400.
# Default off (guardform's integration tests enable malware protection without it).

MALWARE_PRINCIPAL = "malware-protection.guardduty.amazonaws.com"
MALWARE_SLR_NAME = SLR_NAMES[MALWARE_PRINCIPAL]
RES_MALWARE_TRUSTED_ACCESS = (
    "The request is rejected because the organization's management account has not enabled trusted "
    "access for malware-protection.guardduty.amazonaws.com, so the delegated administrator cannot "
    "create the service-linked role AWSServiceRoleForAmazonGuardDutyMalwareProtection in member accounts."
)


def _enforce_malware_trusted_access() -> bool:
    return os.environ.get("GUARDFORM_EMULATOR_MALWARE_TRUSTED_ACCESS", "0") == "1"


def _malware_trusted_access_missing(admin_id: str) -> bool:
    """Whether a delegated administrator (not the management account) lacks the organization's
    trusted access for malware-protection.guardduty.amazonaws.com (only when enforced)."""
    if not _enforce_malware_trusted_access():
        return False
    ob = _org_backend_for(admin_id)
    if ob is None or _management_id(ob) == admin_id:
        return False
    return not any(s.get("ServicePrincipal") == MALWARE_PRINCIPAL for s in ob.services)


def _enables_ebs_malware(updates: list[dict[str, Any]], key: str, on: tuple[str, ...]) -> bool:
    return any(f.get("name") == "EBS_MALWARE_PROTECTION" and f.get(key) in on for f in updates)


def _install_org_trusted_services() -> None:
    """moto 5.2.5's list of trusted services lacks GuardDuty's malware protection principal
    (EnableAWSServiceAccess answered 'unrecognized service principal')."""
    from moto.organizations.models import FakeServiceAccess

    if MALWARE_PRINCIPAL not in FakeServiceAccess.TRUSTED_SERVICES:
        FakeServiceAccess.TRUSTED_SERVICES.append(MALWARE_PRINCIPAL)


# ---- Malware Protection plans (Malware Protection for S3) ----------------------------------------
#
# API reference Create/Get/Update/Delete/ListMalwareProtectionPlans (paths /malware-protection-plan,
# not under a detector: Malware Protection for S3 also works without GuardDuty enabled); user guide
# "GuardDuty Malware Protection for S3", "Quotas in Malware Protection for S3" (10 protected buckets
# per account and Region), "Create or update IAM role policy", "Troubleshooting Malware Protection
# plan status" (reason codes EVENTBRIDGE_MANAGED_EVENTS_DELIVERY_DISABLED,
# EVENTBRIDGE_MANAGED_RULE_DISABLED).
#  * protectedResource.s3Bucket.bucketName: the bucket must exist and belong to the caller's
#    account (the plan lives in the bucket owner's account); one plan per bucket (409
#    ConflictException); objectPrefixes at most 5 (model); actions.tagging.status ENABLED|DISABLED
#    (default DISABLED); role an IAM role ARN; tags; clientToken.
#  * status, computed on every GetMalwareProtectionPlan from moto's IAM state (see plan_status).

MPP_LIMIT = 10
MPP_MAX_PREFIXES = 5
MPP_PRINCIPAL = "malware-protection-plan.guardduty.amazonaws.com"
TAGGING_STATUSES = ["ENABLED", "DISABLED"]
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[\w+=,.@/-]*/)?(?P<name>[\w+=,.@-]{1,64})$")
MSG_MPP_NOT_FOUND = MSG_LIST_NOT_FOUND
MSG_MPP_NO_BUCKET = "The request is rejected because the S3 bucket {bucket} does not exist."
MSG_MPP_FOREIGN_BUCKET = (
    "The request is rejected because the S3 bucket {bucket} is not owned by the current account."
)
MSG_MPP_EXISTS = (
    "The request failed because a Malware Protection plan already exists for the S3 bucket {bucket}."
)
MSG_MPP_PREFIXES = (
    "The request is rejected because the parameter objectPrefixes has an invalid value. "
    "At most 5 object prefixes are allowed."
)


class Conflict(GuardDutyError):
    code = 409
    header_type = "ConflictException"
    body_type = "ConflictException"


class NotFound(GuardDutyError):
    code = 404
    header_type = "ResourceNotFoundException"
    body_type = "ResourceNotFoundException"


class MalwareProtectionPlan:
    def __init__(self, account_id: str, region: str, body: dict[str, Any]) -> None:
        s3 = body["protectedResource"]["s3Bucket"]
        self.id = mock_random.get_random_hex(length=20)
        self.account_id = account_id
        self.region = region
        self.role: str = body["role"]
        self.bucket: str = s3["bucketName"]
        self.prefixes: list[str] = list(s3.get("objectPrefixes") or [])
        self.tagging: str = ((body.get("actions") or {}).get("tagging") or {}).get("status") or "DISABLED"
        self.tags: dict[str, str] = dict(body.get("tags") or {})
        self.created_at = _now()

    @property
    def arn(self) -> str:
        return f"arn:aws:guardduty:{self.region}:{self.account_id}:malware-protection-plan/{self.id}"

    def to_json(self) -> dict[str, Any]:
        status, reasons = plan_status(self)
        s3: dict[str, Any] = {"bucketName": self.bucket}
        if self.prefixes:
            s3["objectPrefixes"] = list(self.prefixes)
        out: dict[str, Any] = {
            "arn": self.arn,
            "role": self.role,
            "protectedResource": {"s3Bucket": s3},
            "actions": {"tagging": {"status": self.tagging}},
            "createdAt": _epoch(self.created_at),
            "status": status,
            "tags": dict(self.tags),
        }
        if reasons:
            out["statusReasons"] = reasons
        return out


def _plans(self: Any) -> dict[str, MalwareProtectionPlan]:
    return self._gf_backend().__dict__.setdefault("gf_malware_plans", {})


def _identity_policies(role: Any) -> list[Any]:
    """The documents of a role's inline and attached customer-managed policies."""
    docs: list[Any] = list(getattr(role, "policies", {}).values())
    for pol in list(getattr(role, "managed_policies", {}).values()):
        for version in getattr(pol, "versions", []):
            if getattr(version, "is_default", False):
                docs.append(version.document)
    return docs


def _load_doc(doc: Any) -> dict[str, Any]:
    if isinstance(doc, (bytes, bytearray)):
        doc = doc.decode("utf-8", errors="replace")
    if isinstance(doc, str):
        try:
            from urllib.parse import unquote as _unq
            doc = json.loads(doc if doc.lstrip().startswith("{") else _unq(doc))
        except ValueError:
            return {}
    return doc if isinstance(doc, dict) else {}


def identity_allows(docs: list[Any], action: str, resource: str) -> bool:
    """Whether any Allow statement of the policies has an Action matching `action` (wildcards,
    case-insensitive) and a Resource matching `resource` (wildcards). Deny statements,
    NotAction/NotResource and Conditions are not evaluated (a statement with a Condition still
    counts): a deliberately small check."""
    for doc in docs:
        for stmt in _as_list(_load_doc(doc).get("Statement")):
            if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
                continue
            actions = [a for a in _as_list(stmt.get("Action")) if isinstance(a, str)]
            resources = [r for r in _as_list(stmt.get("Resource")) if isinstance(r, str)]
            if any(_wild(a, action, case=False) for a in actions) and any(_wild(r, resource) for r in resources):
                return True
    return False


def _trusts(role: Any, principal: str) -> bool:
    for stmt in _as_list(_load_doc(role.assume_role_policy_document).get("Statement")):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        if not any(_wild(a, "sts:AssumeRole", case=False) for a in _as_list(stmt.get("Action")) if isinstance(a, str)):
            continue
        p = stmt.get("Principal")
        if isinstance(p, dict) and principal in _as_list(p.get("Service")):
            return True
    return False


# Reason codes: the EVENTBRIDGE_* codes are AWS's (troubleshooting page); the ROLE_* and
# S3_OBJECT_* codes are the emulator's own (AWS's codes for these cases were not found).
def plan_status(plan: MalwareProtectionPlan) -> tuple[str, list[dict[str, str]]]:
    """ACTIVE / WARNING / ERROR from moto's IAM state right now:
    ERROR   role missing (ARN not in the plan's account, or no role of that name), its trust policy
            lets no Allow statement give sts:AssumeRole to malware-protection-plan.guardduty.amazonaws.com,
            or its policies allow no s3:GetObject on an object of the bucket (under the first prefix);
    WARNING the policies lack events:PutRule / events:PutTargets on the managed rule
            arn:aws:events:REGION:ACCOUNT:rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3...
            (EVENTBRIDGE_MANAGED_RULE_DISABLED) or s3:PutBucketNotification on the bucket
            (EVENTBRIDGE_MANAGED_EVENTS_DELIVERY_DISABLED);
    ACTIVE  otherwise. Errors rank before warnings; all reasons found are listed."""
    m = _ROLE_ARN_RE.match(plan.role)
    role = None
    if m is not None and m.group("account") == plan.account_id:
        iam = _iam_backend(plan.account_id, plan.region)
        role = next((r for r in list(iam.roles.values()) if r.name == m.group("name")), None)
    if role is None:
        return "ERROR", [{"code": "ROLE_NOT_FOUND",
                          "message": f"The IAM role {plan.role} does not exist in account {plan.account_id}."}]
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    if not _trusts(role, MPP_PRINCIPAL):
        errors.append({"code": "ROLE_NOT_ASSUMABLE",
                       "message": f"The trust policy of {plan.role} does not allow {MPP_PRINCIPAL} to assume it."})
    docs = _identity_policies(role)
    prefix = plan.prefixes[0] if plan.prefixes else ""
    obj = f"arn:aws:s3:::{plan.bucket}/{prefix}guardduty-emulator-sample-object"
    if not identity_allows(docs, "s3:GetObject", obj):
        errors.append({"code": "S3_OBJECT_ACCESS_DENIED",
                       "message": f"The IAM role {plan.role} does not allow s3:GetObject on {obj}."})
    rule = (f"arn:aws:events:{plan.region}:{plan.account_id}:rule/"
            f"DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3ManagedRule-{plan.bucket}")
    if not (identity_allows(docs, "events:PutRule", rule) and identity_allows(docs, "events:PutTargets", rule)):
        warnings.append({"code": "EVENTBRIDGE_MANAGED_RULE_DISABLED",
                         "message": "The EventBridge managed rule to receive S3 bucket events is missing: "
                                    f"the IAM role does not allow events:PutRule and events:PutTargets on {rule}."})
    if not identity_allows(docs, "s3:PutBucketNotification", f"arn:aws:s3:::{plan.bucket}"):
        warnings.append({"code": "EVENTBRIDGE_MANAGED_EVENTS_DELIVERY_DISABLED",
                         "message": f"EventBridge notification is disabled for the S3 bucket {plan.bucket}: "
                                    "the IAM role does not allow s3:PutBucketNotification on it."})
    if errors:
        return "ERROR", errors + warnings
    if warnings:
        return "WARNING", warnings
    return "ACTIVE", []


def _validate_role(role: Any) -> None:
    if not isinstance(role, str) or not _ROLE_ARN_RE.match(role):
        raise BadRequest(_msg_list_param("role"))


def _validate_prefixes(prefixes: Any) -> list[str]:
    if prefixes is None:
        return []
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and 1 <= len(p) <= 1024 for p in prefixes):
        raise BadRequest(_msg_list_param("objectPrefixes"))
    if len(prefixes) > MPP_MAX_PREFIXES:
        raise BadRequest(MSG_MPP_PREFIXES)
    return prefixes


def _validate_actions(actions: Any) -> None:
    if actions is None:
        return
    if not isinstance(actions, dict) or set(actions) - {"tagging"}:
        raise BadRequest(_msg_list_param("actions"))
    tagging = actions.get("tagging")
    if tagging is None:
        return
    if not isinstance(tagging, dict) or set(tagging) - {"status"} or (
            tagging.get("status") is not None and tagging["status"] not in TAGGING_STATUSES):
        raise BadRequest(_msg_list_param("actions"))


def create_malware_protection_plan(self: Any) -> Any:
    from moto.s3.models import s3_backends

    body = self._gf_body()
    _validate_role(body.get("role"))
    pr = body.get("protectedResource")
    s3 = pr.get("s3Bucket") if isinstance(pr, dict) else None
    if not isinstance(s3, dict) or set(pr) - {"s3Bucket"} or set(s3) - {"bucketName", "objectPrefixes"}:
        raise BadRequest(_msg_list_param("protectedResource"))
    bucket = s3.get("bucketName")
    if not isinstance(bucket, str) or not _S3_BUCKET_RE.match(bucket):
        raise BadRequest(_msg_list_param("bucketName"))
    _validate_prefixes(s3.get("objectPrefixes"))
    _validate_actions(body.get("actions"))
    _validate_tags(body.get("tags"))
    token = body.get("clientToken")
    if token is not None and (not isinstance(token, str) or len(token) > 64):
        raise BadRequest(_msg_list_param("clientToken"))
    plans = _plans(self)
    tokens = self._gf_backend().__dict__.setdefault("gf_malware_plan_tokens", {})
    fingerprint = json.dumps([body.get("role"), pr, body.get("actions"), body.get("tags") or {}], sort_keys=True)
    if token:
        known = tokens.get(token)
        if known is not None:
            if known[1] == fingerprint and known[0] in plans:
                return _ok({"malwareProtectionPlanId": known[0]})
            raise BadRequest(MSG_LIST_TOKEN)
    owner = s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        raise BadRequest(MSG_MPP_NO_BUCKET.format(bucket=bucket))
    if owner[1] != self.current_account:
        raise BadRequest(MSG_MPP_FOREIGN_BUCKET.format(bucket=bucket))
    if any(p.bucket == bucket for p in plans.values()):
        raise Conflict(MSG_MPP_EXISTS.format(bucket=bucket))
    if len(plans) >= MPP_LIMIT:
        raise BadRequest(MSG_LIST_LIMIT)
    plan = MalwareProtectionPlan(self.current_account, self.region, body)
    plans[plan.id] = plan
    if token:
        tokens[token] = (plan.id, fingerprint)
    return _ok({"malwareProtectionPlanId": plan.id})


def _plan_of(self: Any) -> MalwareProtectionPlan:
    parts = self._gf_path()
    plan = _plans(self).get(parts[1]) if len(parts) > 1 else None
    if plan is None:
        raise NotFound(MSG_MPP_NOT_FOUND)
    return plan


def get_malware_protection_plan(self: Any) -> Any:
    return _ok(_plan_of(self).to_json())


def update_malware_protection_plan(self: Any) -> Any:
    plan = _plan_of(self)
    body = self._gf_body()
    role = body.get("role")
    if role is not None:
        _validate_role(role)
    actions = body.get("actions")
    _validate_actions(actions)
    pr = body.get("protectedResource")
    prefixes = None
    if pr is not None:
        s3 = pr.get("s3Bucket") if isinstance(pr, dict) else None
        if not isinstance(s3, dict) or set(pr) - {"s3Bucket"} or set(s3) - {"objectPrefixes"}:
            raise BadRequest(_msg_list_param("protectedResource"))
        if "objectPrefixes" in s3:
            prefixes = _validate_prefixes(s3["objectPrefixes"])
    if role is not None:
        plan.role = role
    status = ((actions or {}).get("tagging") or {}).get("status")
    if status is not None:
        plan.tagging = status
    if prefixes is not None:
        plan.prefixes = list(prefixes)
    return _ok()


def delete_malware_protection_plan(self: Any) -> Any:
    plan = _plan_of(self)
    _plans(self).pop(plan.id, None)
    tokens = self._gf_backend().__dict__.setdefault("gf_malware_plan_tokens", {})
    for token in [t for t, (i, _) in tokens.items() if i == plan.id]:
        del tokens[token]
    return _ok()


def list_malware_protection_plans(self: Any) -> Any:
    tok = self._gf_query("nextToken")
    start = 0
    if tok:
        try:
            start = int(tok)
        except ValueError:
            raise BadRequest("The request is rejected because the parameter nextToken has an invalid value.")
    ids = sorted(_plans(self), key=lambda i: (_plans(self)[i].created_at, i))
    chunk, nxt = _page(ids, start, 50)
    out: dict[str, Any] = {"malwareProtectionPlans": [{"malwareProtectionPlanId": i} for i in chunk]}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


# ---- tags -----------------------------------------------------------------------------

ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:guardduty:([a-z0-9-]+):(\d{12}):detector/([^/]+)(?:/(ipset|threatintelset|threatentityset|trustedentityset|filter|publishingDestination)/([^/]+))?$"
)


MPP_ARN_RE = re.compile(r"^arn:aws[a-z-]*:guardduty:([a-z0-9-]+):(\d{12}):malware-protection-plan/([^/]+)$")


def _validate_tags(tags: Any) -> None:
    if tags is None:
        return
    if not isinstance(tags, dict):
        raise BadRequest(MSG_INVALID_INPUT)
    if len(tags) > 50:
        raise BadRequest(
            "The request is rejected because the number of tags exceeds the limit of 50 tags per resource."
        )
    for k, v in tags.items():
        if not isinstance(k, str) or not 1 <= len(k) <= 128 or k.lower().startswith("aws:"):
            raise BadRequest(f"The request is rejected because the tag key {k!r} is invalid.")
        if not isinstance(v, str) or len(v) > 256:
            raise BadRequest(f"The request is rejected because the tag value for {k!r} is invalid.")


def _tag_target(self: Any) -> Any:
    """The taggable object (detector, IP set, threat intel set or filter) of the ARN."""
    parts = self._gf_path()
    arn = "/".join(parts[1:])
    mp = MPP_ARN_RE.match(arn)
    if mp is not None:
        region, account, plan_id = mp.groups()
        if account != self.current_account:
            raise AccessDenied(
                "The request is rejected because the current account is not authorized to access the resource."
            )
        plan = _plans(self).get(plan_id) if region == self.region else None
        if plan is None:
            raise BadRequest("The request is rejected because the resource could not be found.")
        return plan
    m = ARN_RE.match(arn)
    if not m:
        raise BadRequest("The request is rejected because the resourceArn is invalid.")
    region, account, det_id, sub_kind, sub_id = m.groups()
    if account != self.current_account:
        raise AccessDenied(
            "The request is rejected because the current account is not authorized to access the resource."
        )
    if region != self.region:
        raise BadRequest("The request is rejected because the resourceArn is invalid.")
    det = self._gf_backend().detectors.get(det_id)
    if det is None:
        raise BadRequest("The request is rejected because the resource could not be found.")
    det = _as_gf(det)
    if sub_kind is None:
        return det
    if sub_kind == "filter":
        target = det.filters.get(sub_id)
        if target is not None and not hasattr(target, "tags"):
            target.tags = {}
    elif sub_kind == "publishingDestination":
        target = _destinations(det).get(sub_id)
    else:
        target = _lists(det, sub_kind).get(sub_id)
    if target is None:
        raise BadRequest("The request is rejected because the resource could not be found.")
    return target


def tag_resource(self: Any) -> Any:
    det = _tag_target(self)
    tags = self._gf_body().get("tags")
    if not tags:
        raise BadRequest("The request is rejected because the parameter tags has an invalid value.")
    _validate_tags(tags)
    merged = dict(det.tags)
    merged.update(tags)
    _validate_tags(merged)
    det.tags = merged
    return _ok(status=204)


def untag_resource(self: Any) -> Any:
    det = _tag_target(self)
    keys = self._gf_query_all("tagKeys")
    if not keys:
        raise BadRequest("The request is rejected because the parameter tagKeys has an invalid value.")
    for k in keys:
        det.tags.pop(k, None)
    return _ok(status=204)


def list_tags_for_resource(self: Any) -> Any:
    det = _tag_target(self)
    return _ok({"tags": dict(det.tags)})


# ---- organization admin -----------------------------------------------------------------


def _require_management(self: Any) -> Any:
    ob = _org_backend_for(self.current_account)
    if ob is None or _management_id(ob) != self.current_account:
        raise BadRequest(MSG_NO_ORG_PERMISSION)
    return ob


def enable_organization_admin_account(self: Any) -> Any:
    ob = _require_management(self)
    admin_id = self._gf_body().get("adminAccountId")
    accounts = _org_accounts(ob)
    if not isinstance(admin_id, str) or not ACCOUNT_RE.match(admin_id):
        raise BadRequest(MSG_INVALID_INPUT)
    acct = accounts.get(admin_id)
    if acct is None or acct.status != "ACTIVE":
        raise BadRequest(MSG_INVALID_INPUT)
    mgmt_state = self._gf_backend()
    current = mgmt_state.gf_org_admin
    if current is not None and current != admin_id:
        raise BadRequest(MSG_ADMIN_EXISTS)
    # Organizations side: trusted access + delegated administrator registration.
    try:
        ob.enable_aws_service_access(ServicePrincipal=GUARDDUTY_PRINCIPAL)
    except Exception:  # pragma: no cover - best effort
        pass
    if admin_id != self.current_account:
        try:
            already = any(
                a.account.id == admin_id and GUARDDUTY_PRINCIPAL in a.services for a in ob.admins
            )
            if not already:
                ob.register_delegated_administrator(AccountId=admin_id, ServicePrincipal=GUARDDUTY_PRINCIPAL)
        except Exception:  # pragma: no cover - best effort
            pass
    mgmt_state.gf_org_admin = admin_id
    # GuardDuty gets enabled for the delegated administrator in this Region.
    if _detector_of(admin_id, self.region) is None:
        _create_detector(admin_id, self.region, True, None, None)
    admin_state = _ensure_state(gd(admin_id, self.region))
    if admin_state.gf_org_config is None:
        admin_state.gf_org_config = OrgConfig()
    return _ok()


def disable_organization_admin_account(self: Any) -> Any:
    _require_management(self)
    admin_id = self._gf_body().get("adminAccountId")
    if not isinstance(admin_id, str) or not ACCOUNT_RE.match(admin_id):
        raise BadRequest(MSG_INVALID_INPUT)
    mgmt_state = self._gf_backend()
    if mgmt_state.gf_org_admin != admin_id:
        raise BadRequest(MSG_NOT_ADMIN)
    mgmt_state.gf_org_admin = None
    admin_state = _ensure_state(gd(admin_id, self.region))
    admin_state.gf_org_config = None
    return _ok()


def list_organization_admin_accounts(self: Any) -> Any:
    _require_management(self)
    start, max_results = self._gf_paging()
    admin = self._gf_backend().gf_org_admin
    items = [{"adminAccountId": admin, "adminStatus": "ENABLED"}] if admin else []
    chunk, nxt = _page(items, start, max_results)
    out: dict[str, Any] = {"adminAccounts": chunk}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def _require_delegated_admin(self: Any) -> tuple[Any, GFDetector, GuardDutyBackend]:
    det = self._gf_detector()
    ob = _org_backend_for(self.current_account)
    if ob is None or _delegated_admin(ob, self.region) != self.current_account:
        raise BadRequest(MSG_NO_ORG_PERMISSION)
    backend = self._gf_backend()
    if backend.gf_org_config is None:
        backend.gf_org_config = OrgConfig()
    return ob, det, backend


def describe_organization_configuration(self: Any) -> Any:
    ob, det, backend = _require_delegated_admin(self)
    start, max_results = self._gf_paging()
    cfg: OrgConfig = backend.gf_org_config
    feats = []
    for name in FEATURES:
        f = cfg.features[name]
        item: dict[str, Any] = {"name": name, "autoEnable": f["autoEnable"]}
        if f["additional"]:
            item["additionalConfiguration"] = [
                {"name": a, "autoEnable": v} for a, v in f["additional"].items()
            ]
        feats.append(item)
    chunk, nxt = _page(feats, start, max_results)

    def on(name: str) -> bool:
        return cfg.features[name]["autoEnable"] in ("NEW", "ALL")

    org_members = sum(1 for m in backend.gf_members.values() if m.via_org)
    out: dict[str, Any] = {
        "autoEnable": cfg.auto_enable_members != "NONE",
        "memberAccountLimitReached": org_members >= ORG_MEMBER_LIMIT,
        "dataSources": {
            "s3Logs": {"autoEnable": on("S3_DATA_EVENTS")},
            "kubernetes": {"auditLogs": {"autoEnable": on("EKS_AUDIT_LOGS")}},
            "malwareProtection": {
                "scanEc2InstanceWithFindings": {"ebsVolumes": {"autoEnable": on("EBS_MALWARE_PROTECTION")}}
            },
        },
        "features": chunk,
        "autoEnableOrganizationMembers": cfg.auto_enable_members,
    }
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def update_organization_configuration(self: Any) -> Any:
    ob, det, backend = _require_delegated_admin(self)
    body = self._gf_body()
    features = body.get("features")
    ds = body.get("dataSources")
    if features is not None and ds is not None:
        raise BadRequest(MSG_DATASOURCES_AND_FEATURES)
    _validate_features(features, status_key="autoEnable", allowed_status=AUTO_ENABLE)
    members = body.get("autoEnableOrganizationMembers")
    if members is not None and members not in AUTO_ENABLE:
        raise BadRequest(
            f"The request is rejected because an invalid or out-of-range value is specified as an input parameter. Invalid autoEnableOrganizationMembers: {members}"
        )
    auto = body.get("autoEnable")
    if auto is not None and not isinstance(auto, bool):
        raise BadRequest("The request is rejected because the parameter autoEnable has an invalid value.")
    org_updates = features if features is not None else _org_features_from_datasources(ds)
    if (_enables_ebs_malware(org_updates, "autoEnable", ("NEW", "ALL"))
            and _malware_trusted_access_missing(self.current_account)):
        raise BadRequest(RES_MALWARE_TRUSTED_ACCESS)
    cfg: OrgConfig = backend.gf_org_config
    if members is not None:
        cfg.auto_enable_members = members
    elif auto is not None:
        cfg.auto_enable_members = "NEW" if auto else "NONE"
    for f in features if features is not None else _org_features_from_datasources(ds):
        cur = cfg.features[f["name"]]
        if f.get("autoEnable") is not None:
            cur["autoEnable"] = f["autoEnable"]
        for a in f.get("additionalConfiguration") or []:
            if a.get("autoEnable") is not None:
                cur["additional"][a["name"]] = a["autoEnable"]
    # AWS applies ALL to existing members asynchronously; the emulator only stores it.
    return _ok()


# ---- members --------------------------------------------------------------------------


# Bumped whenever any administrator's member set or a member's relationship changes, so
# list_members can keep its sorted, filtered list between changes (a no-op plan pages through
# 10,000 members 50 at a time, 200 calls per Region).
_members_generation = 0


def _members_changed() -> None:
    global _members_generation
    _members_generation += 1


class MemberRecord:
    def __init__(self, account_id: str, email: str, via_org: bool) -> None:
        self.account_id = account_id
        self.email = email
        self.via_org = via_org
        self._relationship = "Created"
        self.invited_at: datetime | None = None
        self.invitation_id: str | None = None
        self.updated_at = _now()

    @property
    def relationship(self) -> str:
        return self._relationship

    @relationship.setter
    def relationship(self, value: str) -> None:
        self._relationship = value
        _members_changed()

    def touch(self, relationship: str | None = None) -> None:
        if relationship is not None:
            self.relationship = relationship
        self.updated_at = _now()


def _member_json(admin_id: str, region: str, m: MemberRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "accountId": m.account_id,
        "masterId": admin_id,
        "administratorId": admin_id,
        "email": m.email,
        "relationshipStatus": m.relationship,
        "updatedAt": _iso(m.updated_at),
    }
    det = _detector_of(m.account_id, region)
    if det is not None:
        out["detectorId"] = det.id
    if m.invited_at is not None:
        out["invitedAt"] = _iso(m.invited_at)
    return out


def _associated_elsewhere(account_id: str, region: str, admin_id: str) -> bool:
    other = _ensure_state(gd(account_id, region)).gf_admin_id
    if other is None or other == admin_id:
        return False
    rec = _ensure_state(gd(other, region)).gf_members.get(account_id)
    return rec is not None and rec.relationship in ("Enabled", "Invited")


def _apply_org_config_to_member(account_id: str, region: str, admin_det: GFDetector,
                                cfg: OrgConfig) -> None:
    det = _detector_of(account_id, region)
    if det is None:
        updates = []
        for name in FEATURES:
            f = cfg.features[name]
            updates.append({
                "name": name,
                "status": "ENABLED" if f["autoEnable"] in ("NEW", "ALL") else "DISABLED",
                "additionalConfiguration": [
                    {"name": a, "status": "ENABLED" if v in ("NEW", "ALL") else "DISABLED"}
                    for a, v in f["additional"].items()
                ],
            })
        _create_detector(account_id, region, True, admin_det.finding_publish_freq, None, updates)
        return
    det = _as_gf(det)
    if not det.enabled:
        det.enabled = True
        det.updated_at = _now()
    updates = []
    for name in FEATURES:
        f = cfg.features[name]
        item: dict[str, Any] = {"name": name, "additionalConfiguration": []}
        if f["autoEnable"] == "ALL":
            item["status"] = "ENABLED"
        for a, v in f["additional"].items():
            if v == "ALL":
                item["additionalConfiguration"].append({"name": a, "status": "ENABLED"})
        updates.append(item)
    det.apply_features(updates)


def create_members(self: Any) -> Any:
    admin_det = self._gf_detector()
    backend = self._gf_backend()
    body = self._gf_body()
    details = body.get("accountDetails")
    _check_ids(details, "accountDetails")
    admin_id = self.current_account
    ob = _org_backend_for(admin_id)
    is_delegated = ob is not None and _delegated_admin(ob, self.region) == admin_id
    org_accounts = _org_accounts(ob) if is_delegated else {}
    mgmt_id = _management_id(ob)
    cfg = backend.gf_org_config or OrgConfig()
    unprocessed = []
    for d in details:
        acct = (d or {}).get("accountId")
        email = (d or {}).get("email")
        if not isinstance(acct, str) or not ACCOUNT_RE.match(acct):
            unprocessed.append({"accountId": str(acct), "result": RES_INVALID_ID})
            continue
        if acct == admin_id:
            unprocessed.append({"accountId": acct, "result": RES_SELF})
            continue
        in_org = acct in org_accounts
        if in_org and org_accounts[acct].status != "ACTIVE":
            unprocessed.append({"accountId": acct, "result": RES_SUSPENDED})
            continue
        if not in_org and (not isinstance(email, str) or not email):
            raise BadRequest("The request is rejected because the parameter email has an invalid value.")
        if _associated_elsewhere(acct, self.region, admin_id):
            unprocessed.append({"accountId": acct, "result": RES_OTHER_ADMIN})
            continue
        if in_org and acct == mgmt_id and not has_service_linked_role(acct, self.region):
            # "Designating a delegated GuardDuty administrator account": the management account
            # needs GuardDuty's service-linked role (made when GuardDuty is first enabled there,
            # in any Region, or with iam:CreateServiceLinkedRole) before it can become a member.
            unprocessed.append({"accountId": acct, "result": RES_MANAGEMENT_NO_SLR})
            continue
        rec = backend.gf_members.get(acct)
        if rec is None:
            rec = MemberRecord(acct, email or org_accounts[acct].email, via_org=in_org)
            backend.gf_members[acct] = rec
            _members_changed()
        elif email:
            rec.email = email
        if in_org:
            rec.via_org = True
            _apply_org_config_to_member(acct, self.region, admin_det, cfg)
            member_state = _ensure_state(gd(acct, self.region))
            member_state.gf_admin_id = admin_id
            member_state.gf_invitations.pop(admin_id, None)
            if rec.relationship != "Enabled":
                rec.touch("Enabled")
    return _ok({"unprocessedAccounts": unprocessed})


def list_members(self: Any) -> Any:
    self._gf_detector()
    backend = self._gf_backend()
    start, max_results = self._gf_paging()
    only = (self._gf_query("onlyAssociated") or "true").lower()
    if only not in ("true", "false"):
        raise BadRequest("The request is rejected because the parameter onlyAssociated has an invalid value.")
    cached = getattr(backend, "gf_listed", {}).get(only)
    if cached is not None and cached[0] == _members_generation:
        recs = cached[1]
    else:
        recs = sorted(backend.gf_members.values(), key=lambda m: m.account_id)
        if only == "true":
            recs = [m for m in recs if m.relationship == "Enabled"]
        backend.gf_listed = {**getattr(backend, "gf_listed", {}), only: (_members_generation, recs)}
    chunk, nxt = _page(recs, start, max_results)
    out: dict[str, Any] = {
        "members": [_member_json(self.current_account, self.region, m) for m in chunk]
    }
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def _batch(self: Any) -> tuple[GFDetector, GuardDutyBackend, list[str]]:
    det = self._gf_detector()
    backend = self._gf_backend()
    ids = _check_ids(self._gf_body().get("accountIds"), "accountIds")
    return det, backend, ids


def get_members(self: Any) -> Any:
    _, backend, ids = _batch(self)
    members, unprocessed = [], []
    for acct in ids:
        if not isinstance(acct, str) or not ACCOUNT_RE.match(acct):
            unprocessed.append({"accountId": str(acct), "result": RES_INVALID_ID})
            continue
        rec = backend.gf_members.get(acct)
        if rec is None:
            unprocessed.append({"accountId": acct, "result": RES_NOT_MEMBER})
            continue
        members.append(_member_json(self.current_account, self.region, rec))
    return _ok({"members": members, "unprocessedAccounts": unprocessed})


def _auto_enable_all(backend: GuardDutyBackend) -> bool:
    cfg = backend.gf_org_config
    return cfg is not None and cfg.auto_enable_members == "ALL"


def disassociate_members(self: Any) -> Any:
    _, backend, ids = _batch(self)
    admin_id = self.current_account
    ob = _org_backend_for(admin_id)
    org_accounts = _org_accounts(ob)
    unprocessed = []
    for acct in ids:
        if not isinstance(acct, str) or not ACCOUNT_RE.match(acct):
            unprocessed.append({"accountId": str(acct), "result": RES_INVALID_ID})
            continue
        rec = backend.gf_members.get(acct)
        if rec is None:
            unprocessed.append({"accountId": acct, "result": RES_NOT_MEMBER})
            continue
        if rec.via_org and _auto_enable_all(backend) and acct in org_accounts:
            unprocessed.append({"accountId": acct, "result": RES_AUTO_ENABLE_ALL})
            continue
        if rec.relationship != "Removed":
            rec.touch("Removed")
        member_state = _ensure_state(gd(acct, self.region))
        if member_state.gf_admin_id == admin_id:
            member_state.gf_admin_id = None
        member_state.gf_invitations.pop(admin_id, None)
    return _ok({"unprocessedAccounts": unprocessed})


def delete_members(self: Any) -> Any:
    _, backend, ids = _batch(self)
    admin_id = self.current_account
    ob = _org_backend_for(admin_id)
    org_accounts = _org_accounts(ob)
    unprocessed = []
    for acct in ids:
        if not isinstance(acct, str) or not ACCOUNT_RE.match(acct):
            unprocessed.append({"accountId": str(acct), "result": RES_INVALID_ID})
            continue
        rec = backend.gf_members.get(acct)
        if rec is None:
            unprocessed.append({"accountId": acct, "result": RES_NOT_MEMBER})
            continue
        if rec.via_org and _auto_enable_all(backend) and acct in org_accounts and rec.relationship == "Enabled":
            unprocessed.append({"accountId": acct, "result": RES_AUTO_ENABLE_ALL})
            continue
        backend.gf_members.pop(acct, None)
        _members_changed()
        member_state = _ensure_state(gd(acct, self.region))
        if member_state.gf_admin_id == admin_id:
            member_state.gf_admin_id = None
        member_state.gf_invitations.pop(admin_id, None)
        # The member keeps its detector (it becomes a standalone account).
    return _ok({"unprocessedAccounts": unprocessed})


def invite_members(self: Any) -> Any:
    _, backend, ids = _batch(self)
    admin_id = self.current_account
    unprocessed = []
    for acct in ids:
        if not isinstance(acct, str) or not ACCOUNT_RE.match(acct):
            unprocessed.append({"accountId": str(acct), "result": RES_INVALID_ID})
            continue
        rec = backend.gf_members.get(acct)
        if rec is None:
            unprocessed.append({"accountId": acct, "result": RES_NOT_MEMBER})
            continue
        if rec.via_org:
            unprocessed.append({"accountId": acct, "result": RES_ORG_MEMBER_INVITE})
            continue
        if rec.relationship == "Enabled":
            continue
        if _associated_elsewhere(acct, self.region, admin_id):
            unprocessed.append({"accountId": acct, "result": RES_OTHER_ADMIN})
            continue
        now = _now()
        rec.invited_at = now
        rec.invitation_id = uuid.uuid4().hex
        rec.touch("Invited")
        _ensure_state(gd(acct, self.region)).gf_invitations[admin_id] = {
            "invitationId": rec.invitation_id,
            "invitedAt": now,
        }
    return _ok({"unprocessedAccounts": unprocessed})


def list_invitations(self: Any) -> Any:
    start, max_results = self._gf_paging()
    backend = self._gf_backend()
    items = []
    for admin_id, inv in sorted(backend.gf_invitations.items()):
        items.append({
            "accountId": admin_id,
            "invitationId": inv["invitationId"],
            "relationshipStatus": "Invited",
            "invitedAt": _iso(inv["invitedAt"]),
        })
    chunk, nxt = _page(items, start, max_results)
    out: dict[str, Any] = {"invitations": chunk}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def get_invitations_count(self: Any) -> Any:
    return _ok({"invitationsCount": len(self._gf_backend().gf_invitations)})


def _decline_or_delete(self: Any) -> Any:
    backend = self._gf_backend()
    ids = _check_ids(self._gf_body().get("accountIds"), "accountIds")
    unprocessed = []
    for admin_id in ids:
        inv = backend.gf_invitations.pop(admin_id, None) if isinstance(admin_id, str) else None
        if inv is None:
            unprocessed.append({"accountId": str(admin_id), "result": RES_NO_INVITATION})
            continue
        rec = _ensure_state(gd(admin_id, self.region)).gf_members.get(self.current_account)
        if rec is not None and rec.relationship == "Invited":
            rec.touch("Removed")
    return _ok({"unprocessedAccounts": unprocessed})


def decline_invitations(self: Any) -> Any:
    return _decline_or_delete(self)


def delete_invitations(self: Any) -> Any:
    return _decline_or_delete(self)


def accept_administrator_invitation(self: Any) -> Any:
    self._gf_detector()
    backend = self._gf_backend()
    body = self._gf_body()
    admin_id = body.get("administratorId") or body.get("masterId")
    inv_id = body.get("invitationId")
    inv = backend.gf_invitations.get(admin_id) if isinstance(admin_id, str) else None
    if inv is None or inv["invitationId"] != inv_id:
        raise BadRequest(RES_NO_INVITATION)
    if backend.gf_admin_id not in (None, admin_id):
        raise BadRequest(
            "The request is rejected because the current account is already associated with another administrator account."
        )
    rec = _ensure_state(gd(admin_id, self.region)).gf_members.get(self.current_account)
    if rec is None:
        raise BadRequest(RES_NO_INVITATION)
    backend.gf_invitations.pop(admin_id, None)
    backend.gf_admin_id = admin_id
    rec.touch("Enabled")
    return _ok()


def accept_invitation(self: Any) -> Any:
    return accept_administrator_invitation(self)


def _administrator_json(self: Any) -> dict[str, Any]:
    self._gf_detector()
    backend = self._gf_backend()
    admin_id = backend.gf_admin_id
    if admin_id is None:
        return {}
    rec = _ensure_state(gd(admin_id, self.region)).gf_members.get(self.current_account)
    if rec is None:
        return {}
    out: dict[str, Any] = {"accountId": admin_id, "relationshipStatus": rec.relationship}
    if rec.invitation_id:
        out["invitationId"] = rec.invitation_id
    if rec.invited_at is not None:
        out["invitedAt"] = _iso(rec.invited_at)
    return out


def get_administrator_account(self: Any) -> Any:
    return _ok({"administrator": _administrator_json(self)})


def get_master_account(self: Any) -> Any:
    return _ok({"master": _administrator_json(self)})


def disassociate_from_administrator_account(self: Any) -> Any:
    self._gf_detector()
    backend = self._gf_backend()
    admin_id = backend.gf_admin_id
    if admin_id is not None:
        rec = _ensure_state(gd(admin_id, self.region)).gf_members.get(self.current_account)
        if rec is not None:
            if rec.via_org:
                raise BadRequest(
                    "The request is rejected because the current account is managed by the organization's "
                    "GuardDuty delegated administrator and cannot disassociate itself."
                )
            rec.touch("Resigned")
        backend.gf_admin_id = None
    return _ok()


def disassociate_from_master_account(self: Any) -> Any:
    return disassociate_from_administrator_account(self)


# ---- member detectors -------------------------------------------------------------------


def _associated_member_detector(backend: Any, acct: Any, region: str, unprocessed: list) -> Any:
    """The detector of an associated member, or None after recording why in `unprocessed`."""
    if not isinstance(acct, str) or not ACCOUNT_RE.match(acct):
        unprocessed.append({"accountId": str(acct), "result": RES_INVALID_ID})
        return None
    rec = backend.gf_members.get(acct)
    if rec is None:
        unprocessed.append({"accountId": acct, "result": RES_NOT_MEMBER})
        return None
    if rec.relationship != "Enabled":
        unprocessed.append({"accountId": acct, "result": RES_NOT_ASSOCIATED})
        return None
    det = _detector_of(acct, region)
    if det is None:
        unprocessed.append({"accountId": acct, "result": RES_NO_DETECTOR})
    return det


def get_member_detectors(self: Any) -> Any:
    _, backend, ids = _batch(self)
    entries, unprocessed = [], []
    for acct in ids:
        det = _associated_member_detector(backend, acct, self.region, unprocessed)
        if det is None:
            continue
        entries.append(_as_gf(det).member_entry())
    # The members' entries are cached JSON text: join them instead of encoding them again.
    body = ('{"members":[' + ",".join(entries) + '],"unprocessedAccounts":'
            + json.dumps(unprocessed, separators=(",", ":")) + "}")
    headers: dict[str, Any] = dict(JSON_HEADERS)
    headers["status"] = 200
    return body, headers


def update_member_detectors(self: Any) -> Any:
    _, backend, ids = _batch(self)
    body = self._gf_body()
    features = body.get("features")
    ds = body.get("dataSources")
    if features is not None and ds is not None:
        raise BadRequest(MSG_DATASOURCES_AND_FEATURES)
    _validate_features(features, status_key="status", allowed_status=FEATURE_STATUSES)
    updates = features if features is not None else _features_from_datasources(ds)
    blocked = (_enables_ebs_malware(updates, "status", ("ENABLED",))
               and _malware_trusted_access_missing(self.current_account))
    unprocessed = []
    for acct in ids:
        det = _associated_member_detector(backend, acct, self.region, unprocessed)
        if det is None:
            continue
        if blocked and backend.gf_members[acct].via_org:
            unprocessed.append({"accountId": acct, "result": RES_MALWARE_TRUSTED_ACCESS})
            continue
        _as_gf(det).apply_features(updates)
    return _ok({"unprocessedAccounts": unprocessed})


# --------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------

HANDLER_NAMES = [
    "create_detector",
    "get_detector",
    "list_detectors",
    "update_detector",
    "delete_detector",
    "create_filter",
    "update_filter",
    "delete_filter",
    "list_filters",
    "get_filter",
    "create_publishing_destination",
    "describe_publishing_destination",
    "update_publishing_destination",
    "delete_publishing_destination",
    "list_publishing_destinations",
    "create_ip_set",
    "get_ip_set",
    "update_ip_set",
    "delete_ip_set",
    "list_ip_sets",
    "create_threat_intel_set",
    "get_threat_intel_set",
    "update_threat_intel_set",
    "delete_threat_intel_set",
    "list_threat_intel_sets",
    "create_threat_entity_set",
    "get_threat_entity_set",
    "update_threat_entity_set",
    "delete_threat_entity_set",
    "list_threat_entity_sets",
    "create_trusted_entity_set",
    "get_trusted_entity_set",
    "update_trusted_entity_set",
    "delete_trusted_entity_set",
    "list_trusted_entity_sets",
    "get_malware_scan_settings",
    "update_malware_scan_settings",
    "create_malware_protection_plan",
    "get_malware_protection_plan",
    "update_malware_protection_plan",
    "delete_malware_protection_plan",
    "list_malware_protection_plans",
    "tag_resource",
    "untag_resource",
    "list_tags_for_resource",
    "enable_organization_admin_account",
    "disable_organization_admin_account",
    "list_organization_admin_accounts",
    "describe_organization_configuration",
    "update_organization_configuration",
    "create_members",
    "list_members",
    "get_members",
    "disassociate_members",
    "delete_members",
    "invite_members",
    "list_invitations",
    "get_invitations_count",
    "decline_invitations",
    "delete_invitations",
    "accept_administrator_invitation",
    "accept_invitation",
    "get_administrator_account",
    "get_master_account",
    "disassociate_from_administrator_account",
    "disassociate_from_master_account",
    "get_member_detectors",
    "update_member_detectors",
]
HANDLERS = {name: globals()[name] for name in HANDLER_NAMES}

ROUTES = [
    "{0}/detector$",
    "{0}/detector/(?P<detector_id>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/administrator$",
    "{0}/detector/(?P<detector_id>[^/]+)/administrator/disassociate$",
    "{0}/detector/(?P<detector_id>[^/]+)/master$",
    "{0}/detector/(?P<detector_id>[^/]+)/master/disassociate$",
    "{0}/detector/(?P<detector_id>[^/]+)/admin$",
    "{0}/detector/(?P<detector_id>[^/]+)/filter$",
    "{0}/detector/(?P<detector_id>[^/]+)/filter/(?P<filter_name>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/member$",
    "{0}/detector/(?P<detector_id>[^/]+)/member/get$",
    "{0}/detector/(?P<detector_id>[^/]+)/member/delete$",
    "{0}/detector/(?P<detector_id>[^/]+)/member/disassociate$",
    "{0}/detector/(?P<detector_id>[^/]+)/member/invite$",
    "{0}/detector/(?P<detector_id>[^/]+)/member/detector/get$",
    "{0}/detector/(?P<detector_id>[^/]+)/member/detector/update$",
    "{0}/admin$",
    "{0}/admin/enable$",
    "{0}/admin/disable$",
    "{0}/invitation$",
    "{0}/invitation/count$",
    "{0}/invitation/decline$",
    "{0}/invitation/delete$",
    "{0}/detector/(?P<detector_id>[^/]+)/ipset$",
    "{0}/detector/(?P<detector_id>[^/]+)/ipset/(?P<ip_set_id>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/threatintelset$",
    "{0}/detector/(?P<detector_id>[^/]+)/threatintelset/(?P<threat_intel_set_id>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/threatentityset$",
    "{0}/detector/(?P<detector_id>[^/]+)/threatentityset/(?P<threat_entity_set_id>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/trustedentityset$",
    "{0}/detector/(?P<detector_id>[^/]+)/trustedentityset/(?P<trusted_entity_set_id>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/malware-scan-settings$",
    "{0}/malware-protection-plan$",
    "{0}/malware-protection-plan/(?P<malware_protection_plan_id>[^/]+)$",
    "{0}/detector/(?P<detector_id>[^/]+)/publishingDestination$",
    "{0}/detector/(?P<detector_id>[^/]+)/publishingDestination/(?P<destination_id>[^/]+)$",
    "{0}/tags/(?P<resource_arn>.+)$",
]

_INSTALLED = False
_LOCK = threading.RLock()


def _region_disabled(account_id: str, region: str) -> bool:
    if os.environ.get("GUARDFORM_EMULATOR_ENFORCE_OPT_IN", "1") == "0":
        return False
    try:
        import account_ext  # type: ignore
    except ImportError:  # pragma: no cover
        return False
    return account_ext.region_status(account_id, region) in ("DISABLED", "DISABLING", "ENABLING")


def _gf_call_action(self: Any) -> Any:
    if _region_disabled(self.current_account, self.region):
        # What AWS answers for a call to an opt-in Region the account has not enabled.
        body = json.dumps({"message": "The security token included in the request is invalid.",
                           "__type": "UnrecognizedClientException"})
        return 403, {"Content-Type": "application/json",
                     "X-Amzn-ErrorType": "UnrecognizedClientException"}, body
    with _LOCK:  # handlers do check-then-act across accounts; serialise them
        status, headers, body = BaseResponse.call_action(self)
    headers["Content-Type"] = "application/json"
    headers.pop("content-type", None)
    return status, headers, body


def install() -> None:
    """Hook the extension into moto. Idempotent. Raises if moto's internals moved."""
    global _INSTALLED
    if _INSTALLED:
        return
    # Sanity checks: fail loudly if a moto upgrade moved the extension points.
    for attr in ("dispatch", "call_action"):
        if not hasattr(GuardDutyResponse, attr):
            raise RuntimeError(f"moto GuardDutyResponse has no {attr}; extension cannot hook in")
    if not isinstance(gd_urls.url_paths, dict):
        raise RuntimeError("moto.guardduty.urls.url_paths is not a dict; extension cannot hook in")

    for route in ROUTES:
        gd_urls.url_paths[route] = GuardDutyResponse.dispatch
    for name in ("_gf_body", "_gf_path", "_gf_query", "_gf_query_all", "_gf_backend",
                 "_gf_detector", "_gf_paging"):
        setattr(GuardDutyResponse, name, getattr(_Ctx, name))
    for name, fn in HANDLERS.items():
        setattr(GuardDutyResponse, name, fn)
    GuardDutyResponse.call_action = _gf_call_action
    _install_lists_debug_route()
    _install_iam_hooks()
    _install_org_trusted_services()
    _install_s3_policy_fix()

    orig_init = GuardDutyBackend.__init__

    def __init__(self: GuardDutyBackend, region_name: str, account_id: str) -> None:
        orig_init(self, region_name, account_id)
        _init_state(self)

    __init__._gf_wrapped = True  # type: ignore[attr-defined]
    if not getattr(orig_init, "_gf_wrapped", False):
        GuardDutyBackend.__init__ = __init__  # type: ignore[method-assign]

    # Any other path to moto's own create_detector also enables GuardDuty: same role.
    orig_create = GuardDutyBackend.create_detector
    if not getattr(orig_create, "_gf_wrapped", False):
        def backend_create_detector(self: GuardDutyBackend, *args: Any, **kwargs: Any) -> Any:
            ensure_service_linked_role(self.account_id, self.region_name)
            return orig_create(self, *args, **kwargs)

        backend_create_detector._gf_wrapped = True  # type: ignore[attr-defined]
        GuardDutyBackend.create_detector = backend_create_detector  # type: ignore[method-assign]

    # Stock backend methods used by the filter operations go through get_detector.
    _INSTALLED = True


def installed() -> bool:
    return _INSTALLED
