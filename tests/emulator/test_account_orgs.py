"""Account Management Region APIs, Organizations hooks and the seed tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
            "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
            "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1"}


def all_regions(acct_client, **kw):
    out, token = [], None
    while True:
        args = dict(kw)
        if token:
            args["NextToken"] = token
        page = acct_client.list_regions(**args)
        out += page["Regions"]
        token = page.get("NextToken")
        if not token:
            return out


def test_list_regions_defaults_and_opt_in(clients):
    a = clients("account", validate=True)
    regions = {r["RegionName"]: r["RegionOptStatus"] for r in all_regions(a, MaxResults=10)}
    assert {r for r, s in regions.items() if s == "ENABLED_BY_DEFAULT"} == DEFAULTS
    assert regions["af-south-1"] == "DISABLED" and regions["me-south-1"] == "DISABLED"
    enabled = all_regions(a, RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"])
    assert {r["RegionName"] for r in enabled} == DEFAULTS

    a.enable_region(RegionName="af-south-1")
    assert a.get_region_opt_status(RegionName="af-south-1")["RegionOptStatus"] == "ENABLED"
    assert "af-south-1" in {r["RegionName"] for r in all_regions(a, RegionOptStatusContains=["ENABLED"])}
    a.disable_region(RegionName="af-south-1")
    assert a.get_region_opt_status(RegionName="af-south-1")["RegionOptStatus"] == "DISABLED"

    with pytest.raises(ClientError) as ei:
        a.enable_region(RegionName="us-east-1")
    assert ei.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as ei:
        a.get_region_opt_status(RegionName="xx-nowhere-9")
    assert ei.value.response["Error"]["Code"] == "ValidationException"
    # per account
    b = clients("account", "444444444444")
    assert b.get_region_opt_status(RegionName="me-south-1")["RegionOptStatus"] == "DISABLED"


def test_guardduty_refuses_disabled_opt_in_region(clients):
    g = clients("guardduty", region="af-south-1")
    with pytest.raises(ClientError) as ei:
        g.list_detectors()
    assert ei.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    clients("account").enable_region(RegionName="af-south-1")
    assert g.list_detectors()["DetectorIds"] == []


def test_management_sets_member_regions(clients, org):
    a = clients("account")
    a.enable_region(AccountId="400000000001", RegionName="ap-east-1")
    assert a.get_region_opt_status(AccountId="400000000001", RegionName="ap-east-1")["RegionOptStatus"] == "ENABLED"
    assert clients("account", "400000000001").get_region_opt_status(
        RegionName="ap-east-1")["RegionOptStatus"] == "ENABLED"
    with pytest.raises(ClientError) as ei:  # a member cannot act on another account
        clients("account", "400000000001").list_regions(AccountId="400000000002")
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"


def test_create_account_deterministic_ids_and_close(clients):
    o = clients("organizations")
    o.create_organization(FeatureSet="ALL")
    st = o.create_account(AccountName="sec", Email="security+222222222222@example.com")["CreateAccountStatus"]
    assert st["AccountId"] == "222222222222" and st["State"] == "SUCCEEDED"
    rnd = o.create_account(AccountName="rnd", Email="plain@example.com")["CreateAccountStatus"]["AccountId"]
    assert len(rnd) == 12 and rnd != "222222222222"
    dup = o.create_account(AccountName="dup", Email="again+222222222222@example.com")["CreateAccountStatus"]
    assert dup["State"] == "FAILED" and dup["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    o.close_account(AccountId="222222222222")
    assert o.describe_account(AccountId="222222222222")["Account"]["Status"] == "SUSPENDED"


def test_seed_tool(endpoint, clients):
    out = subprocess.run([sys.executable, os.path.join(HERE, "seed.py"), "--endpoint", endpoint,
                          "--accounts", "12", "--suspend", "2", "--enable-regions", "af-south-1"],
                         capture_output=True, text=True, check=True, timeout=60)
    summary = json.loads(out.stdout)
    assert summary["management_account"] == "123456789012"
    assert set(summary["ous"]) == {"Security", "Workloads", "Workloads/Prod", "Workloads/Dev"}
    accts = summary["accounts"]
    assert len(accts) == 12
    assert [a["id"] for a in accts[:4]] == ["222222222222", "333333333333", "400000000001", "400000000002"]
    assert accts[0]["ou_path"] == "Security" and accts[0]["tags"] == {"env": "security"}
    assert accts[2]["ou_path"] == "Workloads/Prod" and accts[2]["tags"]["env"] == "prod"
    assert accts[3]["ou_path"] == "Workloads/Dev" and accts[3]["tags"]["env"] == "dev" and "team" in accts[3]["tags"]
    assert [a["status"] for a in accts[-3:]] == ["ACTIVE", "SUSPENDED", "SUSPENDED"]

    o = clients("organizations")
    listed = {a["Id"]: a["Status"] for a in o.list_accounts()["Accounts"]}
    assert len(listed) == 13 and listed["400000000010"] == "SUSPENDED"
    prod = o.list_accounts_for_parent(ParentId=summary["ous"]["Workloads/Prod"])["Accounts"]
    assert {a["Id"] for a in prod} == {a["id"] for a in accts if a["ou_path"] == "Workloads/Prod"}
    tags = o.list_tags_for_resource(ResourceId="400000000002")["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == accts[3]["tags"]
    assert clients("account").get_region_opt_status(
        AccountId="400000000001", RegionName="af-south-1")["RegionOptStatus"] == "ENABLED"
