"""Smoke tests of the GuardDuty extension through boto3 (real HTTP, real SDK parsing)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import MANAGEMENT

SEC, LOG, W1, W2, W3, W4 = ("222222222222", "333333333333", "400000000001", "400000000002",
                            "400000000003", "400000000004")


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def features(detector: dict) -> dict:
    return {f["Name"]: f for f in detector["Features"]}


def delegate(clients, admin=SEC, region="us-east-1"):
    clients("guardduty", region=region).enable_organization_admin_account(AdminAccountId=admin)
    g = clients("guardduty", admin, region=region)
    return g, g.list_detectors()["DetectorIds"][0]


# ---------------------------------------------------------------- hooks & wire format


def test_extension_is_hooked_in(endpoint):
    """Fails loudly if a moto upgrade moved the extension points."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    import guardduty_ext
    import server
    from moto.guardduty import urls
    from moto.guardduty.responses import GuardDutyResponse

    server.install()
    assert guardduty_ext.installed()
    assert "{0}/detector/(?P<detector_id>[^/]+)/member$" in urls.url_paths
    assert GuardDutyResponse.create_members is guardduty_ext.create_members

    # Over HTTP: an operation stock moto lacks answers JSON, not moto's HTML 404.
    req = urllib.request.Request(endpoint + "/invitation/count", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/guardduty/aws4_request, "
                         "SignedHeaders=host, Signature=x"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/json"
        assert json.loads(r.read()) == {"invitationsCount": 0}


def test_error_envelope(endpoint):
    req = urllib.request.Request(endpoint + "/detector/nope", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/guardduty/aws4_request, "
                         "SignedHeaders=host, Signature=x"})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req)
    assert ei.value.code == 400
    assert ei.value.headers["X-Amzn-ErrorType"] == "BadRequestException"
    assert ei.value.headers["Content-Type"] == "application/json"
    body = json.loads(ei.value.read())
    assert body == {"__type": "InvalidInputException",
                    "message": "The request is rejected because the input detectorId is not owned by the current account."}


# ---------------------------------------------------------------- detectors


def test_detector_lifecycle_and_defaults(clients):
    g = clients("guardduty")
    det = g.create_detector(Enable=True, Tags={"team": "sec"})["DetectorId"]
    got = g.get_detector(DetectorId=det)
    assert got["Status"] == "ENABLED"
    assert got["FindingPublishingFrequency"] == "SIX_HOURS"
    assert got["ServiceRole"].endswith("/AWSServiceRoleForAmazonGuardDuty")
    assert got["CreatedAt"] and got["UpdatedAt"]
    assert got["Tags"] == {"team": "sec"}
    f = features(got)
    for name in ["S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS",
                 "LAMBDA_NETWORK_LOGS"]:
        assert f[name]["Status"] == "ENABLED", name
    assert f["RUNTIME_MONITORING"]["Status"] == "DISABLED"
    assert f["EKS_RUNTIME_MONITORING"]["Status"] == "DISABLED"
    assert {a["Name"] for a in f["RUNTIME_MONITORING"]["AdditionalConfiguration"]} == {
        "EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"}
    assert f["S3_DATA_EVENTS"]["UpdatedAt"].year >= 2024  # Timestamp parsed
    assert got["DataSources"]["S3Logs"]["Status"] == "ENABLED"
    assert g.list_detectors()["DetectorIds"] == [det]

    with pytest.raises(ClientError) as ei:
        g.create_detector(Enable=True)
    assert err(ei) == ("BadRequestException",
                       "The request is rejected because a detector already exists for the current account.", 400)
    # other Region: its own detector
    assert clients("guardduty", region="eu-west-1").create_detector(Enable=False)["DetectorId"] != det

    g.delete_detector(DetectorId=det)
    assert g.list_detectors()["DetectorIds"] == []
    with pytest.raises(ClientError) as ei:
        g.get_detector(DetectorId=det)
    assert err(ei)[0] == "BadRequestException"


def test_create_detector_with_features_and_validation(clients):
    g = clients("guardduty")
    for kwargs in [
        {"Features": [{"Name": "NOT_A_FEATURE", "Status": "ENABLED"}]},
        {"Features": [{"Name": "RUNTIME_MONITORING", "Status": "ENABLED",
                       "AdditionalConfiguration": [{"Name": "BOGUS", "Status": "ENABLED"}]}]},
        {"FindingPublishingFrequency": "WEEKLY"},
        {"Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}], "DataSources": {"S3Logs": {"Enable": True}}},
        {"Features": [{"Name": "EKS_RUNTIME_MONITORING", "Status": "ENABLED"},
                      {"Name": "RUNTIME_MONITORING", "Status": "ENABLED"}]},
    ]:
        with pytest.raises(ClientError) as ei:
            g.create_detector(Enable=True, **kwargs)
        assert err(ei)[0] == "BadRequestException", kwargs
    assert g.list_detectors()["DetectorIds"] == []

    det = g.create_detector(Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", Features=[
        {"Name": "S3_DATA_EVENTS", "Status": "DISABLED"},
        {"Name": "RUNTIME_MONITORING", "Status": "ENABLED",
         "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}]}])["DetectorId"]
    got = g.get_detector(DetectorId=det)
    f = features(got)
    assert got["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert f["S3_DATA_EVENTS"]["Status"] == "DISABLED"
    assert f["EKS_AUDIT_LOGS"]["Status"] == "ENABLED"  # unspecified -> enabled by default
    assert f["RUNTIME_MONITORING"]["Status"] == "ENABLED"
    add = {a["Name"]: a["Status"] for a in f["RUNTIME_MONITORING"]["AdditionalConfiguration"]}
    assert add == {"EKS_ADDON_MANAGEMENT": "DISABLED", "ECS_FARGATE_AGENT_MANAGEMENT": "DISABLED",
                   "EC2_AGENT_MANAGEMENT": "ENABLED"}


def test_update_detector_merges_features(clients):
    g = clients("guardduty")
    det = g.create_detector(Enable=True)["DetectorId"]
    g.update_detector(DetectorId=det, Features=[
        {"Name": "RUNTIME_MONITORING", "Status": "ENABLED",
         "AdditionalConfiguration": [{"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "ENABLED"}]}])
    g.update_detector(DetectorId=det, Features=[
        {"Name": "S3_DATA_EVENTS", "Status": "DISABLED"},
        {"Name": "RUNTIME_MONITORING",
         "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}]}])
    f = features(g.get_detector(DetectorId=det))
    assert f["S3_DATA_EVENTS"]["Status"] == "DISABLED"
    assert f["RUNTIME_MONITORING"]["Status"] == "ENABLED"  # kept
    add = {a["Name"]: a["Status"] for a in f["RUNTIME_MONITORING"]["AdditionalConfiguration"]}
    assert add["ECS_FARGATE_AGENT_MANAGEMENT"] == "ENABLED"  # kept
    assert add["EC2_AGENT_MANAGEMENT"] == "ENABLED"
    assert f["EKS_AUDIT_LOGS"]["Status"] == "ENABLED"  # untouched

    g.update_detector(DetectorId=det, Enable=False, FindingPublishingFrequency="ONE_HOUR")
    got = g.get_detector(DetectorId=det)
    assert (got["Status"], got["FindingPublishingFrequency"]) == ("DISABLED", "ONE_HOUR")
    # deprecated dataSources still map onto features
    g.update_detector(DetectorId=det, DataSources={"S3Logs": {"Enable": True}})
    assert features(g.get_detector(DetectorId=det))["S3_DATA_EVENTS"]["Status"] == "ENABLED"

    with pytest.raises(ClientError) as ei:
        g.update_detector(DetectorId=det, Features=[{"Name": "EKS_RUNTIME_MONITORING", "Status": "ENABLED"},
                                                    {"Name": "RUNTIME_MONITORING", "Status": "DISABLED"}])
    assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:
        g.update_detector(DetectorId=det, FindingPublishingFrequency="HOURLY")
    assert err(ei)[0] == "BadRequestException"


def test_tags(clients):
    g = clients("guardduty")
    det = g.create_detector(Enable=True, Tags={"a": "1"})["DetectorId"]
    arn = f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/{det}"
    g.tag_resource(ResourceArn=arn, Tags={"b": "2", "c": "3"})
    g.untag_resource(ResourceArn=arn, TagKeys=["c"])
    assert g.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    assert g.get_detector(DetectorId=det)["Tags"] == {"a": "1", "b": "2"}
    with pytest.raises(ClientError) as ei:
        g.list_tags_for_resource(ResourceArn=f"arn:aws:guardduty:us-east-1:{MANAGEMENT}:detector/nope")
    assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:
        g.list_tags_for_resource(ResourceArn=f"arn:aws:guardduty:us-east-1:999999999999:detector/{det}")
    assert err(ei)[0] == "AccessDeniedException"


def test_filters_still_work(clients):
    g = clients("guardduty")
    det = g.create_detector(Enable=True)["DetectorId"]
    g.create_filter(DetectorId=det, Name="archive-low", Action="ARCHIVE",
                    FindingCriteria={"Criterion": {"severity": {"Lt": 4}}})
    assert g.list_filters(DetectorId=det)["FilterNames"] == ["archive-low"]
    assert g.get_filter(DetectorId=det, FilterName="archive-low")["Action"] == "ARCHIVE"


# ---------------------------------------------------------------- delegated administrator


def test_enable_organization_admin_account(clients, org):
    g = clients("guardduty")
    with pytest.raises(ClientError) as ei:  # not the management account
        clients("guardduty", SEC).enable_organization_admin_account(AdminAccountId=LOG)
    assert err(ei) == ("BadRequestException",
                       "The request failed because you do not have required AWS Organization master permission.", 400)
    with pytest.raises(ClientError) as ei:  # not in the organization
        g.enable_organization_admin_account(AdminAccountId="999999999999")
    assert err(ei)[0] == "BadRequestException"

    assert clients("guardduty", SEC).list_detectors()["DetectorIds"] == []
    g.enable_organization_admin_account(AdminAccountId=SEC)
    g.enable_organization_admin_account(AdminAccountId=SEC)  # idempotent
    assert g.list_organization_admin_accounts()["AdminAccounts"] == [
        {"AdminAccountId": SEC, "AdminStatus": "ENABLED"}]
    assert len(clients("guardduty", SEC).list_detectors()["DetectorIds"]) == 1  # GuardDuty enabled for it
    o = clients("organizations")
    assert [a["Id"] for a in o.list_delegated_administrators(
        ServicePrincipal="guardduty.amazonaws.com")["DelegatedAdministrators"]] == [SEC]
    assert "guardduty.amazonaws.com" in [
        s["ServicePrincipal"] for s in o.list_aws_service_access_for_organization()["EnabledServicePrincipals"]]

    with pytest.raises(ClientError) as ei:  # a second, different admin in the same Region
        g.enable_organization_admin_account(AdminAccountId=LOG)
    assert err(ei)[0] == "BadRequestException"
    # per Region
    assert clients("guardduty", region="eu-west-1").list_organization_admin_accounts()["AdminAccounts"] == []
    clients("guardduty", region="eu-west-1").enable_organization_admin_account(AdminAccountId=LOG)

    g.disable_organization_admin_account(AdminAccountId=SEC)
    assert g.list_organization_admin_accounts()["AdminAccounts"] == []
    g.enable_organization_admin_account(AdminAccountId=LOG)


def test_suspended_account_cannot_be_admin(clients, org):
    clients("organizations").close_account(AccountId=W4)
    with pytest.raises(ClientError) as ei:
        clients("guardduty").enable_organization_admin_account(AdminAccountId=W4)
    assert err(ei)[0] == "BadRequestException"


def test_organization_configuration(clients, org):
    sg, sd = delegate(clients)
    cfg = sg.describe_organization_configuration(DetectorId=sd)
    assert cfg["AutoEnableOrganizationMembers"] == "NONE"
    assert cfg["AutoEnable"] is False
    assert cfg["MemberAccountLimitReached"] is False
    assert {f["Name"] for f in cfg["Features"]} >= {"S3_DATA_EVENTS", "RUNTIME_MONITORING"}

    sg.update_organization_configuration(DetectorId=sd, AutoEnableOrganizationMembers="NEW", Features=[
        {"Name": "S3_DATA_EVENTS", "AutoEnable": "ALL"},
        {"Name": "RUNTIME_MONITORING", "AutoEnable": "NEW",
         "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "AutoEnable": "NEW"}]}])
    sg.update_organization_configuration(DetectorId=sd, Features=[
        {"Name": "EKS_AUDIT_LOGS", "AutoEnable": "NEW"}])  # merged, not replaced
    cfg = sg.describe_organization_configuration(DetectorId=sd)
    f = {x["Name"]: x for x in cfg["Features"]}
    assert cfg["AutoEnableOrganizationMembers"] == "NEW" and cfg["AutoEnable"] is True
    assert f["S3_DATA_EVENTS"]["AutoEnable"] == "ALL"
    assert f["EKS_AUDIT_LOGS"]["AutoEnable"] == "NEW"
    assert f["RUNTIME_MONITORING"]["AutoEnable"] == "NEW"
    assert {a["Name"]: a["AutoEnable"] for a in f["RUNTIME_MONITORING"]["AdditionalConfiguration"]}[
        "EC2_AGENT_MANAGEMENT"] == "NEW"
    assert f["LAMBDA_NETWORK_LOGS"]["AutoEnable"] == "NONE"
    assert cfg["DataSources"]["S3Logs"]["AutoEnable"] is True

    with pytest.raises(ClientError) as ei:
        sg.update_organization_configuration(DetectorId=sd, AutoEnableOrganizationMembers="SOME")
    assert err(ei)[0] == "BadRequestException"
    # only the delegated administrator's detector
    lg = clients("guardduty", LOG)
    ld = lg.create_detector(Enable=True)["DetectorId"]
    with pytest.raises(ClientError) as ei:
        lg.describe_organization_configuration(DetectorId=ld)
    assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:
        sg.describe_organization_configuration(DetectorId=ld)
    assert err(ei)[0] == "BadRequestException"


# ---------------------------------------------------------------- members


def test_create_members_organization_flow(clients, org):
    sg, sd = delegate(clients)
    sg.update_detector(DetectorId=sd, FindingPublishingFrequency="FIFTEEN_MINUTES")
    sg.update_organization_configuration(DetectorId=sd, AutoEnableOrganizationMembers="NEW", Features=[
        {"Name": "S3_DATA_EVENTS", "AutoEnable": "NEW"},
        {"Name": "EKS_AUDIT_LOGS", "AutoEnable": "NONE"},
        {"Name": "RDS_LOGIN_EVENTS", "AutoEnable": "ALL"},
        {"Name": "RUNTIME_MONITORING", "AutoEnable": "ALL",
         "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "AutoEnable": "ALL"}]}])
    # W2 already runs GuardDuty with its own settings
    w2 = clients("guardduty", W2)
    w2d = w2.create_detector(Enable=True, Features=[{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"},
                                                    {"Name": "RDS_LOGIN_EVENTS", "Status": "DISABLED"}])["DetectorId"]

    res = sg.create_members(DetectorId=sd, AccountDetails=[
        {"AccountId": LOG, "Email": "log@example.com"}, {"AccountId": W1, "Email": "w1@example.com"},
        {"AccountId": W2, "Email": "w2@example.com"}])
    assert res["UnprocessedAccounts"] == []
    again = sg.create_members(DetectorId=sd, AccountDetails=[{"AccountId": LOG, "Email": "log@example.com"}])
    assert again["UnprocessedAccounts"] == []  # idempotent

    members = {m["AccountId"]: m for m in sg.list_members(DetectorId=sd)["Members"]}
    assert set(members) == {LOG, W1, W2}
    m = members[LOG]
    assert m["RelationshipStatus"] == "Enabled"
    assert m["MasterId"] == SEC and m["AdministratorId"] == SEC
    assert m["Email"] == "log@example.com" and m["UpdatedAt"]
    assert "InvitedAt" not in m  # no invitation for organization accounts

    lg = clients("guardduty", LOG)
    ld = lg.list_detectors()["DetectorIds"]
    assert len(ld) == 1 and members[LOG]["DetectorId"] == ld[0]
    got = lg.get_detector(DetectorId=ld[0])
    assert got["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    f = features(got)
    assert f["S3_DATA_EVENTS"]["Status"] == "ENABLED"
    assert f["EKS_AUDIT_LOGS"]["Status"] == "DISABLED"
    assert f["RDS_LOGIN_EVENTS"]["Status"] == "ENABLED"
    assert f["LAMBDA_NETWORK_LOGS"]["Status"] == "DISABLED"
    assert f["RUNTIME_MONITORING"]["Status"] == "ENABLED"

    # existing detector kept; only ALL features applied
    f2 = features(w2.get_detector(DetectorId=w2d))
    assert w2.list_detectors()["DetectorIds"] == [w2d]
    assert f2["S3_DATA_EVENTS"]["Status"] == "DISABLED"  # NEW: not applied to existing
    assert f2["RDS_LOGIN_EVENTS"]["Status"] == "ENABLED"  # ALL: applied
    assert f2["RUNTIME_MONITORING"]["Status"] == "ENABLED"

    adm = lg.get_administrator_account(DetectorId=ld[0])["Administrator"]
    assert adm["AccountId"] == SEC and adm["RelationshipStatus"] == "Enabled"
    assert lg.get_master_account(DetectorId=ld[0])["Master"]["AccountId"] == SEC

    # GetMembers / paging / GetMemberDetectors
    got = sg.get_members(DetectorId=sd, AccountIds=[W1, "999999999999"])
    assert [x["AccountId"] for x in got["Members"]] == [W1]
    assert [x["AccountId"] for x in got["UnprocessedAccounts"]] == ["999999999999"]
    page1 = sg.list_members(DetectorId=sd, MaxResults=2)
    page2 = sg.list_members(DetectorId=sd, MaxResults=2, NextToken=page1["NextToken"])
    assert len(page1["Members"]) == 2 and len(page2["Members"]) == 1 and "NextToken" not in page2
    md = sg.get_member_detectors(DetectorId=sd, AccountIds=[LOG, W3])
    assert [x["AccountId"] for x in md["MemberDataSourceConfigurations"]] == [LOG]
    assert [x["AccountId"] for x in md["UnprocessedAccounts"]] == [W3]
    mf = {x["Name"]: x for x in md["MemberDataSourceConfigurations"][0]["Features"]}
    assert mf["S3_DATA_EVENTS"]["Status"] == "ENABLED" and "CLOUD_TRAIL" not in mf


def test_create_members_limits_and_unprocessed(clients, org):
    sg, sd = delegate(clients)
    with pytest.raises(ClientError) as ei:
        sg.create_members(DetectorId=sd, AccountDetails=[
            {"AccountId": f"5{i:011d}", "Email": "x@example.com"} for i in range(51)])
    assert err(ei) == ("BadRequestException",
                       "The request failed because the length provided for the accountDetails array was 51. "
                       "Max allowed length is 50.", 400)
    for op in ("get_members", "delete_members", "disassociate_members", "invite_members",
               "get_member_detectors"):
        with pytest.raises(ClientError) as ei:
            getattr(sg, op)(DetectorId=sd, AccountIds=[f"5{i:011d}" for i in range(51)])
        assert "Max allowed length is 50" in err(ei)[1], op

    clients("organizations").close_account(AccountId=W4)
    # W3 is already the member of a standalone (non-organization) administrator, by invitation
    other = clients("guardduty", "999999999999")
    od = other.create_detector(Enable=True)["DetectorId"]
    assert other.create_members(DetectorId=od, AccountDetails=[
        {"AccountId": W3, "Email": "w3@example.com"}])["UnprocessedAccounts"] == []
    assert other.list_members(DetectorId=od, OnlyAssociated="false")["Members"][0]["RelationshipStatus"] == "Created"
    assert other.invite_members(DetectorId=od, AccountIds=[W3])["UnprocessedAccounts"] == []
    w3 = clients("guardduty", W3)
    w3d = w3.create_detector(Enable=True)["DetectorId"]
    inv = w3.list_invitations()["Invitations"]
    assert [i["AccountId"] for i in inv] == ["999999999999"] and inv[0]["RelationshipStatus"] == "Invited"
    assert w3.get_invitations_count()["InvitationsCount"] == 1
    w3.accept_administrator_invitation(DetectorId=w3d, AdministratorId="999999999999",
                                       InvitationId=inv[0]["InvitationId"])
    adm = w3.get_administrator_account(DetectorId=w3d)["Administrator"]
    assert adm["AccountId"] == "999999999999" and adm["RelationshipStatus"] == "Enabled"
    assert adm["InvitationId"] == inv[0]["InvitationId"] and adm["InvitedAt"]

    res = sg.create_members(DetectorId=sd, AccountDetails=[
        {"AccountId": "12345678901x", "Email": "a@example.com"},
        {"AccountId": SEC, "Email": "s@example.com"},
        {"AccountId": W3, "Email": "w3@example.com"},
        {"AccountId": W4, "Email": "w4@example.com"},
        {"AccountId": MANAGEMENT, "Email": "m@example.com"},
        {"AccountId": W1, "Email": "w1@example.com"}])
    results = {u["AccountId"]: u["Result"] for u in res["UnprocessedAccounts"]}
    assert set(results) == {"12345678901x", SEC, W3, W4, MANAGEMENT}
    assert results[W3] == ("The request is rejected because the given account ID is already associated "
                           "with another administrator account.")
    assert "suspended" in results[W4]
    assert "must first enable GuardDuty" in results[MANAGEMENT]
    assert [m["AccountId"] for m in sg.list_members(DetectorId=sd)["Members"]] == [W1]


def test_members_disassociate_delete(clients, org):
    sg, sd = delegate(clients)
    sg.create_members(DetectorId=sd, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"},
                                                     {"AccountId": W2, "Email": "w2@example.com"}])
    assert sg.disassociate_members(DetectorId=sd, AccountIds=[W1, "999999999999"])[
        "UnprocessedAccounts"][0]["AccountId"] == "999999999999"
    assert [m["AccountId"] for m in sg.list_members(DetectorId=sd)["Members"]] == [W2]  # OnlyAssociated default
    allm = {m["AccountId"]: m["RelationshipStatus"]
            for m in sg.list_members(DetectorId=sd, OnlyAssociated="false")["Members"]}
    assert allm == {W1: "Removed", W2: "Enabled"}
    w1 = clients("guardduty", W1)
    w1d = w1.list_detectors()["DetectorIds"][0]
    assert w1.get_administrator_account(DetectorId=w1d)["Administrator"] == {}

    assert sg.delete_members(DetectorId=sd, AccountIds=[W1])["UnprocessedAccounts"] == []
    assert w1.list_detectors()["DetectorIds"] == [w1d]  # the member keeps its detector
    assert {m["AccountId"] for m in sg.list_members(DetectorId=sd, OnlyAssociated="false")["Members"]} == {W2}
    # re-adding works (organization accounts come back Enabled)
    sg.create_members(DetectorId=sd, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"}])
    assert {m["AccountId"] for m in sg.list_members(DetectorId=sd)["Members"]} == {W1, W2}

    # an administrator with members cannot delete its detector
    with pytest.raises(ClientError) as ei:
        sg.delete_detector(DetectorId=sd)
    assert err(ei)[0] == "BadRequestException"


def test_update_member_detectors(clients, org):
    sg, sd = delegate(clients)
    sg.create_members(DetectorId=sd, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"}])
    res = sg.update_member_detectors(DetectorId=sd, AccountIds=[W1, W2], Features=[
        {"Name": "RUNTIME_MONITORING", "Status": "ENABLED",
         "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"}]}])
    assert [u["AccountId"] for u in res["UnprocessedAccounts"]] == [W2]
    sg.update_member_detectors(DetectorId=sd, AccountIds=[W1], Features=[
        {"Name": "RUNTIME_MONITORING",
         "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}]}])
    cfg = sg.get_member_detectors(DetectorId=sd, AccountIds=[W1])["MemberDataSourceConfigurations"][0]
    f = {x["Name"]: x for x in cfg["Features"]}
    assert f["RUNTIME_MONITORING"]["Status"] == "ENABLED"
    add = {a["Name"]: a["Status"] for a in f["RUNTIME_MONITORING"]["AdditionalConfiguration"]}
    assert add == {"EKS_ADDON_MANAGEMENT": "ENABLED", "ECS_FARGATE_AGENT_MANAGEMENT": "DISABLED",
                   "EC2_AGENT_MANAGEMENT": "ENABLED"}
    w1 = clients("guardduty", W1)
    assert features(w1.get_detector(DetectorId=w1.list_detectors()["DetectorIds"][0]))[
        "RUNTIME_MONITORING"]["Status"] == "ENABLED"
    with pytest.raises(ClientError) as ei:
        sg.update_member_detectors(DetectorId=sd, AccountIds=[W1], Features=[
            {"Name": "EKS_RUNTIME_MONITORING", "Status": "ENABLED"}, {"Name": "RUNTIME_MONITORING", "Status": "ENABLED"}])
    assert err(ei)[0] == "BadRequestException"


def test_get_administrator_account_without_admin(clients):
    g = clients("guardduty")
    det = g.create_detector(Enable=True)["DetectorId"]
    assert g.get_administrator_account(DetectorId=det)["Administrator"] == {}


def test_reset_wipes_state(clients, org, endpoint):
    sg, sd = delegate(clients)
    sg.create_members(DetectorId=sd, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"}])
    from conftest import reset

    reset(endpoint)
    clients._creds.clear()  # STS credentials do not survive a reset either
    assert clients("guardduty", SEC).list_detectors()["DetectorIds"] == []
    assert clients("guardduty", W1).list_detectors()["DetectorIds"] == []
    o = clients("organizations")
    o.create_organization(FeatureSet="ALL")
    o.create_account(AccountName="security", Email="security+222222222222@example.com")
    g = clients("guardduty")
    assert g.list_organization_admin_accounts()["AdminAccounts"] == []
    g.enable_organization_admin_account(AdminAccountId=SEC)
    sg2 = clients("guardduty", SEC)
    sd2 = sg2.list_detectors()["DetectorIds"][0]
    assert sd2 != sd
    assert sg2.list_members(DetectorId=sd2, OnlyAssociated="false")["Members"] == []


def test_concurrent_create_detector_keeps_one(clients):
    from concurrent.futures import ThreadPoolExecutor

    g = clients("guardduty", "555555555555")

    def attempt(_):
        try:
            return g.create_detector(Enable=True)["DetectorId"]
        except ClientError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert len([r for r in results if r]) == 1
    assert len(g.list_detectors()["DetectorIds"]) == 1


def test_member_reads_fast_path_answers_as_moto_does(clients, org):
    """ListMembers and GetMemberDetectors are answered straight from the WSGI call (server.py);
    paging, the caller's account and Region, and every error must be what the full path gives."""
    sg, sd = delegate(clients)
    sg.create_members(DetectorId=sd, AccountDetails=[
        {"AccountId": a, "Email": f"{a}@example.com"} for a in (LOG, W1, W2, W3)])
    first = sg.list_members(DetectorId=sd, MaxResults=3)
    rest = sg.list_members(DetectorId=sd, MaxResults=3, NextToken=first["NextToken"])
    assert [m["AccountId"] for m in first["Members"] + rest["Members"]] == [LOG, W1, W2, W3]
    assert "NextToken" not in rest
    got = sg.get_member_detectors(DetectorId=sd, AccountIds=[W1, "999999999999"])
    assert [m["AccountId"] for m in got["MemberDataSourceConfigurations"]] == [W1]
    assert [u["AccountId"] for u in got["UnprocessedAccounts"]] == ["999999999999"]
    # Another Region has no detector of this id; another account does not own it.
    with pytest.raises(ClientError) as e:
        clients("guardduty", SEC, region="eu-west-1").list_members(DetectorId=sd)
    assert err(e)[0] == "BadRequestException" and err(e)[2] == 400
    with pytest.raises(ClientError) as e:
        clients("guardduty", W4).get_member_detectors(DetectorId=sd, AccountIds=[W1])
    assert err(e)[0] == "BadRequestException"
    # Bad input falls back to moto's error formatting.
    with pytest.raises(ClientError) as e:
        sg.list_members(DetectorId=sd, MaxResults=51)
    assert err(e)[:2] == ("BadRequestException",
                          "The request is rejected because the parameter maxResults has an invalid value. "
                          "It must be between 1 and 50.")
