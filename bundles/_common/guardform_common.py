"""What every guardform responder shares: reading a GuardDuty finding, settings and secrets,
JSON logging that never prints a secret, and AWS sessions in the finding's account.

Data flows in this order: `run` parses the Lambda event into a `Finding`, binds the finding to
the log, calls the bundle's `respond(finding, context, log)`, logs its result and returns it.
Errors leave `run` as `ResponderError` with every known secret value removed from the message.

Standard library and boto3 only: this file is copied to the root of every bundle's Lambda zip.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

REDACTED = "[redacted]"

# GuardDuty's severity levels (docs: "Severity levels of GuardDuty findings"):
# Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0.
SEVERITY_LEVELS = (("LOW", 4.0), ("MEDIUM", 7.0), ("HIGH", 9.0))
SEVERITY_FLOORS = {"LOW": 0.0, "MEDIUM": 4.0, "HIGH": 7.0, "CRITICAL": 9.0}

# Where each action type keeps the remote party. DNS_REQUEST has none.
_REMOTE_IP_PARENTS = (
    "networkConnectionAction",
    "awsApiCallAction",
    "kubernetesApiCallAction",
    "rdsLoginAttemptAction",
)

_CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


# --------------------------------------------------------------------------------------------
# Errors


class ResponderError(Exception):
    """A responder failed; the message names what failed and never contains a secret value."""


class ConfigError(ResponderError):
    """A setting or secret is missing or invalid."""


class InvalidEvent(ResponderError):
    """The Lambda event is neither a GuardDuty finding nor an EventBridge event carrying one."""


class NotActionable(Exception):
    """The finding cannot be acted on here (for example it belongs to another account and no
    role to reach that account is configured). The responder reports it and succeeds."""


# --------------------------------------------------------------------------------------------
# Secret redaction and JSON logging

_secret_values: set[str] = set()
_secret_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remembers a secret value so that `redact` removes it from any text."""
    if value and len(value) >= 4:
        with _secret_lock:
            _secret_values.add(value)


def redact(text: str) -> str:
    """Replaces every registered secret value (raw or JSON-escaped) with `[redacted]`."""
    if not isinstance(text, str):
        text = str(text)
    with _secret_lock:
        values = sorted(_secret_values, key=len, reverse=True)
    for value in values:
        text = text.replace(value, REDACTED)
        escaped = json.dumps(value)[1:-1]
        if escaped != value:
            text = text.replace(escaped, REDACTED)
    return text


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "guardform_fields", {}) or {})
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class _StdoutHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is at the time (Lambda ships stdout to CloudWatch Logs)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never break the responder
            self.handleError(record)


def _base_logger() -> logging.Logger:
    logger = logging.getLogger("guardform")
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class Log:
    """One JSON object per line on stdout, with the bundle and finding bound to every line."""

    def __init__(self, bundle: str) -> None:
        self._logger = _base_logger()
        self.fields: dict[str, Any] = {"bundle": bundle}

    def bind(self, **fields: Any) -> None:
        self.fields.update({k: v for k, v in fields.items() if v is not None})

    def _emit(self, level: int, message: str, fields: dict[str, Any]) -> None:
        merged = dict(self.fields)
        merged.update(fields)
        self._logger.log(level, message, extra={"guardform_fields": merged})

    def info(self, message: str, **fields: Any) -> None:
        self._emit(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit(logging.WARNING, message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit(logging.ERROR, message, fields)


# --------------------------------------------------------------------------------------------
# Settings (plain environment variables)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, required: bool = False) -> str | None:
    """A plain setting. Empty counts as unset."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if required:
        raise ConfigError(f"setting {name} is required but the environment variable {name} is not set")
    return default


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"setting {name} must be true or false, not {raw!r}")


def env_float(name: str, default: float, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"setting {name} must be a number, not {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"setting {name} must be between {minimum} and {maximum}, not {raw!r}")
    return value


# --------------------------------------------------------------------------------------------
# Secrets (Secrets Manager; the environment only holds `<NAME>_SECRET_ARN`)

SECRET_CACHE_SECONDS = 300.0
_secret_cache: dict[str, tuple[float, str]] = {}


def secret_arn_variable(name: str) -> str:
    return f"{name}_SECRET_ARN"


def secret_configured(name: str) -> bool:
    return bool(env_str(secret_arn_variable(name)))


def get_secret(name: str, required: bool = True) -> str | None:
    """The value of secret `name`, read with secretsmanager:GetSecretValue from the ARN in
    `<NAME>_SECRET_ARN` and cached in this container for a few minutes (so rotation is picked
    up). The secret may be a plain string, or a JSON object holding the value under `name` (or
    under its only key). The value is registered for redaction before it is returned."""
    variable = secret_arn_variable(name)
    arn = env_str(variable)
    if not arn:
        if required:
            raise ConfigError(f"secret {name} is not configured: the environment variable {variable} must hold its Secrets Manager ARN")
        return None
    cached = _secret_cache.get(arn)
    if cached and time.monotonic() - cached[0] < SECRET_CACHE_SECONDS:
        return cached[1]

    import boto3  # imported here so modules that never read a secret load faster
    from botocore.exceptions import BotoCoreError, ClientError

    region = _arn_region(arn)
    try:
        client = boto3.client("secretsmanager", region_name=region) if region else boto3.client("secretsmanager")
        response = client.get_secret_value(SecretId=arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"reading secret {name} from {arn}: {code}") from None
    except BotoCoreError as error:
        raise ConfigError(f"reading secret {name} from {arn}: {type(error).__name__}") from None
    raw = response.get("SecretString")
    if raw is None:
        raise ConfigError(f"secret {name} ({arn}) has no string value (binary secrets are not supported)")
    value = _secret_value_from(name, arn, raw)
    register_secret(value)
    register_secret(raw)
    _secret_cache[arn] = (time.monotonic(), value)
    return value


def _secret_value_from(name: str, arn: str, raw: str) -> str:
    text = raw.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            if isinstance(document.get(name), str):
                return document[name].strip()
            if len(document) == 1 and isinstance(next(iter(document.values())), str):
                return next(iter(document.values())).strip()
            register_secret(raw)
            raise ConfigError(f"secret {name} ({arn}) is a JSON object without a string value under the key {name}")
    if not text:
        raise ConfigError(f"secret {name} ({arn}) is empty")
    return text


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


def clear_caches() -> None:
    """Forgets cached secrets and redaction values (tests use this between cases)."""
    _secret_cache.clear()
    with _secret_lock:
        _secret_values.clear()


# --------------------------------------------------------------------------------------------
# Findings


def parse_timestamp(value: Any) -> _dt.datetime | None:
    """An ISO 8601 string or epoch (seconds or milliseconds) as an aware UTC datetime, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        try:
            return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.timezone.utc)
        return parsed.astimezone(_dt.timezone.utc)
    return None


def severity_label(severity: float) -> str:
    """LOW below 4, MEDIUM below 7, HIGH below 9, CRITICAL from 9 (GuardDuty's ranges)."""
    for label, upper in SEVERITY_LEVELS:
        if severity < upper:
            return label
    return "CRITICAL"


def parse_severity_threshold(raw: str) -> float:
    """A number, or a level name meaning its lower bound (LOW 0, MEDIUM 4, HIGH 7, CRITICAL 9)."""
    label = raw.strip().upper()
    if label in SEVERITY_FLOORS:
        return SEVERITY_FLOORS[label]
    return float(raw)


@dataclass(frozen=True)
class RemoteIp:
    """The remote party of a finding's action."""

    address: str
    country: str | None = None
    city: str | None = None
    organization: str | None = None

    def describe(self) -> str:
        return f"{self.address} ({self.country})" if self.country else self.address


@dataclass(frozen=True)
class Finding:
    """A GuardDuty finding (`data`, camelCase as GuardDuty writes it) and, when it came through
    EventBridge, the envelope around it."""

    data: dict[str, Any]
    envelope: dict[str, Any] | None = None

    def _get(self, *path: str) -> Any:
        node: Any = self.data
        for key in path:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    @property
    def id(self) -> str:
        return str(self.data.get("id"))

    @property
    def type(self) -> str:
        return str(self.data.get("type"))

    @property
    def title(self) -> str:
        return str(self.data.get("title") or self.type).strip()

    @property
    def description(self) -> str:
        return str(self.data.get("description") or "")

    @property
    def severity(self) -> float:
        try:
            return float(self.data.get("severity") or 0)
        except (TypeError, ValueError):
            return 0.0

    @property
    def severity_label(self) -> str:
        return severity_label(self.severity)

    @property
    def account_id(self) -> str | None:
        return self.data.get("accountId") or (self.envelope or {}).get("account")

    @property
    def region(self) -> str | None:
        return self.data.get("region") or (self.envelope or {}).get("region") or os.environ.get("AWS_REGION")

    @property
    def partition(self) -> str:
        return str(self.data.get("partition") or "aws")

    @property
    def resource_type(self) -> str | None:
        return self._get("resource", "resourceType")

    @property
    def instance_id(self) -> str | None:
        value = self._get("resource", "instanceDetails", "instanceId")
        return str(value) if value else None

    @property
    def access_key_details(self) -> dict[str, Any]:
        value = self._get("resource", "accessKeyDetails")
        return value if isinstance(value, dict) else {}

    @property
    def action_type(self) -> str | None:
        return self._get("service", "action", "actionType")

    @property
    def count(self) -> int | None:
        value = self._get("service", "count")
        return value if isinstance(value, int) else None

    @property
    def is_sample(self) -> bool:
        """True for findings made by CreateSampleFindings (their resources are fictitious)."""
        return self._get("service", "additionalInfo", "sample") is True

    @property
    def updated_at(self) -> _dt.datetime | None:
        return parse_timestamp(self.data.get("updatedAt"))

    @property
    def created_at(self) -> _dt.datetime | None:
        return parse_timestamp(self.data.get("createdAt"))

    @property
    def event_time(self) -> _dt.datetime | None:
        return parse_timestamp((self.envelope or {}).get("time"))

    @property
    def console_url(self) -> str:
        host = _CONSOLE_HOSTS.get(self.partition, _CONSOLE_HOSTS["aws"])
        region = urllib.parse.quote(self.region or "us-east-1", safe="-")
        search = urllib.parse.quote(f"id={self.id}", safe="")
        return f"https://{host}/guardduty/home?region={region}#/findings?search={search}"

    def remote_ips(self) -> list[RemoteIp]:
        """Every remote party the finding's action names, first one first, without repeats."""
        action = self._get("service", "action")
        if not isinstance(action, dict):
            return []
        details: list[dict[str, Any]] = []
        for parent in _REMOTE_IP_PARENTS:
            node = action.get(parent)
            if isinstance(node, dict) and isinstance(node.get("remoteIpDetails"), dict):
                details.append(node["remoteIpDetails"])
        probe = action.get("portProbeAction")
        if isinstance(probe, dict):
            for item in probe.get("portProbeDetails") or []:
                if isinstance(item, dict) and isinstance(item.get("remoteIpDetails"), dict):
                    details.append(item["remoteIpDetails"])
        found: list[RemoteIp] = []
        seen: set[str] = set()
        for item in details:
            address = item.get("ipAddressV4") or item.get("ipAddressV6")
            if not address or address in seen:
                continue
            seen.add(address)
            found.append(
                RemoteIp(
                    address=str(address),
                    country=(item.get("country") or {}).get("countryName"),
                    city=(item.get("city") or {}).get("cityName"),
                    organization=(item.get("organization") or {}).get("org"),
                )
            )
        return found

    def remote_ip(self) -> RemoteIp | None:
        ips = self.remote_ips()
        return ips[0] if ips else None

    def dns_domain(self) -> str | None:
        return self._get("service", "action", "dnsRequestAction", "domain")

    def resource_summary(self) -> str:
        """One line naming the affected resource, e.g. `EC2 instance i-0abc (GD-Target)`."""
        resource_type = self.resource_type or "unknown resource"
        if resource_type == "Instance" and self.instance_id:
            name = _tag_value(self._get("resource", "instanceDetails", "tags"), "Name")
            return f"EC2 instance {self.instance_id}" + (f" ({name})" if name else "")
        key = self.access_key_details
        principal = ""
        if key.get("userName") or key.get("accessKeyId"):
            who = f"{key.get('userType') or 'principal'} {key.get('userName') or key.get('principalId') or '?'}"
            principal = f"{who}, access key {key.get('accessKeyId') or '?'}"
        if resource_type == "AccessKey":
            return f"IAM {principal}" if principal else "IAM access key"
        if resource_type == "S3Bucket":
            names = [b.get("name") for b in self._get("resource", "s3BucketDetails") or [] if isinstance(b, dict) and b.get("name")]
            text = "S3 bucket " + ", ".join(names) if names else "S3 bucket"
            return f"{text} (by {principal})" if principal else text
        if resource_type == "EKSCluster":
            name = self._get("resource", "eksClusterDetails", "name")
            return f"EKS cluster {name}" if name else "EKS cluster"
        if resource_type == "RDSDBInstance":
            name = self._get("resource", "rdsDbInstanceDetails", "dbInstanceIdentifier")
            return f"RDS DB instance {name}" if name else "RDS DB instance"
        if resource_type == "Lambda":
            name = self._get("resource", "lambdaDetails", "functionName")
            return f"Lambda function {name}" if name else "Lambda function"
        return resource_type


def _tag_value(tags: Any, key: str) -> str | None:
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("key", tag.get("Key")) == key:
            return tag.get("value", tag.get("Value"))
    return None


def parse_event(event: Any) -> Finding:
    """A finding from an EventBridge event (`detail` = the finding) or from a bare finding."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected a GuardDuty finding or an EventBridge event (a JSON object), got {type(event).__name__}")
    if isinstance(event.get("detail"), dict):
        source = event.get("source")
        if source is not None and source != "aws.guardduty":
            raise InvalidEvent(f"the event comes from {source!r}, not from aws.guardduty")
        finding = Finding(event["detail"], event)
    else:
        finding = Finding(event)
    missing = [key for key in ("id", "type") if not finding.data.get(key)]
    if missing:
        raise InvalidEvent("the event is not a GuardDuty finding: it has no " + " and no ".join(missing))
    return finding


# --------------------------------------------------------------------------------------------
# AWS in the finding's account

CROSS_ACCOUNT_ROLE_VARIABLE = "CROSS_ACCOUNT_ROLE_NAME"
CROSS_ACCOUNT_ROLE_PREFIX = "guardform-"


def own_account_id(context: Any) -> str | None:
    """The account this function runs in, from the invoked function ARN, else from STS."""
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(arn, str) and arn.count(":") >= 5:
        return arn.split(":")[4]
    import boto3

    try:
        return boto3.client("sts").get_caller_identity()["Account"]
    except Exception:  # noqa: BLE001 - best effort, the caller reports None
        return None


def aws_session(finding: Finding, context: Any, log: Log):
    """A boto3 session in the finding's account: the function's own credentials when the
    finding is from this account, else the role `CROSS_ACCOUNT_ROLE_NAME` in the finding's
    account (the GuardDuty administrator account receives every member's findings)."""
    import boto3

    own = own_account_id(context)
    target = finding.account_id
    if not target or target == own:
        return boto3.Session()
    role_name = env_str(CROSS_ACCOUNT_ROLE_VARIABLE)
    if not role_name:
        raise NotActionable(
            f"the finding is in account {target} but this function runs in account {own}; "
            f"set {CROSS_ACCOUNT_ROLE_VARIABLE} to a role in the member accounts that this function may assume"
        )
    if not role_name.startswith(CROSS_ACCOUNT_ROLE_PREFIX):
        raise ConfigError(f"setting {CROSS_ACCOUNT_ROLE_VARIABLE} must name a role starting with {CROSS_ACCOUNT_ROLE_PREFIX!r} (the function may only assume those), not {role_name!r}")
    if not re.fullmatch(r"\d{12}", target):
        raise NotActionable(f"the finding's account id {target!r} is not a 12-digit AWS account id")
    role_arn = f"arn:{finding.partition}:iam::{target}:role/{role_name}"
    session_name = ("guardform-" + re.sub(r"[^\w+=,.@-]", "", finding.id))[:64]
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        credentials = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    except (ClientError, BotoCoreError) as error:
        raise ResponderError(f"assuming {role_arn} to act in account {target}: {error}") from None
    log.info("assumed role in the finding's account", role_arn=role_arn)
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


# --------------------------------------------------------------------------------------------
# Dry runs: one code path that branches only at the write


class Steps:
    """The writes a responder makes, in order. In a dry run each write is recorded as
    `would ...` and not made; otherwise it is made and recorded as `did ...`."""

    def __init__(self, dry_run: bool, log: Log) -> None:
        self.dry_run = dry_run
        self.log = log
        self.done: list[str] = []

    def write(self, description: str, action: Callable[[], Any]) -> Any:
        if self.dry_run:
            self.done.append(f"would {description}")
            self.log.info(f"dry run: would {description}")
            return None
        result = action()
        self.done.append(description)
        self.log.info(description)
        return result


# --------------------------------------------------------------------------------------------
# The Lambda entry point every bundle uses


def remaining_seconds(context: Any, default: float = 60.0) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if callable(getter):
        try:
            return max(0.0, getter() / 1000.0)
        except Exception:  # noqa: BLE001
            return default
    return default


def deadline(context: Any, reserve_seconds: float = 1.0) -> float:
    """A `time.monotonic()` value `reserve_seconds` before Lambda would stop this invocation."""
    return time.monotonic() + max(1.0, remaining_seconds(context) - reserve_seconds)


def run(bundle: str, event: Any, context: Any, respond: Callable[[Finding, Any, Log], dict]) -> dict:
    """Parses the event, runs `respond`, logs and returns its result. Any failure is logged
    and re-raised as `ResponderError` with secrets removed (so Lambda records a failed,
    retryable invocation whose message is safe to show)."""
    log = Log(bundle)
    request_id = getattr(context, "aws_request_id", None)
    log.bind(request_id=request_id)
    try:
        finding = parse_event(event)
        log.bind(finding_id=finding.id, finding_type=finding.type, account=finding.account_id, region=finding.region)
        log.info("finding received", severity=finding.severity, severity_label=finding.severity_label, resource=finding.resource_summary())
        result = respond(finding, context, log)
    except ResponderError as error:
        message = redact(str(error))
        log.error("failed", error=message)
        raise type(error)(message) from None
    except Exception as error:  # noqa: BLE001 - anything else is reported the same, safely
        message = redact(f"{type(error).__name__}: {error}")
        log.error("failed unexpectedly", error=message)
        raise ResponderError(message) from None
    result = json.loads(redact(json.dumps(result, default=str)))
    log.info("done", result=result)
    return result
