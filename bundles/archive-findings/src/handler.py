"""archive-findings: writes each GuardDuty finding as one JSON line to

    s3://<BUCKET>/<PREFIX>/AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/<finding-id>.json

the folder layout of GuardDuty's own S3 export, so that athena/table.sql can read both. The
date is the finding's updatedAt (else the event time, else now), so each update of a finding is
kept under the day it happened and a second delivery on the same day overwrites the first.
"""

from __future__ import annotations

import datetime as _dt
import json
import re

import boto3
import guardform_common as common

BUNDLE = "archive-findings"

_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]")


def lambda_handler(event, context):
    return common.run(BUNDLE, event, context, respond)


def normalize_prefix(prefix: str | None) -> str:
    """`""`, `"/"` -> `""`; `"/a/b/"`, `"a/b"` -> `"a/b/"`."""
    cleaned = "/".join(part for part in (prefix or "").split("/") if part)
    return cleaned + "/" if cleaned else ""


def _segment(value: str | None) -> str:
    cleaned = _SAFE_SEGMENT.sub("_", value or "")
    return cleaned if cleaned.strip("._") else "unknown"


def archive_date(finding: common.Finding) -> tuple[_dt.datetime, str]:
    """The date a finding is filed under and where it came from."""
    if finding.updated_at is not None:
        return finding.updated_at, "updatedAt"
    if finding.event_time is not None:
        return finding.event_time, "event time"
    return _dt.datetime.now(_dt.timezone.utc), "now"


def object_key(finding: common.Finding, prefix: str) -> str:
    when, _ = archive_date(finding)
    return (
        f"{normalize_prefix(prefix)}AWSLogs/{_segment(finding.account_id)}/GuardDuty/{_segment(finding.region)}/"
        f"{when:%Y/%m/%d}/{_segment(finding.id)}.json"
    )


def respond(finding: common.Finding, context, log: common.Log) -> dict:
    bucket = common.env_str("BUCKET", required=True)
    prefix = common.env_str("PREFIX", "")
    when, source = archive_date(finding)
    if source != "updatedAt":
        log.warning("the finding's updatedAt is not a valid date; filed under another date", date_source=source, updated_at=finding.data.get("updatedAt"))
    key = object_key(finding, prefix)
    body = json.dumps(finding.data, separators=(",", ":"), ensure_ascii=False) + "\n"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json")
    log.info("finding archived", bucket=bucket, key=key, bytes=len(body))
    return {"finding_id": finding.id, "outcome": "archived", "bucket": bucket, "key": key, "date_source": source}
