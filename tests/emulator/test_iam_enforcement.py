"""IAM enforcement (POST /moto-api/reset-auth "0" after seeding) as AWS does it: SigV4 checked on
the request as sent, resource-scoped statements matched against the Service Authorization
Reference's ARNs, Deny over Allow, S3 HeadBucket as s3:ListBucket, AssumeRole needing both the
caller's permission and the role's trust policy, the ListMembers fast path stepping aside, and
AccessDenied errors naming action, principal and resource in each protocol's shape."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import MANAGEMENT, _strict_wire_check, set_enforcement

SEC = "222222222222"


@pytest.fixture
def enforce(endpoint):
    """Switches enforcement on when called; always off again afterwards."""
    yield lambda: set_enforcement(endpoint, "0")
    set_enforcement(endpoint, "inf")


def as_(endpoint: str, service: str, creds: dict, region: str = "us-east-1"):
    client = boto3.client(service, endpoint_url=endpoint, region_name=region,
                          config=Config(parameter_validation=False, retries={"max_attempts": 1}),
                          **creds)
    if service in ("guardduty", "account"):
        client.meta.events.register("before-parse", _strict_wire_check)
    return client


def make_user(clients, name: str, statements: list[dict], account: str = MANAGEMENT) -> dict:
    iam = clients("iam", account)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


NOTHING = [allow("sts:GetCallerIdentity")]  # a policy that grants nothing else


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def denied(principal: str, action: str, resource: str, explicit: bool = False) -> str:
    head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    if explicit:
        return head + " with an explicit deny in an identity-based policy"
    return head + f" because no identity-based policy allows the {action} action"


def user_arn(name: str, account: str = MANAGEMENT) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def zipped() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return 1\n")
    return buf.getvalue()


# 1. Signature ----------------------------------------------------------------------------


def test_scoped_detector_policy_lists_and_reads_but_cannot_update(clients, endpoint, enforce):
    # GET /detector and GET /detector/{id}: no query string, no body (moto 5.2.5 refused both
    # with SignatureDoesNotMatch), authorized against detector ARNs.
    det = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    creds = make_user(clients, "reader", [allow(["guardduty:ListDetectors", "guardduty:GetDetector"],
                                                "arn:aws:guardduty:*:*:detector/*")])
    enforce()
    gd = as_(endpoint, "guardduty", creds)
    assert gd.list_detectors()["DetectorIds"] == [det]
    assert gd.get_detector(DetectorId=det)["Status"] == "ENABLED"
    with pytest.raises(ClientError) as e:
        gd.update_detector(DetectorId=det, FindingPublishingFrequency="ONE_HOUR")
    assert err(e) == ("AccessDeniedException", denied(
        user_arn("reader"), "guardduty:UpdateDetector",
        f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}"), 403)
    # Another Region's detector ARN matches the same wildcard.
    other = as_(endpoint, "guardduty", creds, region="eu-west-1")
    assert other.list_detectors()["DetectorIds"] == []


def _tamper(client, fn) -> None:
    client.meta.events.register("before-send", lambda request, **_: fn(request))


def _swap_body(old: str, new: str):
    def fn(request) -> None:
        body = request.body
        if isinstance(body, bytes):
            request.body = body.replace(old.encode(), new.encode())
        else:
            request.body = body.replace(old, new)
    return fn


def test_a_wrong_signature_still_fails_in_every_protocol(clients, endpoint, enforce):
    det = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    clients("s3").create_bucket(Bucket="guardform-sig")
    creds = make_user(clients, "admin", [allow("*")])
    wrong = dict(creds, aws_secret_access_key="not-the-secret")
    enforce()

    # Correctly signed: GET without query/body, GET with a query, POST JSON, form POST, S3.
    gd = as_(endpoint, "guardduty", creds)
    assert gd.list_detectors()["DetectorIds"] == [det]
    assert gd.list_members(DetectorId=det, MaxResults=5)["Members"] == []
    gd.update_detector(DetectorId=det, Enable=True)
    assert as_(endpoint, "iam", creds).get_user(UserName="admin")["User"]["UserName"] == "admin"
    assert as_(endpoint, "s3", creds).list_objects_v2(Bucket="guardform-sig")["KeyCount"] == 0
    assert as_(endpoint, "lambda", creds).list_functions()["Functions"] == []

    cases = [
        (as_(endpoint, "guardduty", wrong), lambda c: c.list_detectors(), "InvalidSignatureException"),
        (as_(endpoint, "iam", wrong), lambda c: c.list_users(), "SignatureDoesNotMatch"),
        (as_(endpoint, "s3", wrong), lambda c: c.list_objects_v2(Bucket="guardform-sig"),
         "SignatureDoesNotMatch"),
        (as_(endpoint, "events", wrong), lambda c: c.list_rules(), "InvalidSignatureException"),
    ]
    for client, call, code in cases:
        with pytest.raises(ClientError) as e:
            call(client)
        assert err(e)[0] == code and err(e)[2] == 403

    # Right key, but the request changed after signing: body, query string, path.
    body = as_(endpoint, "guardduty", creds)
    _tamper(body, _swap_body("true", "tru "))
    with pytest.raises(ClientError) as e:
        body.update_detector(DetectorId=det, Enable=True)
    assert err(e)[0] == "InvalidSignatureException"
    query = as_(endpoint, "guardduty", creds)
    _tamper(query, lambda r: setattr(r, "url", r.url.replace("maxResults=5", "maxResults=6")))
    with pytest.raises(ClientError) as e:
        query.list_members(DetectorId=det, MaxResults=5)
    assert err(e)[0] == "InvalidSignatureException"
    form = as_(endpoint, "iam", creds)
    _tamper(form, _swap_body("ListUsers", "ListRoles"))
    with pytest.raises(ClientError) as e:
        form.list_users()
    assert err(e)[0] == "SignatureDoesNotMatch"

    # An access key moto never issued.
    with pytest.raises(ClientError) as e:
        as_(endpoint, "guardduty", {"aws_access_key_id": "testing",
                                    "aws_secret_access_key": "testing"}).list_detectors()
    assert err(e) == ("UnrecognizedClientException",
                      "The security token included in the request is invalid.", 403)


# 2. Resources and policy evaluation ------------------------------------------------------


def test_explicit_deny_wins_over_allow(clients, endpoint, enforce):
    det = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    creds = make_user(clients, "ops", [
        allow("guardduty:*"),
        {"Effect": "Deny", "Action": "guardduty:Update*", "Resource": "arn:aws:guardduty:*:*:detector/*"},
    ])
    enforce()
    gd = as_(endpoint, "guardduty", creds)
    assert gd.get_detector(DetectorId=det)["Status"] == "ENABLED"
    with pytest.raises(ClientError) as e:
        gd.update_detector(DetectorId=det, Enable=False)
    assert err(e) == ("AccessDeniedException", denied(
        user_arn("ops"), "guardduty:UpdateDetector",
        f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}", explicit=True), 403)
    assert gd.get_detector(DetectorId=det)["Status"] == "ENABLED"


def test_guardduty_sub_resources_and_account_level_operations(clients, endpoint, enforce):
    gd0 = clients("guardduty")
    det = gd0.create_detector(Enable=True)["DetectorId"]
    gd0.create_filter(DetectorId=det, Name="guardform-archive", Action="ARCHIVE",
                      FindingCriteria={"Criterion": {"severity": {"Gte": 4}}})
    gd0.create_filter(DetectorId=det, Name="other-filter", Action="NOOP",
                      FindingCriteria={"Criterion": {"severity": {"Gte": 4}}})
    creds = make_user(clients, "filters", [
        allow(["guardduty:GetFilter", "guardduty:CreateFilter"],
              "arn:aws:guardduty:*:*:detector/*/filter/guardform-*"),
        allow("guardduty:ListFilters", "arn:aws:guardduty:*:*:detector/*"),
        allow("guardduty:ListOrganizationAdminAccounts", "arn:aws:guardduty:*:*:detector/*"),
    ])
    enforce()
    gd = as_(endpoint, "guardduty", creds)
    assert gd.get_filter(DetectorId=det, FilterName="guardform-archive")["Action"] == "ARCHIVE"
    assert sorted(gd.list_filters(DetectorId=det)["FilterNames"]) == ["guardform-archive", "other-filter"]
    with pytest.raises(ClientError) as e:
        gd.get_filter(DetectorId=det, FilterName="other-filter")
    assert err(e)[1] == denied(user_arn("filters"), "guardduty:GetFilter",
                               f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}/filter/other-filter")
    # CreateFilter is authorized on the filter it creates (name from the body).
    gd.create_filter(DetectorId=det, Name="guardform-new", Action="NOOP",
                     FindingCriteria={"Criterion": {"severity": {"Gte": 4}}})
    with pytest.raises(ClientError) as e:
        gd.create_filter(DetectorId=det, Name="nope", Action="NOOP",
                         FindingCriteria={"Criterion": {"severity": {"Gte": 4}}})
    assert "detector/" + det + "/filter/nope because" in err(e)[1]
    # ListOrganizationAdminAccounts has no resource type: "*", which a detector ARN cannot match.
    with pytest.raises(ClientError) as e:
        gd.list_organization_admin_accounts()
    assert err(e)[1] == denied(user_arn("filters"), "guardduty:ListOrganizationAdminAccounts", "*")


def test_eventbridge_rule_scoped_put_rule(clients, endpoint, enforce):
    creds = make_user(clients, "rules", [
        allow(["events:PutRule", "events:DescribeRule", "events:PutTargets"],
              "arn:aws:events:*:*:rule/guardform-*"),
    ])
    enforce()
    ev = as_(endpoint, "events", creds)
    arn = ev.put_rule(Name="guardform-findings", EventPattern=json.dumps({"source": ["aws.guardduty"]}))["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{MANAGEMENT}:rule/guardform-findings"
    assert ev.describe_rule(Name="guardform-findings")["Arn"] == arn
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="someone-elses-rule", EventPattern=json.dumps({"source": ["aws.guardduty"]}))
    assert err(e) == ("AccessDeniedException", denied(
        user_arn("rules"), "events:PutRule",
        f"arn:aws:events:us-east-1:{MANAGEMENT}:rule/someone-elses-rule"), 403)
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "AccessDeniedException"
    # ListRules has no resource type.
    with pytest.raises(ClientError) as e:
        ev.list_rules()
    assert err(e)[1] == denied(user_arn("rules"), "events:ListRules", "*")


def test_lambda_get_function_scoped_by_name(clients, endpoint, enforce):
    lam = clients("lambda")
    clients("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    for name in ("guardform-forwarder", "billing"):
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler",
                            Role=f"arn:aws:iam::{MANAGEMENT}:role/fn-role", Code={"ZipFile": zipped()})
    creds = make_user(clients, "fn", [allow("lambda:GetFunction", "arn:aws:lambda:*:*:function:guardform-*")])
    enforce()
    fn = as_(endpoint, "lambda", creds)
    cfg = fn.get_function(FunctionName="guardform-forwarder")["Configuration"]
    assert cfg["FunctionArn"] == f"arn:aws:lambda:us-east-1:{MANAGEMENT}:function:guardform-forwarder"
    # The full ARN names the same function.
    fn.get_function(FunctionName=cfg["FunctionArn"])
    with pytest.raises(ClientError) as e:
        fn.get_function(FunctionName="billing")
    assert err(e) == ("AccessDeniedException", denied(
        user_arn("fn"), "lambda:GetFunction",
        f"arn:aws:lambda:us-east-1:{MANAGEMENT}:function:billing"), 403)
    with pytest.raises(ClientError) as e:
        fn.list_functions()
    assert err(e)[1] == denied(user_arn("fn"), "lambda:ListFunctions", "*")


def test_not_resource_question_mark_and_unmet_conditions(clients, endpoint, enforce):
    lam = clients("lambda")
    clients("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    for name in ("guardform-fn", "guardform-fnx", "other"):
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler",
                            Role=f"arn:aws:iam::{MANAGEMENT}:role/fn-role", Code={"ZipFile": zipped()})
    det = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    question = make_user(clients, "question", [allow("lambda:GetFunction", "arn:aws:lambda:*:*:function:guardform-f?")])
    notres = make_user(clients, "notres", [
        allow("lambda:*"),
        {"Effect": "Deny", "Action": "lambda:GetFunction", "NotResource": "arn:aws:lambda:*:*:function:guardform-*"},
    ])
    # An Allow whose condition does not hold simply does not apply (moto 5.2.5 made it a Deny).
    regional = make_user(clients, "regional", [
        allow("guardduty:*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
        allow("guardduty:ListDetectors"),
    ])
    enforce()
    q = as_(endpoint, "lambda", question)
    q.get_function(FunctionName="guardform-fn")
    with pytest.raises(ClientError) as e:
        q.get_function(FunctionName="guardform-fnx")
    assert err(e)[0] == "AccessDeniedException"

    n = as_(endpoint, "lambda", notres)
    n.get_function(FunctionName="guardform-fnx")
    with pytest.raises(ClientError) as e:
        n.get_function(FunctionName="other")
    assert err(e)[1] == denied(user_arn("notres"), "lambda:GetFunction",
                               f"arn:aws:lambda:us-east-1:{MANAGEMENT}:function:other", explicit=True)

    us = as_(endpoint, "guardduty", regional)
    assert us.list_detectors()["DetectorIds"] == [det]
    with pytest.raises(ClientError) as e:
        us.get_detector(DetectorId=det)
    assert err(e)[0] == "AccessDeniedException"
    assert as_(endpoint, "guardduty", regional, region="eu-west-1").list_detectors()["DetectorIds"] == []


def test_documented_service_linked_role_policy(clients, endpoint, enforce):
    # The policy AWS documents for GuardDuty: the role's ARN plus iam:AWSServiceName.
    creds = make_user(clients, "slr", [allow(
        "iam:CreateServiceLinkedRole",
        "arn:aws:iam::*:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
        Condition={"StringLike": {"iam:AWSServiceName": "guardduty.amazonaws.com"}})])
    enforce()
    iam = as_(endpoint, "iam", creds)
    role = iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAmazonGuardDuty"
    with pytest.raises(ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="malware-protection.guardduty.amazonaws.com")
    assert err(e) == ("AccessDenied", denied(
        user_arn("slr"), "iam:CreateServiceLinkedRole",
        f"arn:aws:iam::{MANAGEMENT}:role/aws-service-role/malware-protection.guardduty.amazonaws.com/"
        "AWSServiceRoleForAmazonGuardDutyMalwareProtection"), 403)


def test_kms_sqs_and_iam_resources(clients, endpoint, enforce):
    kms0 = clients("kms", SEC)
    key = kms0.create_key(Description="exports")["KeyMetadata"]
    kms0.create_alias(AliasName="alias/guardform-findings", TargetKeyId=key["KeyId"])
    other = kms0.create_key(Description="other")["KeyMetadata"]
    clients("iam", SEC).create_role(RoleName="guardform-existing", Path="/guardform/",
                                    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    role = _role(clients, SEC, "Worker", f"arn:aws:iam::{MANAGEMENT}:root", [
        allow(["kms:DescribeKey", "kms:GetKeyPolicy"],
              [f"arn:aws:kms:*:{SEC}:alias/guardform-*", f"arn:aws:kms:*:{SEC}:key/{key['KeyId']}"]),
        allow(["sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"], f"arn:aws:sqs:*:{SEC}:guardform-*"),
        allow(["iam:GetRole", "iam:CreateRole"], f"arn:aws:iam::{SEC}:role/guardform/*"),
        allow(["iam:CreatePolicy"], f"arn:aws:iam::{SEC}:policy/guardform/*"),
    ])
    caller = make_user(clients, "worker", [allow("sts:AssumeRole", role)])
    enforce()
    c = as_(endpoint, "sts", caller).assume_role(RoleArn=role, RoleSessionName="guardform")["Credentials"]
    session = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
               "aws_session_token": c["SessionToken"]}
    principal = f"arn:aws:sts::{SEC}:assumed-role/Worker/guardform"
    kms = as_(endpoint, "kms", session)
    # An alias is authorized as the key it names.
    assert kms.describe_key(KeyId="alias/guardform-findings")["KeyMetadata"]["KeyId"] == key["KeyId"]
    kms.get_key_policy(KeyId=key["Arn"], PolicyName="default")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=other["KeyId"])
    assert err(e) == ("AccessDeniedException", denied(principal, "kms:DescribeKey", other["Arn"]), 403)
    # An alias naming no key: its own ARN, so the caller learns it is missing.
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/guardform-missing")
    assert err(e)[0] == "NotFoundException"

    sqs = as_(endpoint, "sqs", session)
    url = sqs.create_queue(QueueName="guardform-dlq")["QueueUrl"]
    assert sqs.get_queue_url(QueueName="guardform-dlq")["QueueUrl"] == url
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="other-queue")
    assert err(e)[1] == denied(principal, "sqs:CreateQueue", f"arn:aws:sqs:us-east-1:{SEC}:other-queue")

    iam = as_(endpoint, "iam", session)
    assert iam.get_role(RoleName="guardform-existing")["Role"]["Path"] == "/guardform/"
    iam.create_role(RoleName="guardform-new", Path="/guardform/",
                    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    # A role that does not exist has no path: a path-scoped statement does not cover it.
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="guardform-missing")
    assert err(e) == ("AccessDenied", denied(principal, "iam:GetRole",
                                             f"arn:aws:iam::{SEC}:role/guardform-missing"), 403)
    # CreatePolicy acts on the policy it creates (its path and name).
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    iam.create_policy(PolicyName="guardform-boundary", Path="/guardform/", PolicyDocument=doc)
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="other", Path="/", PolicyDocument=doc)
    assert err(e)[1] == denied(principal, "iam:CreatePolicy", f"arn:aws:iam::{SEC}:policy/other")


# 3. S3 actions ---------------------------------------------------------------------------


def test_s3_head_bucket_needs_only_list_bucket(clients, endpoint, enforce):
    s3 = clients("s3")
    s3.create_bucket(Bucket="guardform-exports")
    s3.put_object(Bucket="guardform-exports", Key="a.txt", Body=b"a")
    lister = make_user(clients, "lister", [allow("s3:ListBucket", "arn:aws:s3:::guardform-exports")])
    enforce()
    c = as_(endpoint, "s3", lister)
    c.head_bucket(Bucket="guardform-exports")
    assert [o["Key"] for o in c.list_objects_v2(Bucket="guardform-exports")["Contents"]] == ["a.txt"]
    with pytest.raises(ClientError) as e:
        c.get_bucket_encryption(Bucket="guardform-exports")
    assert err(e) == ("AccessDenied", denied(
        user_arn("lister"), "s3:GetEncryptionConfiguration", '"arn:aws:s3:::guardform-exports"'), 403)
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket="guardform-exports", Key="a.txt")
    assert err(e)[1] == denied(user_arn("lister"), "s3:GetObject", '"arn:aws:s3:::guardform-exports/a.txt"')


def test_s3_calls_map_to_the_documented_actions(clients, endpoint, enforce):
    bucket = "guardform-findings"
    arn = f"arn:aws:s3:::{bucket}"
    actions = ["s3:CreateBucket", "s3:ListBucket", "s3:GetEncryptionConfiguration",
               "s3:PutEncryptionConfiguration", "s3:GetBucketPublicAccessBlock",
               "s3:PutBucketPublicAccessBlock", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
               "s3:GetBucketTagging", "s3:PutBucketTagging"]
    creds = make_user(clients, "exporter", [
        allow(actions, arn), allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], arn + "/*")])
    enforce()
    s3 = as_(endpoint, "s3", creds)
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, arn + "/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "guardform"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "owner", "Value": "guardform"}]
    s3.put_object(Bucket=bucket, Key="exports/x.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="exports/x.json")["Body"].read() == b"{}"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    s3.delete_object(Bucket=bucket, Key="exports/x.json")
    s3.put_object(Bucket=bucket, Key="exports/y.json", Body=b"{}")
    # DeleteObjects: s3:DeleteObject on each object.
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "exports/y.json"}]})
    assert [d["Key"] for d in out["Deleted"]] == ["exports/y.json"] and not out.get("Errors")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_acl(Bucket=bucket)
    assert err(e)[1] == denied(user_arn("exporter"), "s3:GetBucketAcl", f'"{arn}"')


def test_s3_action_table():
    import iam_ext

    cases = [
        ("BUCKET", "HEAD", {}, "ListBucket"),
        ("BUCKET", "GET", {"list-type": ["2"]}, "ListBucket"),
        ("BUCKET", "GET", {"encryption": [""]}, "GetEncryptionConfiguration"),
        ("BUCKET", "PUT", {"encryption": [""]}, "PutEncryptionConfiguration"),
        ("BUCKET", "DELETE", {"encryption": [""]}, "PutEncryptionConfiguration"),
        ("BUCKET", "GET", {"publicAccessBlock": [""]}, "GetBucketPublicAccessBlock"),
        ("BUCKET", "PUT", {"publicAccessBlock": [""]}, "PutBucketPublicAccessBlock"),
        ("BUCKET", "DELETE", {"publicAccessBlock": [""]}, "PutBucketPublicAccessBlock"),
        ("BUCKET", "GET", {"policy": [""]}, "GetBucketPolicy"),
        ("BUCKET", "GET", {"policyStatus": [""]}, "GetBucketPolicyStatus"),
        ("BUCKET", "PUT", {"tagging": [""]}, "PutBucketTagging"),
        ("BUCKET", "PUT", {}, "CreateBucket"),
        ("KEY", "GET", {}, "GetObject"),
        ("KEY", "GET", {"versionId": ["1"]}, "GetObjectVersion"),
        ("KEY", "GET", {"tagging": [""], "versionId": ["1"]}, "GetObjectVersionTagging"),
        ("KEY", "HEAD", {}, "GetObject"),
        ("KEY", "PUT", {}, "PutObject"),
        ("KEY", "DELETE", {}, "DeleteObject"),
        ("KEY", "DELETE", {"tagging": [""]}, "DeleteObjectTagging"),
    ]
    for kind, method, query, action in cases:
        assert iam_ext.s3_action(kind, method, query) == action, (kind, method, query)


# 4. The extension's own operations, and the fast path -------------------------------------


def test_extension_operations_are_enforced(clients, endpoint, enforce, org):
    clients("guardduty").create_detector(Enable=True)
    det = clients("guardduty").list_detectors()["DetectorIds"][0]
    clients("events").put_rule(Name="guardform-r", EventPattern=json.dumps({"source": ["aws.guardduty"]}))
    creds = make_user(clients, "none", NOTHING)
    some = make_user(clients, "some", [allow(["account:ListRegions", "guardduty:ListCoverage"])])
    enforce()
    gd = as_(endpoint, "guardduty", creds)
    calls = [
        (lambda: gd.list_coverage(DetectorId=det), "guardduty:ListCoverage",
         f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}"),                      # findings_ext
        (lambda: gd.enable_organization_admin_account(AdminAccountId=SEC),
         "guardduty:EnableOrganizationAdminAccount", "*"),                                   # guardduty_ext
        (lambda: gd.get_member_detectors(DetectorId=det, AccountIds=[SEC]),
         "guardduty:GetMemberDetectors", f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}"),
        (lambda: as_(endpoint, "account", creds).list_regions(), "account:ListRegions",
         f"arn:aws:account::{MANAGEMENT}:account"),                                          # account_ext
        (lambda: as_(endpoint, "events", creds).put_targets(
            Rule="guardform-r", Targets=[{"Id": "1", "Arn": f"arn:aws:sqs:us-east-1:{MANAGEMENT}:q"}]),
         "events:PutTargets", f"arn:aws:events:us-east-1:{MANAGEMENT}:rule/guardform-r"),   # events_ext
    ]
    for call, action, resource in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("AccessDeniedException", denied(user_arn("none"), action, resource), 403)
    assert as_(endpoint, "account", some).list_regions()["Regions"]
    assert as_(endpoint, "guardduty", some).list_coverage(DetectorId=det)["Resources"] == []
    assert clients("guardduty") is not None


def test_fast_path_steps_aside_when_enforcement_is_switched_on_at_run_time(clients, endpoint, enforce):
    det = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    reader = make_user(clients, "members", [allow(["guardduty:ListMembers", "guardduty:GetMemberDetectors"])])
    other = make_user(clients, "other", [allow("guardduty:GetDetector")])
    testing = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    # Enforcement off (the launcher started with it off): answered by the fast path.
    assert as_(endpoint, "guardduty", testing).list_members(DetectorId=det)["Members"] == []
    enforce()
    with pytest.raises(ClientError) as e:
        as_(endpoint, "guardduty", testing).list_members(DetectorId=det)
    assert err(e)[0] == "UnrecognizedClientException"
    gd = as_(endpoint, "guardduty", other)
    with pytest.raises(ClientError) as e:
        gd.list_members(DetectorId=det)
    assert err(e) == ("AccessDeniedException", denied(
        user_arn("other"), "guardduty:ListMembers",
        f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}"), 403)
    with pytest.raises(ClientError) as e:
        gd.get_member_detectors(DetectorId=det, AccountIds=[SEC])
    assert err(e)[0] == "AccessDeniedException"
    ok = as_(endpoint, "guardduty", reader)
    assert ok.list_members(DetectorId=det)["Members"] == []
    assert ok.get_member_detectors(DetectorId=det, AccountIds=[SEC])["UnprocessedAccounts"]
    # Switched off again at run time: the fast path answers unsigned-by-IAM keys again.
    set_enforcement(endpoint, "inf")
    assert as_(endpoint, "guardduty", testing).list_members(DetectorId=det)["Members"] == []


# 5. Error shapes -------------------------------------------------------------------------


def test_access_denied_shapes_per_protocol(clients, endpoint, enforce):
    det = clients("guardduty").create_detector(Enable=True)["DetectorId"]
    clients("s3").create_bucket(Bucket="guardform-shapes")
    creds = make_user(clients, "none", NOTHING)
    enforce()

    def raw(call):
        with pytest.raises(ClientError) as e:
            call()
        r = e.value.response
        return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["ResponseMetadata"]["HTTPHeaders"]

    code, status, headers = raw(lambda: as_(endpoint, "guardduty", creds).get_detector(DetectorId=det))
    assert (code, status, headers["x-amzn-errortype"]) == ("AccessDeniedException", 403, "AccessDeniedException")
    assert headers["content-type"] == "application/json"
    code, status, headers = raw(lambda: as_(endpoint, "lambda", creds).list_functions())
    assert (code, status, headers["x-amzn-errortype"]) == ("AccessDeniedException", 403, "AccessDeniedException")
    code, status, headers = raw(lambda: as_(endpoint, "events", creds).list_rules())
    assert (code, status, headers["content-type"]) == ("AccessDeniedException", 403, "application/x-amz-json-1.1")
    code, status, headers = raw(lambda: as_(endpoint, "s3", creds).list_objects_v2(Bucket="guardform-shapes"))
    assert (code, status) == ("AccessDenied", 403)
    assert "xml" in headers["content-type"]
    code, status, headers = raw(lambda: as_(endpoint, "iam", creds).list_roles())
    assert (code, status) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        as_(endpoint, "iam", creds).list_roles()
    assert err(e)[1] == denied(user_arn("none"), "iam:ListRoles", "*")


# 6. AssumeRole ---------------------------------------------------------------------------


def _role(clients, account: str, name: str, trusted: object, statements: list[dict] | None = None) -> str:
    iam = clients("iam", account)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    return arn


def test_assume_role_needs_permission_and_trust(clients, endpoint, enforce):
    role = _role(clients, SEC, "OrganizationAccountAccessRole", f"arn:aws:iam::{MANAGEMENT}:root",
                 [allow(["guardduty:ListDetectors", "guardduty:GetDetector"])])
    untrusting = _role(clients, SEC, "Untrusting", "arn:aws:iam::999999999999:root",
                       [allow("guardduty:*")])
    det = clients("guardduty", SEC, region="eu-west-1").create_detector(Enable=True)["DetectorId"]
    cannot = make_user(clients, "cannot", NOTHING)
    can = make_user(clients, "can", [allow("sts:AssumeRole", f"arn:aws:iam::{SEC}:role/*")])
    enforce()

    with pytest.raises(ClientError) as e:
        as_(endpoint, "sts", cannot).assume_role(RoleArn=role, RoleSessionName="guardform")
    assert err(e) == ("AccessDenied", f"User: {user_arn('cannot')} is not authorized to perform: "
                                      f"sts:AssumeRole on resource: {role}", 403)
    # Allowed by the caller's policy, but the role does not trust the caller's account.
    with pytest.raises(ClientError) as e:
        as_(endpoint, "sts", can).assume_role(RoleArn=untrusting, RoleSessionName="guardform")
    assert err(e)[0] == "AccessDenied" and untrusting in err(e)[1]
    # A role that does not exist cannot be assumed either.
    with pytest.raises(ClientError) as e:
        as_(endpoint, "sts", can).assume_role(RoleArn=f"arn:aws:iam::{SEC}:role/Missing",
                                              RoleSessionName="guardform")
    assert err(e)[0] == "AccessDenied"

    c = as_(endpoint, "sts", can).assume_role(RoleArn=role, RoleSessionName="guardform")["Credentials"]
    session = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
               "aws_session_token": c["SessionToken"]}
    principal = f"arn:aws:sts::{SEC}:assumed-role/OrganizationAccountAccessRole/guardform"
    assert as_(endpoint, "sts", session).get_caller_identity()["Arn"] == principal
    gd = as_(endpoint, "guardduty", session, region="eu-west-1")
    assert gd.list_detectors()["DetectorIds"] == [det]
    with pytest.raises(ClientError) as e:
        gd.list_members(DetectorId=det)
    assert err(e) == ("AccessDeniedException", denied(
        principal, "guardduty:ListMembers", f"arn:aws:guardduty:eu-west-1:{SEC}:detector/{det}"), 403)


def test_same_account_trust_naming_the_user_needs_no_identity_policy(clients, endpoint, enforce):
    cannot = make_user(clients, "named", NOTHING)
    direct = _role(clients, MANAGEMENT, "Direct", user_arn("named"), [allow("guardduty:ListDetectors")])
    via_root = _role(clients, MANAGEMENT, "ViaRoot", f"arn:aws:iam::{MANAGEMENT}:root")
    enforce()
    sts = as_(endpoint, "sts", cannot)
    assert sts.assume_role(RoleArn=direct, RoleSessionName="s")["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{MANAGEMENT}:assumed-role/Direct/s"
    # Trusting the account delegates to the account's IAM policies: the user has none for it.
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=via_root, RoleSessionName="s")
    assert err(e)[0] == "AccessDenied"


def test_reset_keeps_enforcement_until_switched_off(clients, endpoint, enforce):
    import urllib.request

    enforce()
    req = urllib.request.Request(endpoint + "/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(req).read()
    with pytest.raises(ClientError) as e:
        clients("guardduty").list_detectors()
    assert err(e)[0] == "UnrecognizedClientException"
    set_enforcement(endpoint, "inf")
    assert clients("guardduty").list_detectors()["DetectorIds"] == []
