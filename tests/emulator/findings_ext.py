"""GuardDuty findings and Runtime Monitoring coverage for the emulator (moto 5.2.5, server mode).

Adds to the GuardDuty extension (``guardduty_ext``) what stock moto lacks entirely: a findings
store and a coverage store per account and Region, the operations that read and change them,
and test-only seeding endpoints under ``/moto-api/guardform/``:

* ListFindings, GetFindings, GetFindingsStatistics (groupBy and the deprecated
  findingStatisticTypes), ArchiveFindings, UnarchiveFindings, UpdateFindingsFeedback,
  CreateSampleFindings;
* ListCoverage, GetCoverageStatistics;
* POST/GET /moto-api/guardform/findings and /moto-api/guardform/coverage.

Findings are built from the real findings in ``bundles/tests/fixtures/findings`` (EventBridge
events whose ``detail`` is the finding, and bare sample findings), cleaned to botocore's
``Finding`` shape (unknown members dropped, wrongly typed values converted), with their own id,
account, Region, detector, times, severity and counters. An administrator's detector sees its
own findings and coverage and those of its members whose relationship is ``Enabled`` in the same
Region; any other detector sees only its own. A finding stored into an account whose associated
administrator (or the account itself) has an ARCHIVE filter matching it is stored archived, as
GuardDuty's suppression rules do.

State lives on moto's ``GuardDutyBackend`` objects (``gf_findings``, ``gf_coverage``,
``gf_pages``), so ``POST /moto-api/reset`` wipes it with everything else.

Call :func:`install` after ``guardduty_ext.install()`` and before the first request.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import os
import re
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import guardduty_ext as gx
from guardduty_ext import BadRequest, _check_ids, _msg_list_param, _ok

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES_DIR = os.environ.get(
    "GUARDFORM_EMULATOR_FINDINGS_DIR",
    os.path.join(REPO_ROOT, "bundles", "tests", "fixtures", "findings"),
)

# --------------------------------------------------------------------------------------
# Constants from the API reference / botocore's model
# --------------------------------------------------------------------------------------

MAX_FINDING_RESULTS = 50  # ListFindings / ListCoverage maxResults: 1-50, default 50
MAX_STATISTICS_RESULTS = 100  # GetFindingsStatistics maxResults (MaxResults100), default 25
DEFAULT_STATISTICS_RESULTS = 25
GROUP_BY = ["ACCOUNT", "DATE", "FINDING_TYPE", "RESOURCE", "SEVERITY"]
ORDER_BY = ["ASC", "DESC"]
FINDING_STATISTIC_TYPES = ["COUNT_BY_SEVERITY"]
FEEDBACK = ["USEFUL", "NOT_USEFUL"]
SCHEMA_VERSION = "2.0"

# Finding criteria fields ListFindings/GetFindingsStatistics accept: the list in the API
# reference (ListFindingsRequest.findingCriteria), the console's table in the user guide
# ("Filtering findings") and the newer resource kinds the console filters on. Any other field
# is refused with 400, as AWS refuses unknown criteria.
FINDING_FIELDS = frozenset([
    "accountId", "region", "confidence", "id", "severity", "type", "updatedAt",
    "resource.accessKeyDetails.accessKeyId",
    "resource.accessKeyDetails.principalId",
    "resource.accessKeyDetails.userName",
    "resource.accessKeyDetails.userType",
    "resource.instanceDetails.iamInstanceProfile.id",
    "resource.instanceDetails.imageId",
    "resource.instanceDetails.instanceId",
    "resource.instanceDetails.instanceType",
    "resource.instanceDetails.launchTime",
    "resource.instanceDetails.outpostArn",
    "resource.instanceDetails.networkInterfaces.ipv6Addresses",
    "resource.instanceDetails.networkInterfaces.privateIpAddresses.privateIpAddress",
    "resource.instanceDetails.networkInterfaces.publicDnsName",
    "resource.instanceDetails.networkInterfaces.publicIp",
    "resource.instanceDetails.networkInterfaces.securityGroups.groupId",
    "resource.instanceDetails.networkInterfaces.securityGroups.groupName",
    "resource.instanceDetails.networkInterfaces.subnetId",
    "resource.instanceDetails.networkInterfaces.vpcId",
    "resource.instanceDetails.tags.key",
    "resource.instanceDetails.tags.value",
    "resource.resourceType",
    "resource.s3BucketDetails.publicAccess.effectivePermission",
    "resource.s3BucketDetails.name",
    "resource.s3BucketDetails.tags.key",
    "resource.s3BucketDetails.tags.value",
    "resource.s3BucketDetails.type",
    "resource.eksClusterDetails.name",
    "resource.ecsClusterDetails.name",
    "resource.kubernetesDetails.kubernetesWorkloadDetails.name",
    "resource.kubernetesDetails.kubernetesWorkloadDetails.namespace",
    "resource.kubernetesDetails.kubernetesUserDetails.username",
    "resource.containerDetails.image",
    "resource.lambdaDetails.functionName",
    "resource.rdsDbInstanceDetails.dbInstanceIdentifier",
    "resource.rdsDbUserDetails.user",
    "service.action.actionType",
    "service.action.awsApiCallAction.api",
    "service.action.awsApiCallAction.callerType",
    "service.action.awsApiCallAction.errorCode",
    "service.action.awsApiCallAction.remoteIpDetails.city.cityName",
    "service.action.awsApiCallAction.remoteIpDetails.country.countryName",
    "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4",
    "service.action.awsApiCallAction.remoteIpDetails.organization.asn",
    "service.action.awsApiCallAction.remoteIpDetails.organization.asnOrg",
    "service.action.awsApiCallAction.serviceName",
    "service.action.dnsRequestAction.domain",
    "service.action.dnsRequestAction.domainWithSuffix",
    "service.action.networkConnectionAction.blocked",
    "service.action.networkConnectionAction.connectionDirection",
    "service.action.networkConnectionAction.localPortDetails.port",
    "service.action.networkConnectionAction.localIpDetails.ipAddressV4",
    "service.action.networkConnectionAction.protocol",
    "service.action.networkConnectionAction.remoteIpDetails.city.cityName",
    "service.action.networkConnectionAction.remoteIpDetails.country.countryName",
    "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
    "service.action.networkConnectionAction.remoteIpDetails.organization.asn",
    "service.action.networkConnectionAction.remoteIpDetails.organization.asnOrg",
    "service.action.networkConnectionAction.remotePortDetails.port",
    "service.additionalInfo.threatListName",
    "service.archived",
    "service.ebsVolumeScanDetails.scanId",
    "service.featureName",
    "service.resourceRole",
])
# The user guide's table spells a few fields differently from the finding JSON.
FIELD_ALIASES = {
    "resource.instanceDetails.outpostARN": "resource.instanceDetails.outpostArn",
    "resource.instanceDetails.networkInterfaces.imageID": "resource.instanceDetails.imageId",
    "resource.s3BucketDetails.publicAccess.effectivePermissions":
        "resource.s3BucketDetails.publicAccess.effectivePermission",
    "service.localIpDetails.ipAddressV4": "service.action.networkConnectionAction.localIpDetails.ipAddressV4",
}
# sortCriteria.attributeName: the criteria fields plus the finding's other scalar attributes.
SORT_FIELDS = FINDING_FIELDS | frozenset(FIELD_ALIASES) | frozenset([
    "createdAt", "title", "service.count", "service.eventFirstSeen", "service.eventLastSeen",
])

# Severity levels ("Severity levels for GuardDuty findings"): Low 1.0-3.9, Medium 4.0-6.9,
# High 7.0-8.9, Critical 9.0-10.0. SeverityStatistics.severity / DateStatistics.severity are
# "the severity level" (a Double): the emulator answers the level's lower bound.
SEVERITY_LEVELS = [(9.0, "CRITICAL"), (7.0, "HIGH"), (4.0, "MEDIUM"), (1.0, "LOW")]


def severity_level(severity: float) -> float:
    """The lower bound of the severity level `severity` belongs to (1.0, 4.0, 7.0 or 9.0)."""
    for bound, _ in SEVERITY_LEVELS:
        if severity >= bound:
            return bound
    return 1.0


# ResourceStatistics.resourceId, per resource type (the model's "Mapping of resource and
# resource ID").
RESOURCE_ID_PATHS = {
    "AccessKey": ("accessKeyDetails", "accessKeyId"),
    "Container": ("containerDetails", "id"),
    "ECSCluster": ("ecsClusterDetails", "name"),
    "EKSCluster": ("eksClusterDetails", "name"),
    "Instance": ("instanceDetails", "instanceId"),
    "KubernetesCluster": ("kubernetesDetails", "kubernetesWorkloadDetails", "name"),
    "Lambda": ("lambdaDetails", "functionName"),
    "RDSDBInstance": ("rdsDbInstanceDetails", "dbInstanceIdentifier"),
    "S3Bucket": ("s3BucketDetails", "name"),
    "S3Object": ("s3BucketDetails", "name"),
}

# Coverage (Runtime Monitoring): enums from botocore's model.
COVERAGE_RESOURCE_TYPES = ["EKS", "ECS", "EC2"]
COVERAGE_STATUSES = ["HEALTHY", "UNHEALTHY"]
MANAGEMENT_TYPES = ["AUTO_MANAGED", "MANUAL", "DISABLED"]
COVERAGE_CRITERION_KEYS = ["ACCOUNT_ID", "RESOURCE_TYPE", "COVERAGE_STATUS", "ADDON_VERSION",
                           "CLUSTER_NAME", "ECS_CLUSTER_NAME", "MANAGEMENT_TYPE", "EKS_CLUSTER_NAME",
                           "AGENT_VERSION", "INSTANCE_ID", "CLUSTER_ARN"]
COVERAGE_SORT_KEYS = ["ACCOUNT_ID", "COVERAGE_STATUS", "ISSUE", "ADDON_VERSION", "UPDATED_AT",
                      "CLUSTER_NAME", "EKS_CLUSTER_NAME", "ECS_CLUSTER_NAME", "INSTANCE_ID"]
COVERAGE_STATISTICS_TYPES = ["COUNT_BY_RESOURCE_TYPE", "COUNT_BY_COVERAGE_STATUS"]
MAX_COVERAGE_CRITERIA = 50

MSG_STATS_BOTH = ("The request is rejected because findingStatisticTypes and groupBy cannot be "
                  "specified in the same request.")
MSG_STATS_NONE = "The request is rejected because either findingStatisticTypes or groupBy must be specified."
MSG_STATS_GROUP_ONLY = ("The request is rejected because the parameter {param} can be used only with "
                        "the groupBy parameter.")
MSG_MEMBER = gx.MSG_FILTER_MEMBER  # "...member accounts cannot manage specified resources or properties."
MSG_BAD_TOKEN = "The request is rejected because the parameter nextToken has an invalid value."
FINDING_TYPE_RE = re.compile(r"^[A-Za-z0-9]+:[A-Za-z0-9]+/[A-Za-z0-9.!_:&-]+$")  # e.g. Backdoor:EC2/C&CActivity.B!DNS

PAGE_SNAPSHOTS = 32  # result lists kept per account and Region for nextToken paging


def _msg_max_results(limit: int) -> str:
    return (f"The request is rejected because the parameter maxResults has an invalid value. "
            f"It must be between 1 and {limit}.")


# --------------------------------------------------------------------------------------
# Templates: the fixture findings, cleaned to botocore's Finding shape
# --------------------------------------------------------------------------------------

_DROP = object()
_PLACEHOLDER_RE = re.compile(r"^X{2,}[-X:TZ.]*$")


def _finding_shape() -> Any:
    from moto.core.utils import get_service_model

    return get_service_model("guardduty").shape_for("Finding")


def _iso_ms(ms: int) -> str:
    return gx._iso(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))


def parse_time(value: Any) -> int | None:
    """Epoch milliseconds of an ISO-8601 string ("...Z" or with an offset; naive = UTC) or of a
    number of epoch seconds; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(round(value * 1000))
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


def _sanitize(shape: Any, value: Any, key: str = "") -> Any:
    """`value` cleaned to `shape` (wire names): unknown members and nulls dropped, numbers
    where strings belong turned into strings (and the reverse), ISO strings where timestamps
    belong turned into epoch seconds. Placeholder values ("XXXX-XX-XX...") are dropped."""
    if value is None:
        return _DROP
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return _DROP
        members = {m.serialization.get("name", name): m for name, m in shape.members.items()}
        out = {}
        for k, v in value.items():
            m = members.get(k)
            if m is None:
                continue
            clean = _sanitize(m, v, k)
            if clean is not _DROP:
                out[k] = clean
        return out
    if t == "list":
        if not isinstance(value, list):
            return _DROP
        items = [_sanitize(shape.member, v, key) for v in value]
        return [v for v in items if v is not _DROP]
    if t == "map":
        if not isinstance(value, dict):
            return _DROP
        out = {}
        for k, v in value.items():
            clean = _sanitize(shape.value, v, key)
            if clean is not _DROP:
                out[str(k)] = clean
        return out
    if t == "string":
        if isinstance(value, str):
            return _DROP if _PLACEHOLDER_RE.match(value) else value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            if key == "launchTime" and value > 10**11:  # epoch milliseconds in old events
                return _iso_ms(int(value))
            return str(int(value)) if float(value).is_integer() else str(value)
        return _DROP
    if t in ("integer", "long"):
        if isinstance(value, bool):
            return _DROP
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.match(r"^-?\d+$", value):
            return int(value)
        return _DROP
    if t in ("double", "float"):
        if isinstance(value, bool):
            return _DROP
        if isinstance(value, (int, float)):
            return value
        try:
            return float(value)
        except (TypeError, ValueError):
            return _DROP
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _DROP
    if t == "timestamp":
        if isinstance(value, bool):
            return _DROP
        if isinstance(value, (int, float)):
            return value
        ms = parse_time(value)
        return _DROP if ms is None else round(ms / 1000, 3)
    return _DROP


class Template:
    """One fixture finding: its type, severity, texts, resource and service, cleaned."""

    def __init__(self, name: str, finding: dict[str, Any]) -> None:
        self.name = name
        self.type: str = finding["type"]
        self.severity = float(finding.get("severity") or 5)
        self.orig_account: str = str(finding.get("accountId") or "")
        self.orig_region: str = str(finding.get("region") or "")
        service = dict(finding.get("service") or {})
        raw = service.pop("additionalInfo", None) or {}
        self.raw_additional = _raw_additional(raw)
        finding = dict(finding, service=service)
        self.text = json.dumps(finding)  # for per-account/Region copies
        self._variants: dict[tuple[str, str], dict[str, Any]] = {}

    def variant(self, account: str, region: str) -> dict[str, Any]:
        """The cleaned finding with the fixture's account id and Region replaced."""
        key = (account, region)
        got = self._variants.get(key)
        if got is None:
            text = self.text
            if self.orig_account:
                text = text.replace(self.orig_account, account)
            if self.orig_region:
                text = text.replace(f'"{self.orig_region}', f'"{region}').replace(
                    f":{self.orig_region}:", f":{region}:")
            got = _sanitize(_finding_shape(), json.loads(text))
            got = self._variants[key] = {
                "title": got.get("title") or self.type,
                "description": got.get("description") or got.get("title") or self.type,
                "resource": got.get("resource") or {"resourceType": "Instance"},
                "service": {k: v for k, v in (got.get("service") or {}).items()
                            if k not in ("archived", "count", "detectorId", "eventFirstSeen",
                                         "eventLastSeen", "additionalInfo", "userFeedback")},
            }
        return got


def _raw_additional(raw: Any) -> dict[str, Any]:
    """additionalInfo as its fields: EventBridge events and exports give the fields flat (and
    sometimes also {value: JSON, type}); the API gives {value: JSON, type}."""
    if not isinstance(raw, dict):
        return {}
    out = {k: v for k, v in raw.items() if k not in ("value", "type")}
    if isinstance(raw.get("value"), str):
        try:
            inner = json.loads(raw["value"])
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            out = {**inner, **out}
    return out


_TEMPLATES: dict[str, Template] | None = None


def templates() -> dict[str, Template]:
    """The fixture templates by file name (e.g. 01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json)."""
    global _TEMPLATES
    if _TEMPLATES is None:
        if not os.path.isdir(FIXTURES_DIR):
            raise RuntimeError(f"finding fixtures not found in {FIXTURES_DIR}")
        found = {}
        for fn in sorted(os.listdir(FIXTURES_DIR)):
            if not fn.endswith(".json"):
                continue
            with open(os.path.join(FIXTURES_DIR, fn), encoding="utf-8") as fh:
                data = json.load(fh)
            finding = data.get("detail") if isinstance(data.get("detail"), dict) else data
            if not isinstance(finding, dict) or not finding.get("type"):
                continue
            found[fn] = Template(fn, finding)
        if not found:
            raise RuntimeError(f"no finding fixtures in {FIXTURES_DIR}")
        _TEMPLATES = found
    return _TEMPLATES


def template_names() -> list[str]:
    return list(templates())


def _template_aliases(fn: str) -> list[str]:
    """A fixture's names: the file name, without .json, without its form suffix
    (.eventbridge / .sample.finding), and its number ("01")."""
    stem = fn[:-len(".json")]
    short = re.sub(r"\.(eventbridge|sample\.finding|finding)$", "", stem)
    return [fn, stem, short, stem.split("_", 1)[0]]


def find_template(name: Any) -> Template | None:
    """A template by fixture file name (or one of its shorter names, see _template_aliases) or
    by finding type; for another well-formed finding type, the template of the same resource
    kind (EC2, IAMUser, S3, ...)."""
    if not isinstance(name, str) or not name:
        return None
    ts = templates()
    for fn, t in ts.items():
        if name in _template_aliases(fn):
            return t
    for t in ts.values():
        if t.type == name:
            return t
    if FINDING_TYPE_RE.match(name):
        return _template_for_type(name)
    return None


def _template_for_type(finding_type: str) -> Template:
    """The fixture whose resource kind (the part after ':' and before '/') is the type's."""
    kind = finding_type.split(":", 1)[1].split("/", 1)[0]
    ts = list(templates().values())
    for t in ts:
        if t.type.split(":", 1)[1].split("/", 1)[0] == kind:
            return t
    return ts[0]


# --------------------------------------------------------------------------------------
# Stored findings
# --------------------------------------------------------------------------------------

_seq = itertools.count()


def _placeholder_detector(account: str, region: str) -> str:
    return hashlib.md5(f"{account}:{region}".encode()).hexdigest()


def _detector_id(account: str, region: str) -> str:
    det = gx._detector_of(account, region)
    return det.id if det is not None else _placeholder_detector(account, region)


class StoredFinding:
    __slots__ = ("id", "account_id", "region", "type", "severity", "created_ms", "updated_ms",
                 "archived", "count", "resource_type", "resource_id", "title", "description",
                 "resource", "service", "raw_additional", "feedback", "seq", "_cache")

    def __init__(self, *, finding_id: str, account_id: str, region: str, finding_type: str,
                 severity: float, created_ms: int, updated_ms: int, count: int, title: str,
                 description: str, resource: dict[str, Any], service: dict[str, Any],
                 raw_additional: dict[str, Any]) -> None:
        self.id = finding_id
        self.account_id = account_id
        self.region = region
        self.type = finding_type
        self.severity = float(severity)
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.archived = False
        self.count = count
        self.resource = resource  # shared with other findings of the template: never mutate
        self.resource_type = str(resource.get("resourceType") or "")
        self.resource_id = _resource_id(resource, self.resource_type)
        self.title = title
        self.description = description
        self.service = service  # shared too
        self.raw_additional = raw_additional
        self.feedback: str | None = None
        self.seq = next(_seq)
        self._cache: tuple[str, str] | None = None  # (detector id, JSON text)

    def touch(self) -> None:
        self._cache = None

    def to_json(self, detector_id: str) -> dict[str, Any]:
        service = dict(self.service)
        service.update({
            "archived": self.archived,
            "count": self.count,
            "detectorId": detector_id,
            "eventFirstSeen": _iso_ms(self.created_ms),
            "eventLastSeen": _iso_ms(self.updated_ms),
            "resourceRole": service.get("resourceRole", "TARGET"),
            "serviceName": "guardduty",
        })
        if self.raw_additional:
            service["additionalInfo"] = {"value": json.dumps(self.raw_additional, separators=(",", ":")),
                                         "type": "default"}
        if self.feedback:
            service["userFeedback"] = self.feedback
        return {
            "accountId": self.account_id,
            "arn": f"arn:aws:guardduty:{self.region}:{self.account_id}:detector/{detector_id}/finding/{self.id}",
            "createdAt": _iso_ms(self.created_ms),
            "description": self.description,
            "id": self.id,
            "partition": "aws",
            "region": self.region,
            "resource": self.resource,
            "schemaVersion": SCHEMA_VERSION,
            "service": service,
            "severity": self.severity,
            "title": self.title,
            "type": self.type,
            "updatedAt": _iso_ms(self.updated_ms),
        }

    def json_text(self, detector_id: str) -> str:
        cached = self._cache
        if cached is None or cached[0] != detector_id:
            cached = self._cache = (detector_id, json.dumps(self.to_json(detector_id), separators=(",", ":")))
        return cached[1]


def _resource_id(resource: dict[str, Any], resource_type: str) -> str:
    paths = [RESOURCE_ID_PATHS[resource_type]] if resource_type in RESOURCE_ID_PATHS else []
    paths += [p for p in RESOURCE_ID_PATHS.values() if p not in paths]
    for path in paths:
        for v in _walk([resource], path):
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                return str(v)
    return ""


def _walk(nodes: list[Any], path: tuple[str, ...] | list[str]) -> list[Any]:
    """The values at `path` under `nodes`, lists flattened at every step."""
    for key in path:
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, dict):
                v = node.get(key)
                if isinstance(v, list):
                    nxt.extend(v)
                elif v is not None:
                    nxt.append(v)
        nodes = nxt
        if not nodes:
            break
    return nodes


def _findings(account: str, region: str) -> dict[str, StoredFinding]:
    backend = gx._ensure_state(gx.gd(account, region))
    return backend.__dict__.setdefault("gf_findings", {})


def _coverage(account: str, region: str) -> dict[str, "CoverageResource"]:
    backend = gx._ensure_state(gx.gd(account, region))
    return backend.__dict__.setdefault("gf_coverage", {})


def store_finding(account: str, region: str, template: Template, *, finding_type: str | None = None,
                  severity: float | None = None, created_ms: int | None = None,
                  updated_ms: int | None = None, archived: bool | None = None, count: int = 1,
                  resource_type: str | None = None, finding_id: str | None = None,
                  sample: bool = False) -> StoredFinding:
    """Store a new finding in (account, region). Suppression rules apply unless `archived` is
    given. Raises KeyError for an unknown Region and ValueError for a taken id."""
    store = _findings(account, region)
    fid = finding_id or uuid.uuid4().hex
    if fid in store:
        raise ValueError(f"a finding with id {fid} already exists in {account} {region}")
    now_ms = parse_time(gx._iso(gx._now()))
    assert now_ms is not None
    updated = updated_ms if updated_ms is not None else now_ms
    created = created_ms if created_ms is not None else updated
    if created > updated:
        created = updated
    v = template.variant(account, region)
    resource = v["resource"]
    if resource_type and resource_type != resource.get("resourceType"):
        resource = dict(resource, resourceType=resource_type)
    raw = template.raw_additional
    if sample and not raw.get("sample"):
        raw = {**raw, "sample": True}
    f = StoredFinding(
        finding_id=fid, account_id=account, region=region,
        finding_type=finding_type or template.type,
        severity=template.severity if severity is None else severity,
        created_ms=created, updated_ms=updated, count=count,
        title=v["title"], description=v["description"], resource=resource, service=v["service"],
        raw_additional=raw,
    )
    f.archived = bool(archived) if archived is not None else _suppressed(account, region, f)
    store[fid] = f
    return f


# --------------------------------------------------------------------------------------
# Finding criteria
# --------------------------------------------------------------------------------------

_FAST_GETTERS: dict[str, Callable[[StoredFinding], tuple[Any, ...]]] = {
    "accountId": lambda f: (f.account_id,),
    "region": lambda f: (f.region,),
    "id": lambda f: (f.id,),
    "type": lambda f: (f.type,),
    "severity": lambda f: (f.severity,),
    "updatedAt": lambda f: (f.updated_ms,),
    "createdAt": lambda f: (f.created_ms,),
    "title": lambda f: (f.title,),
    "service.archived": lambda f: (f.archived,),
    "service.count": lambda f: (f.count,),
    "service.eventFirstSeen": lambda f: (f.created_ms,),
    "service.eventLastSeen": lambda f: (f.updated_ms,),
    "service.userFeedback": lambda f: (f.feedback,) if f.feedback else (),
    "resource.resourceType": lambda f: (f.resource_type,),
}
# Fields compared as epoch milliseconds (the API reference: updatedAt "Timestamp in Unix Epoch
# millisecond format").
_TIME_FIELDS = {"updatedAt", "createdAt", "service.eventFirstSeen", "service.eventLastSeen"}


def _getter(field: str) -> Callable[[StoredFinding], tuple[Any, ...] | list[Any]]:
    field = FIELD_ALIASES.get(field, field)
    fast = _FAST_GETTERS.get(field)
    if fast is not None:
        return fast
    parts = field.split(".")
    if parts[:2] == ["service", "additionalInfo"] and len(parts) > 2:
        rest = parts[2:]
        return lambda f: _walk([f.raw_additional], rest)
    if parts[0] == "resource":
        rest = parts[1:]
        return lambda f: _walk([f.resource], rest)
    if parts[0] == "service":
        rest = parts[1:]
        return lambda f: _walk([f.service], rest)
    return lambda f: ()


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _equals(field: str, v: Any, wanted: str) -> bool:
    if isinstance(v, bool):
        return wanted.lower() == ("true" if v else "false")
    if isinstance(v, (int, float)):
        try:
            w = float(wanted)
        except ValueError:
            return False
        if float(v) == w:
            return True
        # Severity levels as the API takes them ("Low: ["1", "2", "3"]", CloudFormation's
        # FindingCriteria): an integer matches every severity of that whole number.
        return field == "severity" and w.is_integer() and int(v) == int(w)
    return str(v) == wanted


def _predicate(field: str, cond: dict[str, Any]) -> Callable[[StoredFinding], bool]:
    get = _getter(field)
    tests: list[Callable[[list[Any]], bool]] = []
    for op, arg in cond.items():
        if op in ("eq", "equals"):
            wanted = list(arg)
            tests.append(lambda vals, w=wanted: any(_equals(field, v, x) for v in vals for x in w))
        elif op in ("neq", "notEquals"):
            wanted = list(arg)
            tests.append(lambda vals, w=wanted: not any(_equals(field, v, x) for v in vals for x in w))
        elif op in ("gt", "greaterThan"):
            tests.append(lambda vals, a=arg: any((n := _number(v)) is not None and n > a for v in vals))
        elif op in ("gte", "greaterThanOrEqual"):
            tests.append(lambda vals, a=arg: any((n := _number(v)) is not None and n >= a for v in vals))
        elif op in ("lt", "lessThan"):
            tests.append(lambda vals, a=arg: any((n := _number(v)) is not None and n < a for v in vals))
        elif op in ("lte", "lessThanOrEqual"):
            tests.append(lambda vals, a=arg: any((n := _number(v)) is not None and n <= a for v in vals))
        elif op == "matches":
            pats = list(arg)
            tests.append(lambda vals, p=pats: any(fnmatch.fnmatchcase(str(v), x) for v in vals for x in p))
        elif op == "notMatches":
            pats = list(arg)
            tests.append(lambda vals, p=pats: not any(fnmatch.fnmatchcase(str(v), x) for v in vals for x in p))

    def pred(f: StoredFinding) -> bool:
        vals = get(f)
        return all(t(vals) for t in tests)

    return pred


def compile_criteria(fc: Any, strict: bool) -> Callable[[StoredFinding], bool] | None:
    """A predicate for a findingCriteria object, None when it selects everything. `strict`
    (ListFindings, GetFindingsStatistics) validates it and refuses unknown fields; filters
    (suppression) are evaluated as stored."""
    if fc is None or fc == {} or (isinstance(fc, dict) and fc.get("criterion") in ({}, None)
                                  and set(fc) <= {"criterion"}):
        return None
    if strict:
        gx._validate_criteria(fc)
        for field in fc["criterion"]:
            if field not in FINDING_FIELDS and field not in FIELD_ALIASES:
                raise BadRequest(_msg_list_param("findingCriteria"))
    crit = fc.get("criterion") if isinstance(fc, dict) else None
    if not isinstance(crit, dict):
        return lambda f: False
    preds = [_predicate(field, cond) for field, cond in crit.items() if isinstance(cond, dict)]
    if len(preds) == 1:
        return preds[0]
    return lambda f: all(p(f) for p in preds)


_compiled_filters: dict[str, Callable[[StoredFinding], bool] | None] = {}


def _suppressed(account: str, region: str, f: StoredFinding) -> bool:
    """Whether an ARCHIVE filter of the account's associated administrator (or of the account
    itself) matches the new finding ("Suppression rules")."""
    owners = []
    backend = gx._ensure_state(gx.gd(account, region))
    admin = backend.gf_admin_id
    if admin is not None:
        rec = gx._ensure_state(gx.gd(admin, region)).gf_members.get(account)
        if rec is not None and rec.relationship == "Enabled":
            owners.append(admin)
    owners.append(account)
    for owner in owners:
        det = gx._detector_of(owner, region)
        if det is None:
            continue
        for flt in gx._ranked_filters(gx._as_gf(det)):
            if flt.action != "ARCHIVE":
                continue
            key = json.dumps(flt.finding_criteria, sort_keys=True)
            if key not in _compiled_filters:
                if len(_compiled_filters) > 1000:
                    _compiled_filters.clear()
                _compiled_filters[key] = compile_criteria(flt.finding_criteria, strict=False)
            pred = _compiled_filters[key]
            if pred is None or pred(f):
                return True
    return False


def _sort_key_fn(field: str) -> Callable[[StoredFinding], Any]:
    get = _getter(field)

    def key(f: StoredFinding) -> Any:
        vals = get(f)
        if not vals:
            return None
        v = vals[0]
        if isinstance(v, bool):
            return (0, float(v), "")
        if isinstance(v, (int, float)):
            return (0, float(v), "")
        return (1, 0.0, str(v))

    return key


def sort_findings(items: list[StoredFinding], sort: Any) -> list[StoredFinding]:
    """Sorted by sortCriteria (validated by the caller); findings without the attribute last."""
    if not sort or not sort.get("attributeName"):
        return items
    key = _sort_key_fn(sort["attributeName"])
    keyed = [(key(f), f) for f in items]
    present = [(k, f) for k, f in keyed if k is not None]
    missing = [f for k, f in keyed if k is None]
    present.sort(key=lambda kf: (kf[0], kf[1].seq), reverse=(sort.get("orderBy") == "DESC"))
    return [f for _, f in present] + missing


def _validate_sort(sort: Any, allowed: Any) -> dict[str, Any] | None:
    if sort is None:
        return None
    bad = BadRequest(_msg_list_param("sortCriteria"))
    if not isinstance(sort, dict) or set(sort) - {"attributeName", "orderBy"}:
        raise bad
    name = sort.get("attributeName")
    order = sort.get("orderBy")
    if name is not None and (not isinstance(name, str) or name not in allowed):
        raise bad
    if order is not None and order not in ORDER_BY:
        raise bad
    return {"attributeName": name, "orderBy": order or "ASC"} if name else None


# --------------------------------------------------------------------------------------
# Scope: what a detector sees
# --------------------------------------------------------------------------------------


def _scope_accounts(self: Any) -> list[str]:
    """The caller and, for an administrator, its Enabled members (this Region)."""
    self._gf_detector()
    backend = self._gf_backend()
    out = [self.current_account]
    for acct, rec in sorted(backend.gf_members.items()):
        if rec.relationship == "Enabled":
            out.append(acct)
    return out


def _visible(self: Any) -> list[StoredFinding]:
    items: list[StoredFinding] = []
    accounts = _scope_accounts(self)
    for acct in accounts:
        items.extend(_findings(acct, self.region).values())
    if len(accounts) > 1:
        items.sort(key=lambda f: f.seq)
    return items


def _visible_by_id(self: Any) -> dict[str, StoredFinding]:
    out: dict[str, StoredFinding] = {}
    for acct in _scope_accounts(self):
        out.update(_findings(acct, self.region))
    return out


def _refuse_members(self: Any) -> None:
    if gx._associated_admin(self) is not None:
        raise BadRequest(MSG_MEMBER)


# --------------------------------------------------------------------------------------
# Paging (snapshots, so a listing is not re-filtered and re-sorted on every page)
# --------------------------------------------------------------------------------------


def _max_results(body: dict[str, Any], limit: int, default: int) -> int:
    mr = body.get("maxResults")
    if mr is None:
        return default
    if not gx._is_int(mr) or not 1 <= mr <= limit:
        raise BadRequest(_msg_max_results(limit))
    return mr


def _paged(self: Any, body: dict[str, Any], kind: str,
           compute: Callable[[], list[Any]]) -> tuple[list[Any], str | None]:
    """One page of a listing. The first call computes the whole result list and, when there
    is more than a page, keeps it under a token; later pages slice it (so paging through N
    results costs O(N), not O(N^2/page))."""
    max_results = _max_results(body, MAX_FINDING_RESULTS, MAX_FINDING_RESULTS)
    token = body.get("nextToken")
    backend = self._gf_backend()
    pages: OrderedDict[str, list[Any]] = backend.__dict__.setdefault("gf_pages", OrderedDict())
    if token:
        if not isinstance(token, str):
            raise BadRequest(MSG_BAD_TOKEN)
        key, _, offset_text = token.rpartition("-")
        items = pages.get(key)
        if items is None or not key.startswith(kind + ".") or not offset_text.isdigit():
            raise BadRequest(MSG_BAD_TOKEN)
        start = int(offset_text)
        pages.move_to_end(key)
    else:
        items, start, key = compute(), 0, ""
    end = start + max_results
    if end >= len(items):
        return items[start:], None
    if not key:
        key = f"{kind}.{uuid.uuid4().hex}"
        pages[key] = items
        while len(pages) > PAGE_SNAPSHOTS:
            pages.popitem(last=False)
    return items[start:end], f"{key}-{end}"


# --------------------------------------------------------------------------------------
# Operations: findings
# --------------------------------------------------------------------------------------


def list_findings(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    _max_results(body, MAX_FINDING_RESULTS, MAX_FINDING_RESULTS)
    pred = compile_criteria(body.get("findingCriteria"), strict=True)
    sort = _validate_sort(body.get("sortCriteria"), SORT_FIELDS)

    def compute() -> list[str]:
        items = _visible(self)
        if pred is not None:
            items = [f for f in items if pred(f)]
        return [f.id for f in sort_findings(items, sort)]

    chunk, nxt = _paged(self, body, "findings", compute)
    out: dict[str, Any] = {"findingIds": chunk}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def get_findings(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    ids = _check_ids(body.get("findingIds"), "findingIds")
    sort = _validate_sort(body.get("sortCriteria"), SORT_FIELDS)
    visible = _visible_by_id(self)
    found: list[StoredFinding] = []
    seen = set()
    for fid in ids:
        f = visible.get(fid) if isinstance(fid, str) else None
        if f is not None and fid not in seen:
            seen.add(fid)
            found.append(f)
    found = sort_findings(found, sort)
    detectors: dict[str, str] = {}
    texts = []
    for f in found:
        det = detectors.get(f.account_id)
        if det is None:
            det = detectors[f.account_id] = _detector_id(f.account_id, f.region)
        texts.append(f.json_text(det))
    headers: dict[str, Any] = dict(gx.JSON_HEADERS)
    headers["status"] = 200
    return '{"findings":[' + ",".join(texts) + "]}", headers


def _set_archived(self: Any, archived: bool) -> Any:
    self._gf_detector()
    _refuse_members(self)
    ids = _check_ids(self._gf_body().get("findingIds"), "findingIds")
    visible = _visible_by_id(self)
    for fid in ids:
        f = visible.get(fid) if isinstance(fid, str) else None
        if f is not None and f.archived != archived:
            f.archived = archived
            f.touch()
    return _ok()


def archive_findings(self: Any) -> Any:
    return _set_archived(self, True)


def unarchive_findings(self: Any) -> Any:
    return _set_archived(self, False)


def update_findings_feedback(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    ids = _check_ids(body.get("findingIds"), "findingIds")
    feedback = body.get("feedback")
    if feedback not in FEEDBACK:
        raise BadRequest(_msg_list_param("feedback"))
    comments = body.get("comments")
    if comments is not None and not isinstance(comments, str):
        raise BadRequest(_msg_list_param("comments"))
    visible = _visible_by_id(self)
    for fid in ids:
        f = visible.get(fid) if isinstance(fid, str) else None
        if f is not None:
            f.feedback = feedback
            f.touch()
    return _ok()


def create_sample_findings(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    types = body.get("findingTypes")
    if types is None or types == []:
        chosen = [(t.type, t) for t in templates().values()]
    else:
        if not isinstance(types, list) or len(types) > 50:
            raise BadRequest(_msg_list_param("findingTypes"))
        chosen = []
        for ft in types:
            if not isinstance(ft, str) or not 1 <= len(ft) <= 100 or not FINDING_TYPE_RE.match(ft):
                raise BadRequest(_msg_list_param("findingTypes"))
            tpl = find_template(ft)
            assert tpl is not None
            chosen.append((ft, tpl))
    for ft, tpl in chosen:
        store_finding(self.current_account, self.region, tpl, finding_type=ft, sample=True)
    return _ok()


def _stat_rows(items: list[StoredFinding], group_by: str) -> list[tuple[Any, dict[str, Any]]]:
    """(sort key, row) per group, rows with totalFindings and lastGeneratedAt (epoch seconds)."""
    groups: dict[Any, list[Any]] = {}  # key -> [count, last_ms]
    if group_by == "ACCOUNT":
        keyf: Callable[[StoredFinding], Any] = lambda f: f.account_id
    elif group_by == "FINDING_TYPE":
        keyf = lambda f: f.type
    elif group_by == "SEVERITY":
        keyf = lambda f: severity_level(f.severity)
    elif group_by == "DATE":
        keyf = lambda f: (f.updated_ms // 86_400_000, severity_level(f.severity))
    else:  # RESOURCE
        keyf = lambda f: (f.account_id, f.resource_type, f.resource_id)
    for f in items:
        k = keyf(f)
        g = groups.get(k)
        if g is None:
            groups[k] = [1, f.updated_ms]
        else:
            g[0] += 1
            if f.updated_ms > g[1]:
                g[1] = f.updated_ms
    rows = []
    for k, (count, last_ms) in groups.items():
        row: dict[str, Any]
        if group_by == "ACCOUNT":
            row = {"accountId": k}
        elif group_by == "FINDING_TYPE":
            row = {"findingType": k}
        elif group_by == "SEVERITY":
            row = {"severity": k}
        elif group_by == "DATE":
            row = {"date": k[0] * 86_400, "severity": k[1]}
        else:
            row = {"accountId": k[0], "resourceId": k[2], "resourceType": k[1]}
        row["lastGeneratedAt"] = round(last_ms / 1000, 3)
        row["totalFindings"] = count
        rows.append((k, row))
    return rows


GROUPED_FIELD = {
    "ACCOUNT": "groupedByAccount",
    "DATE": "groupedByDate",
    "FINDING_TYPE": "groupedByFindingType",
    "RESOURCE": "groupedByResource",
    "SEVERITY": "groupedBySeverity",
}


def get_findings_statistics(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    types = body.get("findingStatisticTypes")
    if types is not None and (not isinstance(types, list) or len(types) > 10
                              or any(t not in FINDING_STATISTIC_TYPES for t in types)):
        raise BadRequest(_msg_list_param("findingStatisticTypes"))
    group_by = body.get("groupBy")
    if group_by is not None and group_by not in GROUP_BY:
        raise BadRequest(_msg_list_param("groupBy"))
    order_by = body.get("orderBy")
    if order_by is not None and order_by not in ORDER_BY:
        raise BadRequest(_msg_list_param("orderBy"))
    max_results = _max_results(body, MAX_STATISTICS_RESULTS, DEFAULT_STATISTICS_RESULTS)
    if types and group_by is not None:
        raise BadRequest(MSG_STATS_BOTH)
    if not types and group_by is None:
        raise BadRequest(MSG_STATS_NONE)
    if group_by is None:
        for param in ("maxResults", "orderBy"):
            if body.get(param) is not None:
                raise BadRequest(MSG_STATS_GROUP_ONLY.format(param=param))
    pred = compile_criteria(body.get("findingCriteria"), strict=True)
    items = _visible(self)
    if pred is not None:
        items = [f for f in items if pred(f)]
    stats: dict[str, Any] = {}
    if group_by is None:
        counts: dict[str, int] = {}
        for f in items:
            k = repr(f.severity)
            counts[k] = counts.get(k, 0) + 1
        stats["countBySeverity"] = counts
    else:
        rows = _stat_rows(items, group_by)
        desc = (order_by or "DESC") == "DESC"
        # by count (DESC by default), ties in the group's natural order
        rows.sort(key=lambda kr: kr[0])
        rows.sort(key=lambda kr: kr[1]["totalFindings"], reverse=desc)
        stats[GROUPED_FIELD[group_by]] = [row for _, row in rows[:max_results]]
    # The response's nextToken "is currently not supported" (API reference): never sent.
    return _ok({"findingStatistics": stats})


# --------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------


class CoverageResource:
    """One Runtime Monitoring coverage entry (an EKS cluster, ECS cluster or EC2 instance)."""

    def __init__(self, account_id: str, region: str, spec: dict[str, Any]) -> None:
        self.account_id = account_id
        self.region = region
        self.resource_type: str = spec["resourceType"]
        self.status: str = spec.get("status") or "HEALTHY"
        self.issue: str | None = spec.get("issue")
        updated = parse_time(spec.get("updatedAt")) if spec.get("updatedAt") is not None else None
        self.updated_ms = updated if updated is not None else parse_time(gx._iso(gx._now()))
        mgmt = spec.get("managementType")
        if self.resource_type == "EKS":
            name = spec.get("clusterName") or spec.get("resourceId")
            d: dict[str, Any] = {"clusterName": name}
            for k in ("coveredNodes", "compatibleNodes"):
                if spec.get(k) is not None:
                    d[k] = spec[k]
            addon = {}
            if spec.get("addonVersion"):
                addon["addonVersion"] = spec["addonVersion"]
            if spec.get("addonStatus"):
                addon["addonStatus"] = spec["addonStatus"]
            if addon:
                d["addonDetails"] = addon
            d["managementType"] = mgmt or "AUTO_MANAGED"
            self.details = {"eksClusterDetails": d}
            self.resource_id = spec.get("resourceId") or name
        elif self.resource_type == "ECS":
            name = spec.get("clusterName") or spec.get("resourceId")
            d = {"clusterName": name}
            fargate: dict[str, Any] = {}
            if spec.get("fargateIssues"):
                fargate["issues"] = list(spec["fargateIssues"])
            fargate["managementType"] = mgmt or "AUTO_MANAGED"
            d["fargateDetails"] = fargate
            if spec.get("coveredContainerInstances") is not None or spec.get("compatibleContainerInstances") is not None:
                d["containerInstanceDetails"] = {
                    k: spec[k] for k in ("coveredContainerInstances", "compatibleContainerInstances")
                    if spec.get(k) is not None
                }
            self.details = {"ecsClusterDetails": d}
            self.resource_id = spec.get("resourceId") or name
        else:  # EC2
            iid = spec.get("instanceId") or spec.get("resourceId")
            d = {"instanceId": iid}
            if spec.get("instanceType"):
                d["instanceType"] = spec["instanceType"]
            if spec.get("clusterArn"):
                d["clusterArn"] = spec["clusterArn"]
            if spec.get("agentVersion"):
                d["agentDetails"] = {"version": spec["agentVersion"]}
            d["managementType"] = mgmt or "AUTO_MANAGED"
            self.details = {"ec2InstanceDetails": d}
            self.resource_id = spec.get("resourceId") or iid
        self.seq = next(_seq)

    def _detail(self, *path: str) -> str | None:
        vals = _walk([self.details], path)
        return str(vals[0]) if vals else None

    def values(self, key: str) -> list[str]:
        """The resource's values for a CoverageFilterCriterionKey / CoverageSortKey."""
        if key == "ACCOUNT_ID":
            v: str | None = self.account_id
        elif key == "RESOURCE_TYPE":
            v = self.resource_type
        elif key == "COVERAGE_STATUS":
            v = self.status
        elif key == "ISSUE":
            v = self.issue
        elif key == "UPDATED_AT":
            v = None
        elif key == "ADDON_VERSION":
            v = self._detail("eksClusterDetails", "addonDetails", "addonVersion")
        elif key in ("CLUSTER_NAME", "EKS_CLUSTER_NAME"):  # CLUSTER_NAME: deprecated EKS_CLUSTER_NAME
            v = self._detail("eksClusterDetails", "clusterName")
        elif key == "ECS_CLUSTER_NAME":
            v = self._detail("ecsClusterDetails", "clusterName")
        elif key == "MANAGEMENT_TYPE":
            v = (self._detail("eksClusterDetails", "managementType")
                 or self._detail("ec2InstanceDetails", "managementType")
                 or self._detail("ecsClusterDetails", "fargateDetails", "managementType"))
        elif key == "AGENT_VERSION":
            v = self._detail("ec2InstanceDetails", "agentDetails", "version")
        elif key == "INSTANCE_ID":
            v = self._detail("ec2InstanceDetails", "instanceId")
        elif key == "CLUSTER_ARN":
            v = self._detail("ec2InstanceDetails", "clusterArn")
        else:
            v = None
        return [v] if v is not None else []

    def to_json(self, detector_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resourceId": self.resource_id,
            "detectorId": detector_id,
            "accountId": self.account_id,
            "resourceDetails": {"resourceType": self.resource_type, **self.details},
            "coverageStatus": self.status,
            "updatedAt": round(self.updated_ms / 1000, 3),
        }
        if self.issue:
            out["issue"] = self.issue
        return out


def _coverage_filter(fc: Any) -> Callable[[CoverageResource], bool] | None:
    if fc is None:
        return None
    bad = BadRequest(_msg_list_param("filterCriteria"))
    if not isinstance(fc, dict) or set(fc) - {"filterCriterion"}:
        raise bad
    crit = fc.get("filterCriterion")
    if crit is None or crit == []:
        return None
    if not isinstance(crit, list) or len(crit) > MAX_COVERAGE_CRITERIA:
        raise bad
    tests: list[Callable[[CoverageResource], bool]] = []
    for c in crit:
        if not isinstance(c, dict) or set(c) - {"criterionKey", "filterCondition"}:
            raise bad
        key = c.get("criterionKey")
        cond = c.get("filterCondition")
        if key not in COVERAGE_CRITERION_KEYS or not isinstance(cond, dict) or not cond \
                or set(cond) - {"equals", "notEquals"}:
            raise bad
        for op, vals in cond.items():
            if not isinstance(vals, list) or not all(isinstance(x, str) for x in vals):
                raise bad
            if op == "equals":
                tests.append(lambda r, k=key, w=set(vals): any(v in w for v in r.values(k)))
            else:
                tests.append(lambda r, k=key, w=set(vals): not any(v in w for v in r.values(k)))
    return lambda r: all(t(r) for t in tests)


def _visible_coverage(self: Any) -> list[CoverageResource]:
    items: list[CoverageResource] = []
    for acct in _scope_accounts(self):
        items.extend(_coverage(acct, self.region).values())
    items.sort(key=lambda r: r.seq)
    return items


def list_coverage(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    _max_results(body, MAX_FINDING_RESULTS, MAX_FINDING_RESULTS)
    pred = _coverage_filter(body.get("filterCriteria"))
    sort = body.get("sortCriteria")
    if sort is not None:
        bad = BadRequest(_msg_list_param("sortCriteria"))
        if (not isinstance(sort, dict) or set(sort) - {"attributeName", "orderBy"}
                or sort.get("attributeName") not in COVERAGE_SORT_KEYS + [None]
                or sort.get("orderBy") not in ORDER_BY + [None]):
            raise bad

    def compute() -> list[CoverageResource]:
        items = _visible_coverage(self)
        if pred is not None:
            items = [r for r in items if pred(r)]
        if sort and sort.get("attributeName"):
            name = sort["attributeName"]
            if name == "UPDATED_AT":
                def key(r: CoverageResource) -> Any:
                    return r.updated_ms
            else:
                def key(r: CoverageResource) -> Any:
                    vals = r.values(name)
                    return vals[0] if vals else None
            present = [r for r in items if key(r) is not None]
            missing = [r for r in items if key(r) is None]
            present.sort(key=lambda r: (key(r), r.seq), reverse=sort.get("orderBy") == "DESC")
            items = present + missing
        return items

    chunk, nxt = _paged(self, body, "coverage", compute)
    dets: dict[str, str] = {}
    resources = []
    for r in chunk:
        det = dets.get(r.account_id)
        if det is None:
            det = dets[r.account_id] = _detector_id(r.account_id, r.region)
        resources.append(r.to_json(det))
    out: dict[str, Any] = {"resources": resources}
    if nxt:
        out["nextToken"] = nxt
    return _ok(out)


def get_coverage_statistics(self: Any) -> Any:
    self._gf_detector()
    body = self._gf_body()
    types = body.get("statisticsType")
    if (not isinstance(types, list) or not types
            or any(t not in COVERAGE_STATISTICS_TYPES for t in types)):
        raise BadRequest(_msg_list_param("statisticsType"))
    pred = _coverage_filter(body.get("filterCriteria"))
    items = _visible_coverage(self)
    if pred is not None:
        items = [r for r in items if pred(r)]
    stats: dict[str, Any] = {}
    if "COUNT_BY_RESOURCE_TYPE" in types:
        by_type: dict[str, int] = {}
        for r in items:
            by_type[r.resource_type] = by_type.get(r.resource_type, 0) + 1
        stats["countByResourceType"] = by_type
    if "COUNT_BY_COVERAGE_STATUS" in types:
        by_status: dict[str, int] = {}
        for r in items:
            by_status[r.status] = by_status.get(r.status, 0) + 1
        stats["countByCoverageStatus"] = by_status
    return _ok({"coverageStatistics": stats})


# --------------------------------------------------------------------------------------
# Test seeding endpoints (not AWS APIs)
# --------------------------------------------------------------------------------------


class SeedError(ValueError):
    pass


def _request_json(request: Any) -> Any:
    raw = b""
    if hasattr(request, "get_data"):
        raw = request.get_data()
    elif hasattr(request, "data"):
        raw = request.data
    elif hasattr(request, "body"):
        raw = request.body
    if isinstance(raw, str):
        raw = raw.encode()
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise SeedError("the body is not JSON")


def _check_account_region(item: dict[str, Any], where: str) -> tuple[str, str]:
    account = item.get("account") or item.get("accountId")
    region = item.get("region")
    if not isinstance(account, str) or not gx.ACCOUNT_RE.match(account):
        raise SeedError(f"{where}: account must be a 12-digit account id")
    if not isinstance(region, str):
        raise SeedError(f"{where}: region is required")
    try:
        gx.gd(account, region)
    except KeyError:
        raise SeedError(f"{where}: unknown Region {region}")
    return account, region


def seed_findings(items: Any) -> list[str]:
    """Validate every entry first, then store them all (a bad entry stores nothing)."""
    if not isinstance(items, list):
        raise SeedError('"findings" must be a list')
    planned = []
    for i, item in enumerate(items):
        where = f"findings[{i}]"
        if not isinstance(item, dict):
            raise SeedError(f"{where}: must be an object")
        account, region = _check_account_region(item, where)
        tpl = find_template(item.get("template") or item.get("type"))
        if tpl is None:
            raise SeedError(f"{where}: unknown template {item.get('template')!r} "
                            f"(use one of {', '.join(template_names())} or a finding type)")
        ftype = item.get("type")
        if ftype is not None and (not isinstance(ftype, str) or not 1 <= len(ftype) <= 100):
            raise SeedError(f"{where}: type must be a finding type")
        sev = item.get("severity")
        if sev is not None and (isinstance(sev, bool) or not isinstance(sev, (int, float))
                                or not 0 < sev <= 10):
            raise SeedError(f"{where}: severity must be a number in (0, 10]")
        times = {}
        for k in ("updatedAt", "createdAt"):
            if item.get(k) is not None:
                ms = parse_time(item[k]) if isinstance(item[k], str) else None
                if ms is None:
                    raise SeedError(f"{where}: {k} must be an ISO-8601 date and time")
                times[k] = ms
        archived = item.get("archived")
        if archived is not None and not isinstance(archived, bool):
            raise SeedError(f"{where}: archived must be a boolean")
        count = item.get("count", 1)
        if not gx._is_int(count) or count < 1:
            raise SeedError(f"{where}: count must be a positive integer")
        rtype = item.get("resourceType")
        if rtype is not None and (not isinstance(rtype, str) or not rtype):
            raise SeedError(f"{where}: resourceType must be a string")
        fid = item.get("id")
        if fid is not None and (not isinstance(fid, str) or not re.match(r"^[A-Za-z0-9_-]{1,300}$", fid)):
            raise SeedError(f"{where}: id must be 1-300 letters, digits, '-' or '_'")
        planned.append((account, region, tpl, dict(
            finding_type=ftype, severity=None if sev is None else float(sev),
            created_ms=times.get("createdAt"), updated_ms=times.get("updatedAt"),
            archived=archived, count=count, resource_type=rtype, finding_id=fid)))
    ids = []
    for account, region, tpl, kw in planned:
        try:
            ids.append(store_finding(account, region, tpl, **kw).id)
        except ValueError as e:
            raise SeedError(str(e))
    return ids


def seed_coverage(items: Any) -> list[str]:
    if not isinstance(items, list):
        raise SeedError('"resources" must be a list')
    planned = []
    for i, item in enumerate(items):
        where = f"resources[{i}]"
        if not isinstance(item, dict):
            raise SeedError(f"{where}: must be an object")
        account, region = _check_account_region(item, where)
        rtype = item.get("resourceType")
        if rtype not in COVERAGE_RESOURCE_TYPES:
            raise SeedError(f"{where}: resourceType must be one of {', '.join(COVERAGE_RESOURCE_TYPES)}")
        status = item.get("status", "HEALTHY")
        if status not in COVERAGE_STATUSES:
            raise SeedError(f"{where}: status must be HEALTHY or UNHEALTHY")
        if item.get("managementType") is not None and item["managementType"] not in MANAGEMENT_TYPES:
            raise SeedError(f"{where}: managementType must be one of {', '.join(MANAGEMENT_TYPES)}")
        ident = item.get("resourceId") or (item.get("instanceId") if rtype == "EC2" else item.get("clusterName"))
        if not isinstance(ident, str) or not ident:
            raise SeedError(f"{where}: resourceId (or clusterName / instanceId) is required")
        for k in ("issue", "clusterName", "instanceId", "instanceType", "clusterArn", "agentVersion",
                  "addonVersion", "addonStatus"):
            if item.get(k) is not None and not isinstance(item[k], str):
                raise SeedError(f"{where}: {k} must be a string")
        for k in ("coveredNodes", "compatibleNodes", "coveredContainerInstances",
                  "compatibleContainerInstances"):
            if item.get(k) is not None and (not gx._is_int(item[k]) or item[k] < 0):
                raise SeedError(f"{where}: {k} must be a non-negative integer")
        if item.get("fargateIssues") is not None and (
                not isinstance(item["fargateIssues"], list)
                or not all(isinstance(x, str) for x in item["fargateIssues"])):
            raise SeedError(f"{where}: fargateIssues must be a list of strings")
        if item.get("updatedAt") is not None and parse_time(item["updatedAt"]) is None:
            raise SeedError(f"{where}: updatedAt must be an ISO-8601 date and time")
        planned.append((account, region, dict(item, resourceType=rtype, status=status, resourceId=ident)))
    ids = []
    for account, region, spec in planned:
        r = CoverageResource(account, region, spec)
        _coverage(account, region)[r.resource_id] = r  # same id again replaces the entry
        ids.append(r.resource_id)
    return ids


def _debug_filter(full_url: str) -> Callable[[str, str], bool]:
    query = parse_qs(urlsplit(full_url).query)

    def wanted(account: str, region: str) -> bool:
        return (("accountId" not in query or account in query["accountId"])
                and ("region" not in query or region in query["region"]))

    return wanted


def _seed_endpoint(request: Any, full_url: str, *, store: str, key: str, ids_key: str,
                   seed: Callable[[Any], list[str]],
                   show: Callable[[Any, str, str], dict]) -> tuple[int, dict[str, str], str]:
    """One seeding endpoint: GET lists what the backends' `store` holds (filtered by
    ?accountId=&region=) under `key`; POST {key: [...]} seeds with `seed` -> {ids_key: [...]}."""
    json_headers = {"Content-Type": "application/json"}
    method = getattr(request, "method", "GET")
    with gx._LOCK:
        if method == "GET":
            wanted = _debug_filter(full_url)
            out = []
            for account, per_region in sorted(dict.items(gx.guardduty_backends)):
                for region, backend in sorted(dict.items(per_region)):
                    held = backend.__dict__.get(store) or {}
                    if held and wanted(account, region):
                        det = _detector_id(account, region)
                        out.extend(show(item, det, region) for item in held.values())
            return 200, json_headers, json.dumps({key: out})
        if method != "POST":
            return 405, json_headers, json.dumps({"message": "use GET or POST"})
        try:
            data = _request_json(request)
            if not isinstance(data, dict):
                raise SeedError(f'the body must be {{"{key}": [...]}}')
            ids = seed(data.get(key))
        except SeedError as e:
            return 400, json_headers, json.dumps({"message": str(e)})
    return 200, json_headers, json.dumps({ids_key: ids})


def findings_endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """POST /moto-api/guardform/findings {"findings": [...]} -> {"ids": [...]};
    GET /moto-api/guardform/findings[?accountId=&region=] -> {"findings": [finding, ...]}."""
    return _seed_endpoint(request, full_url, store="gf_findings", key="findings", ids_key="ids",
                          seed=seed_findings, show=lambda f, det, region: f.to_json(det))


def coverage_endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """POST /moto-api/guardform/coverage {"resources": [...]} -> {"resourceIds": [...]};
    GET /moto-api/guardform/coverage[?accountId=&region=] -> {"resources": [...]}."""
    return _seed_endpoint(request, full_url, store="gf_coverage", key="resources", ids_key="resourceIds",
                          seed=seed_coverage, show=lambda r, det, region: dict(r.to_json(det), region=region))


# --------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------

HANDLER_NAMES = [
    "list_findings",
    "get_findings",
    "get_findings_statistics",
    "archive_findings",
    "unarchive_findings",
    "update_findings_feedback",
    "create_sample_findings",
    "list_coverage",
    "get_coverage_statistics",
]
HANDLERS = {name: globals()[name] for name in HANDLER_NAMES}

ROUTES = [
    "{0}/detector/(?P<detector_id>[^/]+)/findings$",
    "{0}/detector/(?P<detector_id>[^/]+)/findings/get$",
    "{0}/detector/(?P<detector_id>[^/]+)/findings/statistics$",
    "{0}/detector/(?P<detector_id>[^/]+)/findings/archive$",
    "{0}/detector/(?P<detector_id>[^/]+)/findings/unarchive$",
    "{0}/detector/(?P<detector_id>[^/]+)/findings/feedback$",
    "{0}/detector/(?P<detector_id>[^/]+)/findings/create$",
    "{0}/detector/(?P<detector_id>[^/]+)/coverage$",
    "{0}/detector/(?P<detector_id>[^/]+)/coverage/statistics$",
]

_INSTALLED = False


def install() -> None:
    """Hook findings and coverage into moto's GuardDuty (after guardduty_ext.install()).
    Idempotent. Raises if the fixtures or moto's extension points are missing."""
    global _INSTALLED
    if _INSTALLED:
        return
    if not gx.installed():
        raise RuntimeError("install guardduty_ext before findings_ext")
    from moto.guardduty import urls as gd_urls
    from moto.guardduty.responses import GuardDutyResponse
    from moto.moto_api._internal import urls as moto_api_urls

    templates()  # fail at start-up, not on the first request, if the fixtures are missing
    for route in ROUTES:
        gd_urls.url_paths[route] = GuardDutyResponse.dispatch
    for name, fn in HANDLERS.items():
        setattr(GuardDutyResponse, name, fn)
    if not isinstance(getattr(moto_api_urls, "url_paths", None), dict):
        raise RuntimeError("moto.moto_api._internal.urls.url_paths is not a dict; cannot add /moto-api/guardform/findings")
    moto_api_urls.url_paths["{0}/moto-api/guardform/findings$"] = findings_endpoint
    moto_api_urls.url_paths["{0}/moto-api/guardform/coverage$"] = coverage_endpoint
    _INSTALLED = True


def installed() -> bool:
    return _INSTALLED
