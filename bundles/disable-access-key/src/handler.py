"""disable-access-key: cuts off the AWS credentials named in a GuardDuty finding
(`resource.accessKeyDetails`).

- A long-term key (`AKIA…`) of an IAM user is set Inactive (not deleted, so it can be
  re-enabled after the investigation).
- A role session (`ASIA…`, userType AssumedRole) is revoked as the IAM console's "Revoke
  active sessions" does: an inline policy AWSRevokeOlderSessions on the role denies everything
  to credentials issued before now (`aws:TokenIssueTime`). New sessions keep working.
- A session of an IAM user (`ASIA…` from GetSessionToken) is revoked the same way with an
  inline policy on the user.
- Root, federated and service credentials, sample findings, principals carrying the exception
  tag and the role this function itself runs as are only reported.

DRY_RUN=true runs the same code and reports what it would change.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import guardform_common as common
import guardform_slack as slack
from botocore.exceptions import ClientError

BUNDLE = "disable-access-key"

ROLE_POLICY_NAME = "AWSRevokeOlderSessions"  # the name the IAM console uses
USER_POLICY_NAME = "guardform-revoke-older-sessions"


def lambda_handler(event, context):
    return common.run(BUNDLE, event, context, respond)


def revoke_older_sessions_policy(now: _dt.datetime) -> str:
    """Denies every action to temporary credentials issued before `now`."""
    issued_before = now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
        }],
    })


def respond(finding: common.Finding, context, log: common.Log) -> dict:
    dry_run = common.env_bool("DRY_RUN", False)
    exception_tag = common.env_str("EXCEPTION_TAG", "guardform:no-disable")
    deadline = common.deadline(context, reserve_seconds=5.0)
    details = finding.access_key_details
    key_id = str(details.get("accessKeyId") or "")
    user_type = str(details.get("userType") or "")
    user_name = details.get("userName")
    result: dict[str, Any] = {"finding_id": finding.id, "type": finding.type, "access_key_id": key_id, "user_type": user_type, "user_name": user_name, "dry_run": dry_run}
    prefix = "DRY RUN: " if dry_run else ""

    def finish(outcome: str, headline: str, lines: list[str] | None = None) -> dict:
        result["outcome"] = outcome
        result["slack"] = slack.notify(log, slack.finding_message(finding, prefix + headline, lines), deadline=deadline + 4.0)
        return result

    def skip(outcome: str, reason: str) -> dict:
        result["reason"] = reason
        log.info("credentials not changed", reason=reason)
        return finish(outcome, f"Credentials in GuardDuty finding {slack.escape(finding.type)} were *not changed*: {slack.escape(reason)}.")

    if finding.is_sample:
        return skip("sample-finding", "this is a sample finding made by CreateSampleFindings")
    if not key_id:
        return skip("no-access-key", "the finding names no access key")
    if not (key_id.startswith("AKIA") or key_id.startswith("ASIA")):
        return skip("unrecognized-key", f"{key_id} is neither a long-term (AKIA) nor a temporary (ASIA) access key id")
    if user_type == "Root":
        return skip("root", "these are the account's root user credentials; sign in as root to rotate them and review the account")
    try:
        session = common.aws_session(finding, context, log)
    except common.NotActionable as reason:
        return skip("not-actionable", str(reason))
    iam = session.client("iam")
    steps = common.Steps(dry_run, log)

    if key_id.startswith("AKIA"):
        if user_type not in ("IAMUser", ""):
            return skip("unsupported-principal", f"long-term key {key_id} belongs to a {user_type}, not an IAM user")
        user = user_name or _key_owner(iam, key_id)
        if not user:
            return skip("key-not-found", f"no IAM user in account {finding.account_id} owns access key {key_id}")
        record = _get_user(iam, user)
        if record is None:
            return skip("user-not-found", f"no IAM user named {user} in account {finding.account_id}")
        if _excepted(record, exception_tag):
            return skip("excepted", f"IAM user {user} carries the exception tag {exception_tag}")
        status = _key_status(iam, user, key_id)
        if status is None:
            return skip("key-not-found", f"IAM user {user} has no access key {key_id} (already deleted?)")
        if status == "Inactive":
            log.info("access key already inactive", user=user)
            return finish("already-inactive", f"Access key {key_id} of IAM user {slack.escape(user)} was already inactive.")
        steps.write(
            f"deactivate access key {key_id} of IAM user {user}",
            lambda: iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive"),
        )
        result["steps"] = steps.done
        verb = "would deactivate" if dry_run else "deactivated"
        return finish("dry-run" if dry_run else "key-deactivated", f"guardform {verb} access key {key_id} of IAM user {slack.escape(user)} (GuardDuty {slack.escape(finding.type)}).")

    now = _dt.datetime.now(_dt.timezone.utc)
    policy = revoke_older_sessions_policy(now)
    if user_type == "AssumedRole":
        role = _find_role(iam, user_name, str(details.get("principalId") or ""))
        if role is None:
            return skip("role-not-found", f"no role named {user_name or '?'} (principal {details.get('principalId') or '?'}) in account {finding.account_id}")
        role_name = role["RoleName"]
        if role.get("Path", "").startswith("/aws-service-role/"):
            return skip("service-linked-role", f"{role_name} is a service-linked role, whose sessions cannot be revoked")
        if _is_own_role(session, role_name, finding.account_id):
            return skip("own-role", f"{role_name} is the role this function acts with; revoking its sessions would stop this responder")
        if _excepted(role, exception_tag):
            return skip("excepted", f"role {role_name} carries the exception tag {exception_tag}")
        steps.write(
            f"revoke the sessions of role {role_name} issued before {now:%Y-%m-%dT%H:%M:%SZ} (inline policy {ROLE_POLICY_NAME})",
            lambda: iam.put_role_policy(RoleName=role_name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=policy),
        )
        result.update({"role_name": role_name, "steps": steps.done})
        verb = "would revoke" if dry_run else "revoked"
        return finish("dry-run" if dry_run else "role-sessions-revoked", f"guardform {verb} every session of role {slack.escape(role_name)} issued before {now:%Y-%m-%d %H:%M:%S} UTC (temporary key {key_id}, GuardDuty {slack.escape(finding.type)}).")
    if user_type == "IAMUser" and user_name:
        record = _get_user(iam, user_name)
        if record is None:
            return skip("user-not-found", f"no IAM user named {user_name} in account {finding.account_id}")
        if _excepted(record, exception_tag):
            return skip("excepted", f"IAM user {user_name} carries the exception tag {exception_tag}")
        steps.write(
            f"revoke the temporary credentials of IAM user {user_name} issued before {now:%Y-%m-%dT%H:%M:%SZ} (inline policy {USER_POLICY_NAME})",
            lambda: iam.put_user_policy(UserName=user_name, PolicyName=USER_POLICY_NAME, PolicyDocument=policy),
        )
        result["steps"] = steps.done
        verb = "would revoke" if dry_run else "revoked"
        return finish("dry-run" if dry_run else "user-sessions-revoked", f"guardform {verb} the temporary credentials of IAM user {slack.escape(user_name)} issued before {now:%Y-%m-%d %H:%M:%S} UTC (key {key_id}).")
    return skip("unsupported-principal", f"temporary key {key_id} belongs to a {user_type or 'principal of unknown type'}, which guardform cannot revoke")


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _get_user(iam, name: str) -> dict | None:
    try:
        return iam.get_user(UserName=name)["User"]
    except ClientError as error:
        if _code(error) == "NoSuchEntity":
            return None
        raise


def _key_owner(iam, key_id: str) -> str | None:
    try:
        return iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
    except ClientError as error:
        if _code(error) in ("NoSuchEntity", "AccessDenied"):
            return None
        raise


def _key_status(iam, user: str, key_id: str) -> str | None:
    try:
        pages = iam.get_paginator("list_access_keys").paginate(UserName=user)
        for page in pages:
            for key in page["AccessKeyMetadata"]:
                if key["AccessKeyId"] == key_id:
                    return key["Status"]
    except ClientError as error:
        if _code(error) == "NoSuchEntity":
            return None
        raise
    return None


def _find_role(iam, name: str | None, principal_id: str) -> dict | None:
    """The role by name (GuardDuty puts the role name in userName for AssumedRole), else by the
    role id before the colon of the principal id (`AROA…:session`)."""
    if name:
        try:
            return iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if _code(error) != "NoSuchEntity":
                raise
    role_id = principal_id.split(":", 1)[0]
    if role_id.startswith("AROA"):
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role.get("RoleId") == role_id:
                    return iam.get_role(RoleName=role["RoleName"])["Role"]
    return None


def _is_own_role(session, role_name: str, account_id: str | None) -> bool:
    try:
        arn = session.client("sts").get_caller_identity()["Arn"]
    except Exception:  # noqa: BLE001 - unknown identity: do not block on it
        return False
    # arn:aws:sts::123456789012:assumed-role/<role>/<session>
    parts = arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("assumed-role/"):
        return False
    return parts[4] == account_id and parts[5].split("/")[1] == role_name


def _excepted(principal: dict, exception_tag: str | None) -> bool:
    if not exception_tag:
        return False
    key, sep, value = exception_tag.partition("=")
    tags = {t["Key"]: t.get("Value", "") for t in principal.get("Tags") or []}
    return key in tags and (not sep or tags[key] == value)
