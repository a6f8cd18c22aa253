"""Threat entity sets and trusted entity sets: like IP sets / threat intel sets (S3 location,
ACTIVATING -> ACTIVE / ERROR, administrator-only), plus createdAt/updatedAt/errorDetails, the
bucket-owner check on activation, 1 trusted and 6 threat entity sets per detector."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from test_ip_sets import BUCKET, LOG, SEC, STANDALONE, W1, bucket, delegate, err, put, standalone, url

MSG_MEMBER = "The request is rejected because member accounts cannot manage specified resources or properties."
MSG_NOT_FOUND = "The request is rejected since no such resource found."
MSG_LIMIT = ("The request is rejected because it\u2019s an attempt to create resources beyond the current "
             "AWS account limits.")
MSG_LOCATION = "The request is rejected because the parameter location has an invalid value."


def owner_msg(bucket_name, owner):
    return (f"The request is rejected because the bucket {bucket_name} in the parameter location is not "
            f"owned by the account {owner}.")


def test_threat_entity_set_lifecycle(clients):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    put(s3, "bad.txt", "198.51.100.1\nbad.example.com\n*.evil.example.org\n")
    tid = g.create_threat_entity_set(DetectorId=d, Name="bad-things", Format="TXT", Location=url("bad.txt"),
                                     Activate=True, Tags={"team": "sec"})["ThreatEntitySetId"]
    get = lambda: g.get_threat_entity_set(DetectorId=d, ThreatEntitySetId=tid)  # noqa: E731
    first = get()
    assert (first["Name"], first["Format"], first["Location"], first["Status"], first["Tags"]) == (
        "bad-things", "TXT", url("bad.txt"), "ACTIVATING", {"team": "sec"})
    assert first["CreatedAt"] and first["UpdatedAt"] and "ErrorDetails" not in first
    assert get()["Status"] == "ACTIVE"
    assert g.list_threat_entity_sets(DetectorId=d)["ThreatEntitySetIds"] == [tid]
    # update: rename, deactivate
    g.update_threat_entity_set(DetectorId=d, ThreatEntitySetId=tid, Name="renamed", Activate=False)
    assert [get()["Status"] for _ in range(2)] == ["DEACTIVATING", "INACTIVE"]
    assert get()["Name"] == "renamed"
    # tags on the documented ARN form
    arn = f"arn:aws:guardduty:us-east-1:{STANDALONE}:detector/{d}/threatentityset/{tid}"
    g.tag_resource(ResourceArn=arn, Tags={"env": "prod"})
    assert g.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "sec", "env": "prod"}
    g.delete_threat_entity_set(DetectorId=d, ThreatEntitySetId=tid)
    assert g.list_threat_entity_sets(DetectorId=d)["ThreatEntitySetIds"] == []
    with pytest.raises(ClientError) as e:
        get()
    assert err(e) == ("BadRequestException", MSG_NOT_FOUND, 400)


def test_trusted_entity_set_and_missing_object_is_error_with_details(clients):
    g, d = standalone(clients)
    bucket(clients, STANDALONE)
    sid = g.create_trusted_entity_set(DetectorId=d, Name="ok", Format="STIX", Location=url("missing.xml"),
                                      Activate=True, ExpectedBucketOwner=STANDALONE)["TrustedEntitySetId"]
    get = lambda: g.get_trusted_entity_set(DetectorId=d, TrustedEntitySetId=sid)  # noqa: E731
    assert get()["Status"] == "ACTIVATING"
    got = get()
    assert got["Status"] == "ERROR" and "missing.xml" in got["ErrorDetails"]
    assert got["ExpectedBucketOwner"] == STANDALONE
    arn = f"arn:aws:guardduty:us-east-1:{STANDALONE}:detector/{d}/trustedentityset/{sid}"
    assert g.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}


def test_inactive_create_reads_nothing_and_names_need_not_be_unique(clients):
    g, d = standalone(clients)
    a = g.create_threat_entity_set(DetectorId=d, Name="same", Format="OTX_CSV",
                                   Location="s3://nowhere-bucket/x.csv", Activate=False)["ThreatEntitySetId"]
    g.create_trusted_entity_set(DetectorId=d, Name="same", Format="TXT",
                                Location="s3://nowhere-bucket/y.txt", Activate=False)
    assert g.get_threat_entity_set(DetectorId=d, ThreatEntitySetId=a)["Status"] == "INACTIVE"


def test_limits_one_trusted_six_threat(clients):
    g, d = standalone(clients)
    g.create_trusted_entity_set(DetectorId=d, Name="t", Format="TXT", Location=url("a.txt"), Activate=False)
    with pytest.raises(ClientError) as e:
        g.create_trusted_entity_set(DetectorId=d, Name="t2", Format="TXT", Location=url("b.txt"), Activate=False)
    assert err(e) == ("BadRequestException", MSG_LIMIT, 400)
    for i in range(6):
        g.create_threat_entity_set(DetectorId=d, Name=f"x{i}", Format="TXT", Location=url("a.txt"), Activate=False)
    with pytest.raises(ClientError) as e:
        g.create_threat_entity_set(DetectorId=d, Name="x6", Format="TXT", Location=url("a.txt"), Activate=False)
    assert err(e) == ("BadRequestException", MSG_LIMIT, 400)
    # IP lists have their own quotas
    g.create_ip_set(DetectorId=d, Name="ip", Format="TXT", Location=url("a.txt"), Activate=False)
    page = g.list_threat_entity_sets(DetectorId=d, MaxResults=4)
    assert len(page["ThreatEntitySetIds"]) == 4
    rest = g.list_threat_entity_sets(DetectorId=d, NextToken=page["NextToken"])
    assert len(rest["ThreatEntitySetIds"]) == 2 and "NextToken" not in rest


def test_bucket_owner_checked_on_activation(clients):
    g, d = standalone(clients)
    s3 = bucket(clients, LOG, "gf-foreign")  # owned by another account
    put(s3, "l.txt", "203.0.113.9\n", name="gf-foreign")
    loc = "s3://gf-foreign/l.txt"
    # without expectedBucketOwner the detector's account must own the bucket
    with pytest.raises(ClientError) as e:
        g.create_threat_entity_set(DetectorId=d, Name="f", Format="TXT", Location=loc, Activate=True)
    assert err(e) == ("BadRequestException", owner_msg("gf-foreign", STANDALONE), 400)
    with pytest.raises(ClientError) as e:
        g.create_trusted_entity_set(DetectorId=d, Name="f", Format="TXT", Location=loc, Activate=True,
                                    ExpectedBucketOwner="999999999999")
    assert err(e) == ("BadRequestException", owner_msg("gf-foreign", "999999999999"), 400)
    # naming the real owner works (cross-account bucket)
    tid = g.create_threat_entity_set(DetectorId=d, Name="f", Format="TXT", Location=loc, Activate=True,
                                     ExpectedBucketOwner=LOG)["ThreatEntitySetId"]
    assert [g.get_threat_entity_set(DetectorId=d, ThreatEntitySetId=tid)["Status"] for _ in range(2)] == [
        "ACTIVATING", "ACTIVE"]
    # created inactive: not checked until activation
    sid = g.create_trusted_entity_set(DetectorId=d, Name="g", Format="TXT", Location=loc, Activate=False)[
        "TrustedEntitySetId"]
    with pytest.raises(ClientError) as e:
        g.update_trusted_entity_set(DetectorId=d, TrustedEntitySetId=sid, Activate=True)
    assert err(e) == ("BadRequestException", owner_msg("gf-foreign", STANDALONE), 400)
    g.update_trusted_entity_set(DetectorId=d, TrustedEntitySetId=sid, Activate=True, ExpectedBucketOwner=LOG)
    assert g.get_trusted_entity_set(DetectorId=d, TrustedEntitySetId=sid)["ExpectedBucketOwner"] == LOG


def test_bad_location_and_params(clients):
    g, d = standalone(clients)
    with pytest.raises(ClientError) as e:
        g.create_threat_entity_set(DetectorId=d, Name="x", Format="TXT", Location="ftp://b/k", Activate=False)
    assert err(e) == ("BadRequestException", MSG_LOCATION, 400)
    with pytest.raises(ClientError) as e:
        g.create_trusted_entity_set(DetectorId=d, Name="x", Format="CSV", Location=url("k"), Activate=False)
    assert err(e)[1] == "The request is rejected because the parameter format has an invalid value."
    with pytest.raises(ClientError) as e:
        g.get_trusted_entity_set(DetectorId="0" * 32, TrustedEntitySetId="x")
    assert err(e)[1] == "The request is rejected because the input detectorId is not owned by the current account."


def test_only_administrator_manages_members_see_admin_sets(clients, org):
    g, d = delegate(clients)
    g.create_members(DetectorId=d, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"}])
    tid = g.create_threat_entity_set(DetectorId=d, Name="org", Format="TXT", Location=url("a.txt"),
                                     Activate=False)["ThreatEntitySetId"]
    m = clients("guardduty", W1)
    md = m.list_detectors()["DetectorIds"][0]
    for call in (lambda: m.create_threat_entity_set(DetectorId=md, Name="m", Format="TXT", Location=url("a.txt"),
                                                    Activate=False),
                 lambda: m.create_trusted_entity_set(DetectorId=md, Name="m", Format="TXT", Location=url("a.txt"),
                                                     Activate=False),
                 lambda: m.delete_threat_entity_set(DetectorId=md, ThreatEntitySetId=tid)):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("BadRequestException", MSG_MEMBER, 400)
    assert m.list_threat_entity_sets(DetectorId=md)["ThreatEntitySetIds"] == [tid]
    assert m.get_threat_entity_set(DetectorId=md, ThreatEntitySetId=tid)["Name"] == "org"
    assert SEC and BUCKET  # imported constants used
