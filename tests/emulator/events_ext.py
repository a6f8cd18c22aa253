"""EventBridge extension for moto 5.2.5 (server mode): PutTargets refuses the targets AWS refuses.

Stock moto stores any syntactically valid target ARN. AWS checks where a target and its
dead-letter queue live relative to the rule (the rule lives in the caller's account and in the
Region of the endpoint):

* An event bus in another account or another Region is a valid target only with a ``RoleArn``
  ("Sending and receiving events between AWS accounts", "...between AWS Regions": the sending
  rule needs an execution role). Without one AWS answers ``ValidationException``
  "RoleArn is required for target ARN." (the text of every public report of this error).
* Every other target must be in the rule's Region ("A rule's targets must be in the same Region
  as the rule"; only event buses are cross-Region targets). AWS refuses the call with
  ``ValidationException`` "Cross-region api call is not allowed." (the text publicly reported
  for a PutTargets naming a target ARN in another Region).
* In the same Region, API Gateway, Kinesis Data Streams, Lambda, SNS and SQS targets may be in
  another account, with a ``RoleArn`` ("Sending events to an AWS service in another account":
  "Specify an execution role"); without one, "RoleArn is required for target ARN.". Other
  services cannot be cross-account targets: ``AccessDeniedException`` "Access to the resource
  ARN is denied. Reason: Adding cross-account target is not permitted.".
* ``DeadLetterConfig.Arn``: a standard SQS queue in the rule's Region; another account is
  allowed ("Using dead-letter queues to process undelivered events": "The Amazon SQS queue you
  use must be in the same Region in which you create the rule"; "Only standard queues are
  supported"). AWS's error text for these is not public; the emulator answers
  ``ValidationException`` with the texts in ``MSG_DLQ_*``.

All of these fail the whole call (HTTP 400), as the reported AWS errors do; ``FailedEntries`` is
documented for concurrent modification only and stays empty.

Call :func:`install` before moto's server handles its first EventBridge request.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events.exceptions import ValidationException
from moto.events.models import EventsBackend

# Services EventBridge delivers to in another account of the same Region (with an execution role).
CROSS_ACCOUNT_SERVICES = {"execute-api", "kinesis", "lambda", "sns", "sqs"}

MSG_ROLE_REQUIRED = "RoleArn is required for target {arn}."
MSG_CROSS_REGION = "Cross-region api call is not allowed."
MSG_CROSS_ACCOUNT = "Access to the resource {arn} is denied. Reason: Adding cross-account target is not permitted."
MSG_DLQ_REGION = (
    "The dead-letter queue {arn} for target {target} must be in the same Region as the rule ({region})."
)
MSG_DLQ_NOT_SQS = "The dead-letter queue {arn} for target {target} must be an Amazon SQS queue."
MSG_DLQ_FIFO = "The dead-letter queue {arn} for target {target} must be a standard queue, not a FIFO queue."


class AccessDeniedException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("AccessDeniedException", message)


def _parse(arn: Any) -> dict[str, str] | None:
    """arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, or None when it is not one."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    return {"partition": parts[1], "service": parts[2], "region": parts[3], "account": parts[4],
            "resource": parts[5]}


def _rule_account(backend: EventsBackend, event_bus: str | None) -> str:
    """The account the rule lives in: the event bus's owner when EventBusName is an ARN."""
    bus = _parse(event_bus)
    if bus and bus["service"] == "events" and bus["account"]:
        return bus["account"]
    return backend.account_id


def check_targets(region: str, account: str, partition: str, targets: Any) -> None:
    """Raise what AWS raises for targets (and their dead-letter queues) it refuses."""
    if not isinstance(targets, list):
        return
    for target in targets:
        if not isinstance(target, dict):
            continue
        arn = target.get("Arn")
        parsed = _parse(arn)
        if parsed is None:
            continue  # moto's own ARN check answers
        role = target.get("RoleArn")
        elsewhere_region = parsed["partition"] != partition or (
            parsed["region"] != "" and parsed["region"] != region)
        elsewhere_account = parsed["account"] != "" and parsed["account"] != account
        if parsed["service"] == "events" and parsed["resource"].startswith("event-bus/"):
            if parsed["partition"] != partition:
                raise ValidationException(MSG_CROSS_REGION)
            if (elsewhere_region or elsewhere_account) and not role:
                raise ValidationException(MSG_ROLE_REQUIRED.format(arn=arn))
        elif elsewhere_region:
            raise ValidationException(MSG_CROSS_REGION)
        elif elsewhere_account:
            if parsed["service"] not in CROSS_ACCOUNT_SERVICES:
                raise AccessDeniedException(MSG_CROSS_ACCOUNT.format(arn=arn))
            if not role:
                raise ValidationException(MSG_ROLE_REQUIRED.format(arn=arn))
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq:
            q = _parse(dlq)
            if q is None or q["service"] != "sqs":
                raise ValidationException(MSG_DLQ_NOT_SQS.format(arn=dlq, target=target.get("Id")))
            if q["partition"] != partition or q["region"] != region:
                raise ValidationException(
                    MSG_DLQ_REGION.format(arn=dlq, target=target.get("Id"), region=region))
            if q["resource"].endswith(".fifo"):
                raise ValidationException(MSG_DLQ_FIFO.format(arn=dlq, target=target.get("Id")))


_INSTALLED = False


def install() -> None:
    """Hook the checks into moto's EventsBackend.put_targets. Idempotent. Raises if moto moved."""
    global _INSTALLED
    if _INSTALLED:
        return
    orig = getattr(EventsBackend, "put_targets", None)
    if orig is None:
        raise RuntimeError("moto EventsBackend has no put_targets; events extension cannot hook in")
    if not getattr(orig, "_gf_wrapped", False):
        from moto.utilities.utils import get_partition

        def put_targets(self: EventsBackend, name: str, event_bus_arn: str | None,
                        targets: list[dict[str, Any]]) -> None:
            check_targets(self.region_name, _rule_account(self, event_bus_arn),
                          get_partition(self.region_name), targets)
            return orig(self, name, event_bus_arn, targets)

        put_targets._gf_wrapped = True  # type: ignore[attr-defined]
        EventsBackend.put_targets = put_targets  # type: ignore[method-assign]
    _INSTALLED = True


def installed() -> bool:
    return _INSTALLED

