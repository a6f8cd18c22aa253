"""Publishing destinations (findings export to S3 with KMS) and the S3/KMS calls a findings
export needs, from member accounts of the organization (credentials from sts:AssumeRole).

Status rule: computed on every Describe/List from the emulator's S3 and KMS state. PUBLISHING
when the bucket exists (owned by expectedBucketOwner if given), its bucket policy lets
guardduty.amazonaws.com s3:GetBucketLocation the bucket and s3:PutObject under the prefix, and
the KMS key exists, is enabled and its key policy lets guardduty.amazonaws.com
kms:GenerateDataKey, with aws:SourceAccount / aws:SourceArn conditions honoured; otherwise
UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY with publishingFailureStartTimestamp set.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

SEC, LOG = "222222222222", "333333333333"  # administrator, log archive
REGION = "us-east-1"
BUCKET = "gf-findings-archive"
PREFIX = "guardduty"
UNABLE = "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"
MSG_EXISTS = ("The request failed because a publishingDestination already exists with the destinationType "
              "value provided in the request.")
MSG_NOT_FOUND = "The request is rejected since no such resource found."


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def root_statement(account: str) -> dict:
    return {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}


def key_policy(account: str, source_account: str | None = None, source_arn: str | None = None) -> str:
    stmt = {"Sid": "AllowGuardDutyKey", "Effect": "Allow", "Principal": {"Service": "guardduty.amazonaws.com"},
            "Action": "kms:GenerateDataKey", "Resource": f"arn:aws:kms:{REGION}:{account}:key/*"}
    cond = {}
    if source_account:
        cond.setdefault("StringEquals", {})["aws:SourceAccount"] = source_account
    if source_arn:
        cond.setdefault("StringEquals", {})["aws:SourceArn"] = source_arn
    if cond:
        stmt["Condition"] = cond
    return json.dumps({"Version": "2012-10-17", "Id": "key-policy", "Statement": [root_statement(account), stmt]})


def bucket_policy(bucket: str = BUCKET, prefix: str = PREFIX, source_account: str | None = SEC,
                  source_arn: str | None = None, key_arn: str | None = None, like: bool = False) -> str:
    cond: dict = {}
    if source_account:
        cond.setdefault("StringEquals", {})["aws:SourceAccount"] = source_account
    if source_arn:
        cond.setdefault("ArnLike" if like else "StringEquals", {})["aws:SourceArn"] = source_arn
    gd = {"Service": "guardduty.amazonaws.com"}
    stmts = [
        {"Sid": "Allow GetBucketLocation", "Effect": "Allow", "Principal": gd,
         "Action": "s3:GetBucketLocation", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "Allow PutObject", "Effect": "Allow", "Principal": gd, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "Deny non-HTTPS access", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]
    if key_arn:
        stmts += [
            {"Sid": "Deny unencrypted object uploads", "Effect": "Deny", "Principal": gd, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
            {"Sid": "Deny incorrect encryption header", "Effect": "Deny", "Principal": gd,
             "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}},
        ]
    for s in stmts[:2]:
        if cond:
            s["Condition"] = cond
    return json.dumps({"Version": "2012-10-17", "Statement": stmts})


@pytest.fixture
def env(clients, org):
    """Delegated admin SEC with its detector, a bucket in the log archive account and a KMS key
    in the administrator account, neither granting GuardDuty anything yet."""
    clients("guardduty").enable_organization_admin_account(AdminAccountId=SEC)
    g = clients("guardduty", SEC)
    det = g.list_detectors()["DetectorIds"][0]
    s3 = clients("s3", LOG)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/", Body=b"")
    kms = clients("kms", SEC)
    key = kms.create_key(Description="GuardDuty findings")["KeyMetadata"]
    return {"g": g, "det": det, "s3": s3, "kms": kms, "key_arn": key["Arn"], "key_id": key["KeyId"],
            "det_arn": f"arn:aws:guardduty:{REGION}:{SEC}:detector/{det}",
            "dest_arn": f"arn:aws:s3:::{BUCKET}/{PREFIX}"}


def create(env, **kw):
    props = {"DestinationArn": env["dest_arn"], "KmsKeyArn": env["key_arn"]}
    props.update(kw.pop("props", {}))
    return env["g"].create_publishing_destination(DetectorId=env["det"], DestinationType="S3",
                                                  DestinationProperties=props, **kw)["DestinationId"]


def describe(env, dest_id):
    return env["g"].describe_publishing_destination(DetectorId=env["det"], DestinationId=dest_id)


def grant_all(env, **bucket_kw):
    env["s3"].put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(source_arn=env["det_arn"], **bucket_kw))
    env["kms"].put_key_policy(KeyId=env["key_id"], PolicyName="default",
                              Policy=key_policy(SEC, source_account=SEC, source_arn=env["det_arn"]))


# ---------------------------------------------------------------- S3 / KMS round trips


def test_kms_round_trips_from_member_account(clients, org):
    kms = clients("kms", SEC)
    pol = key_policy(SEC, source_account=SEC)
    key = kms.create_key(Policy=pol, Description="with policy")["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:{REGION}:{SEC}:key/")
    assert key["AWSAccountId"] == SEC
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == json.loads(pol)
    new = key_policy(SEC, source_account=SEC, source_arn="arn:aws:guardduty:us-east-1:222222222222:detector/x")
    kms.put_key_policy(KeyId=key["Arn"], PolicyName="default", Policy=new)
    assert json.loads(kms.get_key_policy(KeyId=key["Arn"], PolicyName="default")["Policy"]) == json.loads(new)
    kms.create_alias(AliasName="alias/guardduty-findings", TargetKeyId=key["KeyId"])
    aliases = {a["AliasName"]: a for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]}
    assert aliases["alias/guardduty-findings"]["TargetKeyId"] == key["KeyId"]
    assert aliases["alias/guardduty-findings"]["AliasArn"] == f"arn:aws:kms:{REGION}:{SEC}:alias/guardduty-findings"
    # the key lives in SEC only
    assert clients("kms", LOG).list_keys()["Keys"] == []
    assert kms.describe_key(KeyId="alias/guardduty-findings")["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_s3_round_trips_from_member_account(clients, org, endpoint):
    s3 = clients("s3", LOG)
    s3.create_bucket(Bucket=BUCKET)
    pol = bucket_policy()
    s3.put_bucket_policy(Bucket=BUCKET, Policy=pol)
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == json.loads(pol)
    pab = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
           "RestrictPublicBuckets": True}
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=pab)
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == pab
    key_arn = f"arn:aws:kms:{REGION}:{SEC}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    enc = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                             "KMSMasterKeyID": key_arn},
                      "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=enc)
    got = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert got == enc
    # the bucket is owned by the log archive account
    owner = s3.get_bucket_acl(Bucket=BUCKET)["Owner"]
    assert owner.get("ID")
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert BUCKET not in [b["Name"] for b in clients("s3", SEC).list_buckets()["Buckets"]]


def test_bucket_owner_keeps_object_access_under_the_guardduty_policy(clients, org, endpoint):
    """moto 5.2.5 denied the owner's own object calls under this policy (conditions that do not
    hold counted as DENIED); the extension's fix keeps Deny-for-everyone and public Allow."""
    import urllib.error
    import urllib.request

    s3 = clients("s3", LOG)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(
        source_arn=f"arn:aws:guardduty:{REGION}:{SEC}:detector/d1",
        key_arn=f"arn:aws:kms:{REGION}:{SEC}:key/k1"))
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/x.txt", Body=b"hello")
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/x.txt")["Body"].read() == b"hello"
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/x.txt")
    # a Deny for everyone still denies
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}
    s3.put_object(Bucket=BUCKET, Key="keep.txt", Body=b"k")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(deny))
    with pytest.raises(ClientError) as ei:
        s3.delete_object(Bucket=BUCKET, Key="keep.txt")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # a public Allow still lets anonymous callers read
    public = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(public))
    with urllib.request.urlopen(f"{endpoint}/{BUCKET}/keep.txt") as r:
        assert r.read() == b"k"


# ---------------------------------------------------------------- status


def test_unable_until_bucket_and_key_policies_grant_guardduty(env):
    before = int(time.time() * 1000) - 1000
    dest = create(env)
    d = describe(env, dest)
    assert d["Status"] == UNABLE  # no bucket policy, default key policy
    assert d["PublishingFailureStartTimestamp"] >= before
    assert d["DestinationType"] == "S3"
    assert d["DestinationProperties"] == {"DestinationArn": env["dest_arn"], "KmsKeyArn": env["key_arn"]}
    first_failure = d["PublishingFailureStartTimestamp"]
    # bucket policy alone is not enough: the key policy lacks the grant
    env["s3"].put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(source_arn=env["det_arn"]))
    d = describe(env, dest)
    assert (d["Status"], d["PublishingFailureStartTimestamp"]) == (UNABLE, first_failure)
    env["kms"].put_key_policy(KeyId=env["key_id"], PolicyName="default",
                              Policy=key_policy(SEC, source_account=SEC, source_arn=env["det_arn"]))
    d = describe(env, dest)
    assert d["Status"] == "PUBLISHING"
    assert d["PublishingFailureStartTimestamp"] == 0
    listed = env["g"].list_publishing_destinations(DetectorId=env["det"])["Destinations"]
    assert listed == [{"DestinationId": dest, "DestinationType": "S3", "Status": "PUBLISHING"}]


def test_policy_with_encryption_denies_and_tls_deny_still_publishes(env):
    dest = create(env)
    grant_all(env, key_arn=env["key_arn"])
    assert describe(env, dest)["Status"] == "PUBLISHING"
    # a Deny for a different key ARN blocks GuardDuty's PutObject
    env["s3"].put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(
        source_arn=env["det_arn"], key_arn=f"arn:aws:kms:{REGION}:{SEC}:key/other"))
    assert describe(env, dest)["Status"] == UNABLE


@pytest.mark.parametrize("bucket_kw,key_kw", [
    ({"source_account": "999999999999"}, {}),                                  # bucket: wrong account
    ({"source_arn": "arn:aws:guardduty:us-east-1:222222222222:detector/other"}, {}),  # wrong detector
    ({}, {"source_account": "999999999999"}),                                  # key: wrong account
    ({"prefix": "elsewhere"}, {}),                                             # PutObject on another prefix
    ({"bucket": "another-bucket"}, {}),                                        # statements for another bucket
])
def test_conditions_scoped_wrong_are_unable(env, bucket_kw, key_kw):
    dest = create(env)
    bkw = {"source_arn": env["det_arn"]}
    bkw.update(bucket_kw)
    env["s3"].put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(**bkw))
    kkw = {"source_account": SEC, "source_arn": env["det_arn"]}
    kkw.update(key_kw)
    env["kms"].put_key_policy(KeyId=env["key_id"], PolicyName="default", Policy=key_policy(SEC, **kkw))
    assert describe(env, dest)["Status"] == UNABLE


def test_wildcard_conditions_and_unconditioned_grants(env):
    dest = create(env)
    env["s3"].put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy(
        source_arn=f"arn:aws:guardduty:*:{SEC}:detector/*", like=True))
    env["kms"].put_key_policy(KeyId=env["key_id"], PolicyName="default", Policy=key_policy(SEC))
    assert describe(env, dest)["Status"] == "PUBLISHING"


def test_key_disabled_or_bucket_gone(env):
    dest = create(env)
    grant_all(env)
    assert describe(env, dest)["Status"] == "PUBLISHING"
    env["kms"].disable_key(KeyId=env["key_id"])
    assert describe(env, dest)["Status"] == UNABLE
    env["kms"].enable_key(KeyId=env["key_id"])
    assert describe(env, dest)["Status"] == "PUBLISHING"
    env["s3"].delete_object(Bucket=BUCKET, Key=f"{PREFIX}/")
    env["s3"].delete_bucket_policy(Bucket=BUCKET)
    assert describe(env, dest)["Status"] == UNABLE
    env["s3"].delete_bucket(Bucket=BUCKET)
    assert describe(env, dest)["Status"] == UNABLE


def test_alias_arn_and_expected_bucket_owner(env):
    env["kms"].create_alias(AliasName="alias/gd", TargetKeyId=env["key_id"])
    grant_all(env)
    dest = create(env, props={"KmsKeyArn": f"arn:aws:kms:{REGION}:{SEC}:alias/gd", "ExpectedBucketOwner": LOG})
    d = describe(env, dest)
    assert d["Status"] == "PUBLISHING"
    assert d["DestinationProperties"]["ExpectedBucketOwner"] == LOG
    env["g"].update_publishing_destination(DetectorId=env["det"], DestinationId=dest,
                                           DestinationProperties={"ExpectedBucketOwner": SEC})
    d = describe(env, dest)
    assert d["Status"] == UNABLE
    assert d["DestinationProperties"]["KmsKeyArn"] == f"arn:aws:kms:{REGION}:{SEC}:alias/gd"


# ---------------------------------------------------------------- lifecycle


def test_second_destination_refused_and_client_token(env):
    dest = create(env, ClientToken="tok-1", Tags={"team": "secops"})
    assert create(env, ClientToken="tok-1", Tags={"team": "secops"}) == dest  # idempotent replay
    with pytest.raises(ClientError) as ei:
        create(env)
    assert err(ei) == ("BadRequestException", MSG_EXISTS, 400)
    with pytest.raises(ClientError) as ei:
        create(env, ClientToken="tok-1", Tags={"team": "other"})
    assert err(ei)[0] == "BadRequestException"
    assert len(env["g"].list_publishing_destinations(DetectorId=env["det"])["Destinations"]) == 1


def test_update_in_place_delete_and_list(env):
    grant_all(env)
    dest = create(env, Tags={"team": "secops"})
    assert describe(env, dest)["Status"] == "PUBLISHING"
    assert describe(env, dest)["Tags"] == {"team": "secops"}
    arn = f"{env['det_arn']}/publishingDestination/{dest}"
    assert env["g"].list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "secops"}
    # move to another prefix the policy does not cover
    env["g"].update_publishing_destination(DetectorId=env["det"], DestinationId=dest,
                                           DestinationProperties={"DestinationArn": f"arn:aws:s3:::{BUCKET}/other/"})
    d = describe(env, dest)
    assert d["DestinationId"] == dest
    assert (d["Status"], d["DestinationProperties"]["DestinationArn"]) == (UNABLE, f"arn:aws:s3:::{BUCKET}/other/")
    assert d["DestinationProperties"]["KmsKeyArn"] == env["key_arn"]
    env["g"].update_publishing_destination(DetectorId=env["det"], DestinationId=dest,
                                           DestinationProperties={"DestinationArn": env["dest_arn"] + "/"})
    assert describe(env, dest)["Status"] == "PUBLISHING"
    env["g"].delete_publishing_destination(DetectorId=env["det"], DestinationId=dest)
    assert env["g"].list_publishing_destinations(DetectorId=env["det"])["Destinations"] == []
    for call in (lambda: describe(env, dest),
                 lambda: env["g"].delete_publishing_destination(DetectorId=env["det"], DestinationId=dest),
                 lambda: env["g"].update_publishing_destination(
                     DetectorId=env["det"], DestinationId=dest,
                     DestinationProperties={"DestinationArn": env["dest_arn"]})):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("BadRequestException", MSG_NOT_FOUND, 400)
    # after the delete a new one may be created
    assert create(env) != dest


@pytest.mark.parametrize("kw,param", [
    ({"props": {"DestinationArn": "arn:aws:s3:::"}}, "destinationArn"),
    ({"props": {"DestinationArn": "s3://bucket/prefix"}}, "destinationArn"),
    ({"props": {"DestinationArn": "arn:aws:sqs:us-east-1:222222222222:queue"}}, "destinationArn"),
    ({"props": {"DestinationArn": "arn:aws:s3:::Bad_Bucket"}}, "destinationArn"),
    ({"props": {"KmsKeyArn": "1234abcd-12ab-34cd-56ef-1234567890ab"}}, "kmsKeyArn"),
    ({"props": {"KmsKeyArn": "arn:aws:s3:::bucket"}}, "kmsKeyArn"),
    ({"props": {"ExpectedBucketOwner": "12345"}}, "expectedBucketOwner"),
    ({"ClientToken": "t" * 65}, "clientToken"),
])
def test_create_validation(env, kw, param):
    with pytest.raises(ClientError) as ei:
        create(env, **kw)
    assert err(ei) == ("BadRequestException",
                       f"The request is rejected because the parameter {param} has an invalid value.", 400)


def test_create_missing_or_bad_type(env):
    g = env["g"]
    props = {"DestinationArn": env["dest_arn"], "KmsKeyArn": env["key_arn"]}
    with pytest.raises(ClientError) as ei:
        g.create_publishing_destination(DetectorId=env["det"], DestinationProperties=props)
    assert err(ei) == ("BadRequestException",
                       "The request failed because no destinationType parameter was included in the request.", 400)
    with pytest.raises(ClientError) as ei:
        g.create_publishing_destination(DetectorId=env["det"], DestinationType="SQS", DestinationProperties=props)
    assert err(ei)[1] == "The request is rejected because the parameter destinationType has an invalid value."
    with pytest.raises(ClientError) as ei:
        g.create_publishing_destination(DetectorId=env["det"], DestinationType="S3")
    assert err(ei)[1] == ("The request failed because no destinationProperties parameter was included in the "
                          "request.")


def test_unknown_detector_and_paging(env, clients):
    with pytest.raises(ClientError) as ei:
        clients("guardduty", LOG).list_publishing_destinations(DetectorId=env["det"])
    assert err(ei) == ("BadRequestException",
                       "The request is rejected because the input detectorId is not owned by the current account.", 400)
    create(env)
    page = env["g"].list_publishing_destinations(DetectorId=env["det"], MaxResults=1)
    assert len(page["Destinations"]) == 1 and "NextToken" not in page
    with pytest.raises(ClientError) as ei:
        env["g"].list_publishing_destinations(DetectorId=env["det"], MaxResults=0)
    assert err(ei)[0] == "BadRequestException"


def test_policy_allows_helper():
    """The evaluator in isolation (no server)."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from guardduty_ext import policy_allows

    svc = "guardduty.amazonaws.com"
    ctx = {"aws:SourceAccount": SEC, "aws:SourceArn": f"arn:aws:guardduty:us-east-1:{SEC}:detector/d1",
           "aws:SecureTransport": "true"}
    allow = {"Effect": "Allow", "Principal": {"Service": [svc]}, "Action": ["s3:Put*"],
             "Resource": "arn:aws:s3:::b/*"}
    doc = {"Statement": [allow]}
    assert policy_allows(doc, svc, "s3:PutObject", "arn:aws:s3:::b/x/y", ctx)
    assert not policy_allows(doc, svc, "s3:GetObject", "arn:aws:s3:::b/x", ctx)
    assert not policy_allows(doc, "cloudtrail.amazonaws.com", "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    assert not policy_allows(doc, svc, "s3:PutObject", "arn:aws:s3:::c/x", ctx)
    assert policy_allows(json.dumps(doc), svc, "S3:PUTOBJECT", "arn:aws:s3:::b/x", ctx)  # actions: any case
    cond = dict(allow, Condition={"StringLike": {"aws:SourceArn": "arn:aws:guardduty:*:222222222222:detector/*"},
                                  "StringEquals": {"aws:SourceAccount": [SEC, LOG]}})
    assert policy_allows({"Statement": [cond]}, svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    assert not policy_allows({"Statement": [cond]}, svc, "s3:PutObject", "arn:aws:s3:::b/x",
                             dict(ctx, **{"aws:SourceAccount": "999999999999"}))
    missing = dict(allow, Condition={"StringEquals": {"aws:SourceOrgID": "o-1"}})
    assert not policy_allows({"Statement": [missing]}, svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    if_exists = dict(allow, Condition={"StringEqualsIfExists": {"aws:SourceOrgID": "o-1"}})
    assert policy_allows({"Statement": [if_exists]}, svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    tls = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
           "Condition": {"Bool": {"aws:SecureTransport": False}}}
    assert policy_allows({"Statement": [allow, tls]}, svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    deny_all = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*"}
    assert not policy_allows({"Statement": [allow, deny_all]}, svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    not_principal = {"Effect": "Deny", "NotPrincipal": {"Service": svc}, "Action": "*", "Resource": "*"}
    assert policy_allows({"Statement": [allow, not_principal]}, svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    assert not policy_allows("not json", svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
    assert not policy_allows({"Statement": [dict(allow, Condition={"NumericEquals": {"x": 1}})]},
                             svc, "s3:PutObject", "arn:aws:s3:::b/x", ctx)
