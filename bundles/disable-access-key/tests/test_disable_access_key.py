"""disable-access-key against moto's IAM, with the real IAMUser/MaliciousIPCaller finding whose
sample access key details are replaced by credentials that exist in moto."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from conftest import IAM_MALICIOUS_IP, S3_MALICIOUS_IP, load_finding, load_handler, put_secret

ACCOUNT = "973743533182"  # the fixture's account


@pytest.fixture
def handler():
    return load_handler("disable-access-key")


@pytest.fixture
def context():
    from conftest import LambdaContext

    return LambdaContext(account=ACCOUNT)


@pytest.fixture
def iam(aws, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    return boto3.client("iam")


def finding_with(details: dict) -> dict:
    """The real finding, made non-sample, naming `details` as its access key."""
    finding = load_finding(IAM_MALICIOUS_IP)
    finding["resource"]["accessKeyDetails"] = details
    finding["service"]["additionalInfo"].pop("sample")
    return finding


def key_status(iam, user, key_id):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}[key_id]


def test_iam_user_long_term_key_is_deactivated(handler, iam, slack_server, context, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL_SECRET_ARN", put_secret("SLACK_WEBHOOK_URL", slack_server.webhook_url))
    iam.create_user(UserName="alice")
    stolen = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    other = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    assert stolen.startswith("AKIA")

    result = handler.lambda_handler(finding_with({"accessKeyId": stolen, "principalId": "AIDAEXAMPLE", "userName": "alice", "userType": "IAMUser"}), context)

    assert result["outcome"] == "key-deactivated"
    assert key_status(iam, "alice", stolen) == "Inactive"
    assert key_status(iam, "alice", other) == "Active"
    [message] = slack_server.messages()
    assert f"deactivated access key {stolen} of IAM user alice" in message["text"]
    again = handler.lambda_handler(finding_with({"accessKeyId": stolen, "userName": "alice", "userType": "IAMUser"}), context)
    assert again["outcome"] == "already-inactive"


def test_key_owner_is_looked_up_when_the_finding_has_no_user_name(handler, iam, context):
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    result = handler.lambda_handler(finding_with({"accessKeyId": key, "userType": "IAMUser"}), context)
    assert result["outcome"] == "key-deactivated" and key_status(iam, "bob", key) == "Inactive"


def test_role_session_is_revoked_with_a_token_issue_time_deny(handler, iam, context):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="web-server", AssumeRolePolicyDocument=trust)["Role"]
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    result = handler.lambda_handler(finding_with({
        "accessKeyId": "ASIAEXAMPLEEXAMPLE12",
        "principalId": f"{role['RoleId']}:i-0123456789abcdef0",
        "userName": "web-server",
        "userType": "AssumedRole",
    }), context)

    after = dt.datetime.now(dt.timezone.utc)
    assert result["outcome"] == "role-sessions-revoked" and result["role_name"] == "web-server"
    assert iam.list_role_policies(RoleName="web-server")["PolicyNames"] == ["AWSRevokeOlderSessions"]
    document = iam.get_role_policy(RoleName="web-server", PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    [statement] = document["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == ["*"] and statement["Resource"] == ["*"]
    issued_before = dt.datetime.strptime(statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert before <= issued_before <= after


def test_role_is_found_by_its_id_when_the_name_is_missing(handler, iam, context):
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]
    result = handler.lambda_handler(finding_with({"accessKeyId": "ASIAEXAMPLEEXAMPLE34", "principalId": f"{role['RoleId']}:job", "userType": "AssumedRole"}), context)
    assert result["outcome"] == "role-sessions-revoked" and result["role_name"] == "batch"


def test_iam_user_session_is_revoked_on_the_user(handler, iam, context):
    iam.create_user(UserName="carol")
    result = handler.lambda_handler(finding_with({"accessKeyId": "ASIAEXAMPLEEXAMPLE56", "principalId": "AIDACAROL", "userName": "carol", "userType": "IAMUser"}), context)
    assert result["outcome"] == "user-sessions-revoked"
    assert iam.list_user_policies(UserName="carol")["PolicyNames"] == ["guardform-revoke-older-sessions"]


def test_dry_run_changes_nothing(handler, iam, context, monkeypatch):
    monkeypatch.setenv("DRY_RUN", "true")
    iam.create_user(UserName="dave")
    key = iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]
    iam.create_role(RoleName="app", AssumeRolePolicyDocument="{}")
    result = handler.lambda_handler(finding_with({"accessKeyId": key, "userName": "dave", "userType": "IAMUser"}), context)
    assert result["outcome"] == "dry-run" and result["steps"] == [f"would deactivate access key {key} of IAM user dave"]
    assert key_status(iam, "dave", key) == "Active"
    result = handler.lambda_handler(finding_with({"accessKeyId": "ASIAEXAMPLEEXAMPLE78", "userName": "app", "userType": "AssumedRole"}), context)
    assert result["outcome"] == "dry-run" and result["steps"][0].startswith("would revoke the sessions of role app")
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == []


def test_exception_tag_protects_users_and_roles(handler, iam, context):
    iam.create_user(UserName="breakglass", Tags=[{"Key": "guardform:no-disable", "Value": "true"}])
    key = iam.create_access_key(UserName="breakglass")["AccessKey"]["AccessKeyId"]
    iam.create_role(RoleName="admin", AssumeRolePolicyDocument="{}", Tags=[{"Key": "guardform:no-disable", "Value": ""}])
    assert handler.lambda_handler(finding_with({"accessKeyId": key, "userName": "breakglass", "userType": "IAMUser"}), context)["outcome"] == "excepted"
    assert key_status(iam, "breakglass", key) == "Active"
    assert handler.lambda_handler(finding_with({"accessKeyId": "ASIAEXAMPLEEXAMPLE90", "userName": "admin", "userType": "AssumedRole"}), context)["outcome"] == "excepted"
    assert iam.list_role_policies(RoleName="admin")["PolicyNames"] == []


@pytest.mark.parametrize(
    ("details", "outcome"),
    [
        ({"accessKeyId": "AKIAEXAMPLEROOTKEY00", "userType": "Root", "userName": "Root"}, "root"),
        ({"accessKeyId": "ASIAEXAMPLEFEDERATED", "userType": "FederatedUser", "userName": "x"}, "unsupported-principal"),
        ({"accessKeyId": "GeneratedFindingAccessKeyId", "userType": "IAMUser"}, "unrecognized-key"),
        ({}, "no-access-key"),
        ({"accessKeyId": "AKIAEXAMPLENOSUCHKEY", "userName": "nobody", "userType": "IAMUser"}, "user-not-found"),
        ({"accessKeyId": "ASIAEXAMPLENOSUCHROL", "userName": "ghost", "userType": "AssumedRole"}, "role-not-found"),
    ],
)
def test_credentials_guardform_cannot_or_must_not_change_are_only_reported(handler, iam, context, details, outcome):
    result = handler.lambda_handler(finding_with(details), context)
    assert result["outcome"] == outcome and result["reason"]


def test_sample_findings_change_nothing(handler, iam, context):
    assert handler.lambda_handler(load_finding(IAM_MALICIOUS_IP), context)["outcome"] == "sample-finding"
    assert handler.lambda_handler(load_finding(S3_MALICIOUS_IP), context)["outcome"] == "sample-finding"


def test_findings_from_another_account_need_the_cross_account_role(handler, iam, context):
    finding = finding_with({"accessKeyId": "AKIAEXAMPLEEXAMPLE11", "userName": "erin", "userType": "IAMUser"})
    finding["accountId"] = "444444444444"
    result = handler.lambda_handler(finding, context)
    assert result["outcome"] == "not-actionable" and "CROSS_ACCOUNT_ROLE_NAME" in result["reason"]


def test_the_role_this_function_runs_as_is_never_revoked(handler, iam, context, monkeypatch):
    iam.create_role(RoleName="guardform-disable-access-key", AssumeRolePolicyDocument="{}")
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/guardform-disable-access-key", RoleSessionName="lambda"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    result = handler.lambda_handler(finding_with({"accessKeyId": credentials["AccessKeyId"], "userName": "guardform-disable-access-key", "userType": "AssumedRole"}), context)
    assert result["outcome"] == "own-role"
    assert iam.list_role_policies(RoleName="guardform-disable-access-key")["PolicyNames"] == []
