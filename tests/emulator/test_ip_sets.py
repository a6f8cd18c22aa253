"""IP sets and threat intel sets as AWS does them: S3-backed content, asynchronous status
(ACTIVATING -> ACTIVE / ERROR), size limits, administrator-only management, client tokens.

Status rule the emulator guarantees: after a create/update that (re)reads the S3 object the
next Get answers ACTIVATING and later ones the outcome; after deactivating an ACTIVE list the
next Get answers DEACTIVATING and later ones INACTIVE.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import MANAGEMENT, reset

SEC, LOG, W1 = "222222222222", "333333333333", "400000000001"
STANDALONE = "555555555555"
BUCKET = "gf-lists"

MSG_MEMBER = "The request is rejected because member accounts cannot manage IPSets or ThreatIntelSets."
MSG_NOT_FOUND = "The request is rejected since no such resource found."
MSG_LIMIT = ("The request is rejected because it\u2019s an attempt to create resources beyond the current "
             "AWS account limits.")
MSG_TOKEN = ("The request is rejected because the clientToken was already used with different request "
             "parameters.")
MSG_LOCATION = "The request is rejected because the parameter location has an invalid value."


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def delegate(clients, admin=SEC):
    clients("guardduty").enable_organization_admin_account(AdminAccountId=admin)
    g = clients("guardduty", admin)
    return g, g.list_detectors()["DetectorIds"][0]


def standalone(clients, account=STANDALONE):
    g = clients("guardduty", account)
    return g, g.create_detector(Enable=True)["DetectorId"]


def bucket(clients, account, name=BUCKET):
    s3 = clients("s3", account)
    s3.create_bucket(Bucket=name)
    return s3


def put(s3, key, body, name=BUCKET):
    data = body.encode() if isinstance(body, str) else body
    s3.put_object(Bucket=name, Key=key, Body=data)
    return hashlib.sha256(data).hexdigest()


def url(key, name=BUCKET):
    return f"https://s3.amazonaws.com/{name}/{key}"


def debug(endpoint, **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(f"{endpoint}/moto-api/guardform/lists{'?' + q if q else ''}") as r:
        return {x["id"]: x for x in json.loads(r.read())["lists"]}


def statuses(get, n=3):
    return [get()["Status"] for _ in range(n)]


# ---------------------------------------------------------------- lifecycle


def test_activate_reads_s3_then_activating_then_active(clients, endpoint):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    sha = put(s3, "trusted.txt", "# office\n203.0.113.7\n\n198.51.100.0/24\n2001:db8::/32\n")
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("trusted.txt"),
                         Activate=True, Tags={"team": "sec"})["IpSetId"]
    got = g.get_ip_set(DetectorId=d, IpSetId=ip)
    assert (got["Name"], got["Format"], got["Location"], got["Status"], got["Tags"]) == (
        "trusted", "TXT", url("trusted.txt"), "ACTIVATING", {"team": "sec"})
    assert "ExpectedBucketOwner" not in got
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip)) == ["ACTIVE"] * 3
    info = debug(endpoint)[ip]
    assert (info["loadCount"], info["sha256"], info["entries"], info["invalidEntryCount"], info["error"]) == (
        1, sha, 3, 0, None)
    assert (info["accountId"], info["region"], info["detectorId"], info["kind"]) == (
        STANDALONE, "us-east-1", d, "ipset")
    # ListIPSets does not consume the transitional answer
    g.update_ip_set(DetectorId=d, IpSetId=ip, Activate=True)
    assert g.list_ip_sets(DetectorId=d)["IpSetIds"] == [ip]
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip)) == ["ACTIVATING", "ACTIVE", "ACTIVE"]


def test_update_reloads_content_and_deactivates(clients, endpoint):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    sha1 = put(s3, "t.txt", "203.0.113.7\n")
    t = g.create_threat_intel_set(DetectorId=d, Name="threats", Format="TXT", Location=url("t.txt"),
                                  Activate=True)["ThreatIntelSetId"]
    get = lambda: g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=t)  # noqa: E731
    assert statuses(get, 2) == ["ACTIVATING", "ACTIVE"]

    # new content at the same key is only seen after re-activation
    sha2 = put(s3, "t.txt", "203.0.113.7\n203.0.113.8\n")
    assert debug(endpoint)[t]["sha256"] == sha1
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Activate=True)
    assert statuses(get, 2) == ["ACTIVATING", "ACTIVE"]
    info = debug(endpoint)[t]
    assert (info["loadCount"], info["sha256"], info["entries"]) == (2, sha2, 2)

    # a new location re-reads while the list is active, even without activate
    sha3 = put(s3, "t2.txt", "198.51.100.1\n")
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Location=f"s3://{BUCKET}/t2.txt")
    assert statuses(get, 2) == ["ACTIVATING", "ACTIVE"]
    assert (debug(endpoint)[t]["loadCount"], debug(endpoint)[t]["sha256"]) == (3, sha3)

    # renaming, or repeating the same location, does not
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Name="threats-v2",
                              Location=f"s3://{BUCKET}/t2.txt")
    assert get()["Name"] == "threats-v2" and get()["Status"] == "ACTIVE"
    assert debug(endpoint)[t]["loadCount"] == 3

    # deactivation: DEACTIVATING once, then INACTIVE; moving an inactive list reads nothing
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Activate=False)
    assert statuses(get) == ["DEACTIVATING", "INACTIVE", "INACTIVE"]
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Location=url("missing.txt"))
    assert get()["Status"] == "INACTIVE"
    assert debug(endpoint)[t]["loadCount"] == 3
    # re-activating at a missing object: ERROR, and no error for the caller
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Activate=True)
    assert statuses(get) == ["ACTIVATING", "ERROR", "ERROR"]
    # deactivating an ERROR list goes straight to INACTIVE
    g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=t, Activate=False)
    assert get()["Status"] == "INACTIVE"


def test_created_inactive_reads_nothing(clients, endpoint):
    g, d = standalone(clients)
    ip = g.create_ip_set(DetectorId=d, Name="later", Format="TXT", Location=url("nothing-yet.txt"),
                         Activate=False)["IpSetId"]
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip), 2) == ["INACTIVE", "INACTIVE"]
    assert debug(endpoint)[ip]["loadCount"] == 0


# ---------------------------------------------------------------- ERROR conditions


def test_missing_object_or_bucket_gives_error_not_exception(clients, endpoint):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("absent.txt"),
                         Activate=True)["IpSetId"]
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip)) == ["ACTIVATING", "ERROR", "ERROR"]
    assert debug(endpoint)[ip]["error"].startswith("NoSuchKey")
    t = g.create_threat_intel_set(DetectorId=d, Name="threats", Format="TXT",
                                  Location="https://no-such-bucket.s3.amazonaws.com/x.txt",
                                  Activate=True)["ThreatIntelSetId"]
    assert statuses(lambda: g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=t), 2) == ["ACTIVATING", "ERROR"]
    assert debug(endpoint)[t]["error"].startswith("NoSuchBucket")
    # uploading the object and re-activating fixes it
    put(s3, "absent.txt", "203.0.113.9\n")
    g.update_ip_set(DetectorId=d, IpSetId=ip, Activate=True)
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip), 2) == ["ACTIVATING", "ACTIVE"]
    assert debug(endpoint)[ip]["error"] is None


def test_ip_set_over_2000_entries_is_error(clients, endpoint):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    ips = [f"10.{i // 256}.{i % 256}.1" for i in range(2000)]
    # comments and blank lines do not count
    put(s3, "ok.txt", "# header\n\n" + "\n".join(ips) + "\n# trailer\n   \n")
    put(s3, "big.txt", "\n".join(ips + ["192.0.2.1"]) + "\n")
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("ok.txt"),
                         Activate=True)["IpSetId"]
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip), 2) == ["ACTIVATING", "ACTIVE"]
    assert debug(endpoint)[ip]["entries"] == 2000
    g.update_ip_set(DetectorId=d, IpSetId=ip, Location=url("big.txt"))
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip), 2) == ["ACTIVATING", "ERROR"]
    assert "2001 entries" in debug(endpoint)[ip]["error"]


def test_threat_set_over_250000_entries_is_error(clients, endpoint):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    put(s3, "huge.txt", "".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n" for i in range(250001)))
    t = g.create_threat_intel_set(DetectorId=d, Name="feed", Format="TXT", Location=url("huge.txt"),
                                  Activate=True)["ThreatIntelSetId"]
    assert statuses(lambda: g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=t), 2) == ["ACTIVATING", "ERROR"]
    assert "250001 entries" in debug(endpoint)[t]["error"]


def test_object_over_35_mb_is_error(clients, endpoint):
    g, d = standalone(clients)
    s3 = bucket(clients, STANDALONE)
    put(s3, "big.stix", b" " * (35 * 1024 * 1024 + 1))
    t = g.create_threat_intel_set(DetectorId=d, Name="stix", Format="STIX", Location=url("big.stix"),
                                  Activate=True)["ThreatIntelSetId"]
    assert statuses(lambda: g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=t), 2) == ["ACTIVATING", "ERROR"]
    assert "35 MB" in debug(endpoint)[t]["error"]


def test_expected_bucket_owner(clients, org, endpoint):
    g, d = delegate(clients)
    s3 = bucket(clients, LOG, name="gf-log-archive-lists")  # bucket in another account
    put(s3, "trusted.txt", "203.0.113.7\n", name="gf-log-archive-lists")
    loc = url("trusted.txt", name="gf-log-archive-lists")
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=loc, Activate=True,
                         ExpectedBucketOwner=SEC)["IpSetId"]
    get = lambda: g.get_ip_set(DetectorId=d, IpSetId=ip)  # noqa: E731
    assert statuses(get, 2) == ["ACTIVATING", "ERROR"]
    assert get()["ExpectedBucketOwner"] == SEC
    assert "owned by 333333333333" in debug(endpoint)[ip]["error"]
    g.update_ip_set(DetectorId=d, IpSetId=ip, ExpectedBucketOwner=LOG)  # re-read: list is meant active
    assert statuses(get, 2) == ["ACTIVATING", "ACTIVE"]
    assert get()["ExpectedBucketOwner"] == LOG
    with pytest.raises(ClientError) as ei:
        g.update_ip_set(DetectorId=d, IpSetId=ip, ExpectedBucketOwner="12345")
    assert err(ei) == ("BadRequestException",
                       "The request is rejected because the parameter expectedBucketOwner has an invalid value.", 400)


# ---------------------------------------------------------------- location syntax


@pytest.mark.parametrize("location", [
    f"https://s3.amazonaws.com/{BUCKET}/a/b.txt",
    f"https://s3-eu-west-1.amazonaws.com/{BUCKET}/a/b.txt",
    f"https://s3.eu-west-1.amazonaws.com/{BUCKET}/a/b.txt",
    f"https://{BUCKET}.s3.amazonaws.com/a/b.txt",
    f"http://{BUCKET}.s3-us-west-2.amazonaws.com/a/b.txt",
    f"https://{BUCKET}.s3.us-west-2.amazonaws.com/a/b.txt",
    f"s3://{BUCKET}/a/b.txt",
])
def test_documented_location_forms_read_the_same_object(clients, endpoint, location):
    g, d = standalone(clients)
    sha = put(bucket(clients, STANDALONE), "a/b.txt", "203.0.113.7\n")
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=location, Activate=True)["IpSetId"]
    assert statuses(lambda: g.get_ip_set(DetectorId=d, IpSetId=ip), 2) == ["ACTIVATING", "ACTIVE"]
    assert g.get_ip_set(DetectorId=d, IpSetId=ip)["Location"] == location
    assert debug(endpoint)[ip]["sha256"] == sha


@pytest.mark.parametrize("location", [
    "",
    "gf-lists/a.txt",
    "ftp://s3.amazonaws.com/gf-lists/a.txt",
    "https://example.com/gf-lists/a.txt",
    "https://s3.amazonaws.com/gf-lists",
    "https://s3.amazonaws.com/gf-lists/",
    "https://gf-lists.s3.amazonaws.com/",
    "s3://gf-lists",
    "s3://Bad_Bucket/a.txt",
    "https://s3.amazonaws.com/gf-lists/a.txt?versionId=1",
    "https://s3.amazonaws.com:443/gf-lists/a.txt",
    "https://s3.amazonaws.com/gf-lists/a b.txt",
    "https://s3.amazonaws.com/" + "x" * 300,
])
def test_malformed_location_is_refused(clients, location):
    g, d = standalone(clients)
    with pytest.raises(ClientError) as ei:
        g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=location, Activate=True)
    assert err(ei) == ("BadRequestException", MSG_LOCATION, 400)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False)["IpSetId"]
    with pytest.raises(ClientError) as ei:
        g.update_ip_set(DetectorId=d, IpSetId=ip, Location=location)
    assert err(ei)[1] == MSG_LOCATION
    assert g.get_ip_set(DetectorId=d, IpSetId=ip)["Location"] == url("a.txt")


def test_other_invalid_parameters(clients):
    g, d = standalone(clients)
    cases = [
        (dict(Name="bad/name", Format="TXT", Location=url("a.txt"), Activate=True), "name"),
        (dict(Name="x" * 301, Format="TXT", Location=url("a.txt"), Activate=True), "name"),
        (dict(Name="ok", Format="CSV", Location=url("a.txt"), Activate=True), "format"),
        (dict(Name="ok", Format="TXT", Location=url("a.txt")), "activate"),
        (dict(Name="ok", Format="TXT", Location=url("a.txt"), Activate=True, ClientToken="t" * 65), "clientToken"),
    ]
    for kwargs, param in cases:
        with pytest.raises(ClientError) as ei:
            g.create_ip_set(DetectorId=d, **kwargs)
        assert err(ei) == ("BadRequestException",
                           f"The request is rejected because the parameter {param} has an invalid value.", 400)
    # names may hold letters, digits, spaces, dashes and underscores
    g.create_ip_set(DetectorId=d, Name="Office egress_v2 - 2024", Format="TXT", Location=url("a.txt"), Activate=False)


# ---------------------------------------------------------------- administrator only


def test_members_are_refused_and_see_the_administrators_lists(clients, org):
    g, d = delegate(clients)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False)["IpSetId"]
    t = g.create_threat_intel_set(DetectorId=d, Name="threats", Format="TXT", Location=url("t.txt"),
                                  Activate=False)["ThreatIntelSetId"]
    g.create_members(DetectorId=d, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"}])
    w = clients("guardduty", W1)
    wd = w.list_detectors()["DetectorIds"][0]
    for call in (
        lambda: w.create_ip_set(DetectorId=wd, Name="mine", Format="TXT", Location=url("m.txt"), Activate=True),
        lambda: w.create_threat_intel_set(DetectorId=wd, Name="mine", Format="TXT", Location=url("m.txt"),
                                          Activate=True),
        lambda: w.update_ip_set(DetectorId=wd, IpSetId=ip, Activate=True),
        lambda: w.update_threat_intel_set(DetectorId=wd, ThreatIntelSetId=t, Activate=True),
        lambda: w.delete_ip_set(DetectorId=wd, IpSetId=ip),
        lambda: w.delete_threat_intel_set(DetectorId=wd, ThreatIntelSetId=t),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("BadRequestException", MSG_MEMBER, 400)
    # "If you use this operation from a member account, the IPSets returned are the IPSets
    # from the associated administrator account."
    assert w.list_ip_sets(DetectorId=wd)["IpSetIds"] == [ip]
    assert w.list_threat_intel_sets(DetectorId=wd)["ThreatIntelSetIds"] == [t]
    assert w.get_ip_set(DetectorId=wd, IpSetId=ip)["Name"] == "trusted"
    # the management account is no member: it may keep lists of its own
    m = clients("guardduty")
    md = m.create_detector(Enable=True)["DetectorId"]
    m.create_ip_set(DetectorId=md, Name="mgmt", Format="TXT", Location=url("a.txt"), Activate=False)
    # once disassociated, the account manages its own lists again
    g.disassociate_members(DetectorId=d, AccountIds=[W1])
    assert w.list_ip_sets(DetectorId=wd)["IpSetIds"] == []
    w.create_ip_set(DetectorId=wd, Name="mine", Format="TXT", Location=url("m.txt"), Activate=False)


def test_unknown_or_foreign_detector(clients):
    g, d = standalone(clients)
    other, _ = standalone(clients, "666666666666")
    with pytest.raises(ClientError) as ei:
        other.create_ip_set(DetectorId=d, Name="x", Format="TXT", Location=url("a.txt"), Activate=False)
    assert err(ei) == ("BadRequestException",
                       "The request is rejected because the input detectorId is not owned by the current account.", 400)


# ---------------------------------------------------------------- quotas, names, ids


def test_quotas_and_unique_names(clients):
    g, d = standalone(clients)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False)["IpSetId"]
    with pytest.raises(ClientError) as ei:  # 1 IP set per account and Region
        g.create_ip_set(DetectorId=d, Name="second", Format="TXT", Location=url("b.txt"), Activate=False)
    assert err(ei) == ("BadRequestException", MSG_LIMIT, 400)
    ids = [g.create_threat_intel_set(DetectorId=d, Name=f"t{i}", Format="STIX", Location=url(f"t{i}.xml"),
                                     Activate=False)["ThreatIntelSetId"] for i in range(6)]
    with pytest.raises(ClientError) as ei:  # the 7th threat intel set
        g.create_threat_intel_set(DetectorId=d, Name="t7", Format="TXT", Location=url("t7.txt"), Activate=False)
    assert err(ei) == ("BadRequestException", MSG_LIMIT, 400)
    g.delete_threat_intel_set(DetectorId=d, ThreatIntelSetId=ids[0])
    with pytest.raises(ClientError) as ei:  # duplicate name among threat intel sets
        g.create_threat_intel_set(DetectorId=d, Name="t1", Format="TXT", Location=url("x.txt"), Activate=False)
    assert err(ei) == ("BadRequestException", "The request is rejected because a list with the name t1 already "
                       "exists in this account and Region.", 400)
    with pytest.raises(ClientError) as ei:  # ... and across IP sets and threat intel sets
        g.create_threat_intel_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("x.txt"), Activate=False)
    assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:  # renaming onto another list's name
        g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId=ids[1], Name="t2")
    assert err(ei)[0] == "BadRequestException"
    t0 = g.create_threat_intel_set(DetectorId=d, Name="t0", Format="TXT", Location=url("x.txt"),
                                   Activate=False)["ThreatIntelSetId"]
    page1 = g.list_threat_intel_sets(DetectorId=d, MaxResults=4)
    page2 = g.list_threat_intel_sets(DetectorId=d, MaxResults=4, NextToken=page1["NextToken"])
    assert page1["ThreatIntelSetIds"] + page2["ThreatIntelSetIds"] == ids[1:] + [t0]
    assert "NextToken" not in page2
    assert g.list_ip_sets(DetectorId=d)["IpSetIds"] == [ip]


def test_unknown_ids_and_delete(clients):
    g, d = standalone(clients)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False)["IpSetId"]
    g.delete_ip_set(DetectorId=d, IpSetId=ip)
    assert g.list_ip_sets(DetectorId=d)["IpSetIds"] == []
    for call in (
        lambda: g.get_ip_set(DetectorId=d, IpSetId=ip),
        lambda: g.update_ip_set(DetectorId=d, IpSetId=ip, Activate=True),
        lambda: g.delete_ip_set(DetectorId=d, IpSetId=ip),
        lambda: g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId="0" * 32),
        lambda: g.update_threat_intel_set(DetectorId=d, ThreatIntelSetId="0" * 32, Name="x"),
        lambda: g.delete_threat_intel_set(DetectorId=d, ThreatIntelSetId="0" * 32),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("BadRequestException", MSG_NOT_FOUND, 400)
    # the IP set's slot is free again
    g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False)


def test_client_token_idempotency(clients, endpoint):
    g, d = standalone(clients)
    put(bucket(clients, STANDALONE), "t.txt", "203.0.113.7\n")
    args = dict(DetectorId=d, Name="feed", Format="TXT", Location=url("t.txt"), Activate=True, Tags={"a": "b"})
    t1 = g.create_threat_intel_set(ClientToken="tok-1", **args)["ThreatIntelSetId"]
    t2 = g.create_threat_intel_set(ClientToken="tok-1", **args)["ThreatIntelSetId"]
    assert t1 == t2
    assert g.list_threat_intel_sets(DetectorId=d)["ThreatIntelSetIds"] == [t1]
    assert debug(endpoint)[t1]["loadCount"] == 1  # the retry read nothing again
    with pytest.raises(ClientError) as ei:
        g.create_threat_intel_set(ClientToken="tok-1", **{**args, "Location": url("other.txt")})
    assert err(ei) == ("BadRequestException", MSG_TOKEN, 400)
    with pytest.raises(ClientError) as ei:  # a new token with the same name is a duplicate name
        g.create_threat_intel_set(ClientToken="tok-2", **args)
    assert err(ei)[0] == "BadRequestException"
    # the token also answers for the IP set once the quota is used up
    ip_args = dict(DetectorId=d, Name="trusted", Format="TXT", Location=url("t.txt"), Activate=False)
    ip = g.create_ip_set(ClientToken="ip-tok", **ip_args)["IpSetId"]
    assert g.create_ip_set(ClientToken="ip-tok", **ip_args)["IpSetId"] == ip
    # after a delete the token is forgotten
    g.delete_threat_intel_set(DetectorId=d, ThreatIntelSetId=t1)
    t3 = g.create_threat_intel_set(ClientToken="tok-1", **args)["ThreatIntelSetId"]
    assert t3 != t1


def test_tags_on_list_arns(clients):
    g, d = standalone(clients)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False,
                         Tags={"k": "v"})["IpSetId"]
    t = g.create_threat_intel_set(DetectorId=d, Name="threats", Format="TXT", Location=url("t.txt"),
                                  Activate=False)["ThreatIntelSetId"]
    ip_arn = f"arn:aws:guardduty:us-east-1:{STANDALONE}:detector/{d}/ipset/{ip}"
    t_arn = f"arn:aws:guardduty:us-east-1:{STANDALONE}:detector/{d}/threatintelset/{t}"
    g.tag_resource(ResourceArn=ip_arn, Tags={"x": "y"})
    g.tag_resource(ResourceArn=t_arn, Tags={"owner": "soc"})
    assert g.list_tags_for_resource(ResourceArn=ip_arn)["Tags"] == {"k": "v", "x": "y"}
    assert g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=t)["Tags"] == {"owner": "soc"}
    g.untag_resource(ResourceArn=ip_arn, TagKeys=["k"])
    assert g.get_ip_set(DetectorId=d, IpSetId=ip)["Tags"] == {"x": "y"}


def test_debug_endpoint_filters_and_reset(clients, endpoint):
    g, d = standalone(clients)
    ip = g.create_ip_set(DetectorId=d, Name="trusted", Format="TXT", Location=url("a.txt"), Activate=False)["IpSetId"]
    t = g.create_threat_intel_set(DetectorId=d, Name="threats", Format="TXT", Location=url("t.txt"),
                                  Activate=False)["ThreatIntelSetId"]
    assert set(debug(endpoint)) == {ip, t}
    assert set(debug(endpoint, kind="threatintelset")) == {t}
    assert debug(endpoint, accountId=MANAGEMENT) == {}
    assert debug(endpoint, region="eu-west-1") == {}
    reset(endpoint)
    assert debug(endpoint) == {}


def test_invalid_txt_entries_are_reported(clients, endpoint):
    g, d = standalone(clients)
    put(bucket(clients, STANDALONE), "t.txt", "203.0.113.7\nnot-an-ip\n10.0.0.0/255.255.0.0\n192.0.2.1-192.0.2.9\n")
    t = g.create_threat_intel_set(DetectorId=d, Name="feed", Format="TXT", Location=url("t.txt"),
                                  Activate=True)["ThreatIntelSetId"]
    info = debug(endpoint)[t]
    assert (info["status"], info["entries"], info["invalidEntryCount"]) == ("ACTIVE", 4, 3)
    assert info["invalidEntries"] == ["not-an-ip", "10.0.0.0/255.255.0.0", "192.0.2.1-192.0.2.9"]
