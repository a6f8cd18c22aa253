"""GuardDuty's service-linked role: made by enabling GuardDuty or by iam:CreateServiceLinkedRole,
and required in the management account before the delegated administrator can add it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import MANAGEMENT

SEC = "222222222222"
SLR_NAME = "AWSServiceRoleForAmazonGuardDuty"
SLR_PATH = "/aws-service-role/guardduty.amazonaws.com/"
SLR_ARN = f"arn:aws:iam::{MANAGEMENT}:role{SLR_PATH}{SLR_NAME}"
NO_SLR = "Operation failed because your organization master must first enable GuardDuty to be added as a member"


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def delegate(clients, region="us-east-1"):
    clients("guardduty", region=region).enable_organization_admin_account(AdminAccountId=SEC)
    g = clients("guardduty", SEC, region=region)
    return g, g.list_detectors()["DetectorIds"][0]


def slr_names(clients, account=MANAGEMENT) -> list[str]:
    roles = clients("iam", account).list_roles(PathPrefix="/aws-service-role/")["Roles"]
    return [r["RoleName"] for r in roles]


def add_management(sg, sd) -> list[dict]:
    return sg.create_members(DetectorId=sd, AccountDetails=[
        {"AccountId": MANAGEMENT, "Email": "m@example.com"}])["UnprocessedAccounts"]


def test_management_account_refused_without_the_role(clients, org):
    sg, sd = delegate(clients)
    assert slr_names(clients) == []
    assert add_management(sg, sd) == [{"AccountId": MANAGEMENT, "Result": NO_SLR}]
    assert sg.list_members(DetectorId=sd, OnlyAssociated="false")["Members"] == []
    # Designating the delegated administrator did not enable GuardDuty in the management account.
    assert clients("guardduty").list_detectors()["DetectorIds"] == []
    # The administrator itself got GuardDuty enabled, hence its own role.
    assert slr_names(clients, SEC) == [SLR_NAME]


def test_create_service_linked_role_makes_awss_role_and_the_management_account_can_join(clients, org):
    iam = clients("iam")
    role = iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")["Role"]
    assert (role["RoleName"], role["Path"], role["Arn"]) == (SLR_NAME, SLR_PATH, SLR_ARN)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "guardduty.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert iam.get_role(RoleName=SLR_NAME)["Role"]["Arn"] == SLR_ARN
    # no detector in the management account, in any Region
    for region in ("us-east-1", "eu-west-1"):
        assert clients("guardduty", region=region).list_detectors()["DetectorIds"] == []

    sg, sd = delegate(clients)
    assert add_management(sg, sd) == []
    members = {m["AccountId"]: m["RelationshipStatus"] for m in sg.list_members(DetectorId=sd)["Members"]}
    assert members == {MANAGEMENT: "Enabled"}
    # As for any organization member, the administrator enabled GuardDuty there.
    assert len(clients("guardduty").list_detectors()["DetectorIds"]) == 1


def test_a_detector_in_another_region_is_enough(clients, org):
    # GuardDuty enabled in eu-west-1 only: the role exists (IAM is global) ...
    clients("guardduty", region="eu-west-1").create_detector(Enable=True)
    assert slr_names(clients) == [SLR_NAME]
    role = clients("iam").get_role(RoleName=SLR_NAME)["Role"]
    assert (role["Path"], role["Arn"]) == (SLR_PATH, SLR_ARN)
    # ... so the administrator in us-east-1 may add the management account.
    assert clients("guardduty").list_detectors()["DetectorIds"] == []
    sg, sd = delegate(clients)
    assert add_management(sg, sd) == []
    assert [m["AccountId"] for m in sg.list_members(DetectorId=sd)["Members"]] == [MANAGEMENT]
    assert len(clients("guardduty").list_detectors()["DetectorIds"]) == 1


def test_detector_first_then_member_as_guardform_does(clients, org):
    g = clients("guardduty")
    det = g.create_detector(Enable=True)["DetectorId"]
    assert g.get_detector(DetectorId=det)["ServiceRole"] == SLR_ARN
    sg, sd = delegate(clients)
    assert add_management(sg, sd) == []
    assert g.list_detectors()["DetectorIds"] == [det]  # kept
    assert add_management(sg, sd) == []  # idempotent


def test_the_role_outlives_the_detector(clients, org):
    g = clients("guardduty", region="eu-west-1")
    g.delete_detector(DetectorId=g.create_detector(Enable=True)["DetectorId"])
    assert slr_names(clients) == [SLR_NAME]
    sg, sd = delegate(clients)
    assert add_management(sg, sd) == []


def test_duplicate_create_service_linked_role_is_refused(clients):
    iam = clients("iam")
    iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")
    with pytest.raises(ClientError) as ei:
        iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")
    assert err(ei) == ("InvalidInput", "Service role name AWSServiceRoleForAmazonGuardDuty has been taken in "
                       "this account, please try a different suffix.", 400)
    assert slr_names(clients) == [SLR_NAME]


def test_create_service_linked_role_after_enabling_guardduty_is_refused(clients):
    # Another account, another Region: enabling GuardDuty made the role already.
    clients("guardduty", SEC, region="ap-southeast-2").create_detector(Enable=True)
    with pytest.raises(ClientError) as ei:
        clients("iam", SEC).create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")
    assert err(ei)[0] == "InvalidInput" and "AWSServiceRoleForAmazonGuardDuty has been taken" in err(ei)[1]
    # The management account is untouched.
    assert slr_names(clients) == []


def test_custom_suffix_and_other_services(clients):
    iam = clients("iam")
    with pytest.raises(ClientError) as ei:
        iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com", CustomSuffix="x")
    assert err(ei) == ("InvalidInput", "Custom suffix is not allowed for guardduty.amazonaws.com", 400)
    mp = iam.create_service_linked_role(AWSServiceName="malware-protection.guardduty.amazonaws.com")["Role"]
    assert mp["RoleName"] == "AWSServiceRoleForAmazonGuardDutyMalwareProtection"
    assert mp["Path"] == "/aws-service-role/malware-protection.guardduty.amazonaws.com/"
    # Any service: a second role of the same name is InvalidInput, not EntityAlreadyExists.
    iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    with pytest.raises(ClientError) as ei:
        iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    code, message, status = err(ei)
    assert (code, status) == ("InvalidInput", 400)
    assert message.endswith("has been taken in this account, please try a different suffix.")
