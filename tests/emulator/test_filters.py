"""Filters (suppression rules and saved filters) as AWS does them: contiguous ranks 1..N,
insertion and moves that shift the others, AWS's out-of-bounds error, the 100-filter quota,
validation, criteria round trip, tags on the filter ARN, paging, members refused.

Every GuardDuty response is checked strictly against botocore's output shapes (conftest).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import MANAGEMENT

SEC, W1 = "222222222222", "400000000001"
STANDALONE = "555555555555"

MSG_RANK = "The request is rejected because the parameter rank is out-of-bounds."
MSG_NOT_FOUND = "The request is rejected since no such resource found."
MSG_LIMIT = ("The request is rejected because it\u2019s an attempt to create resources beyond the current "
             "AWS account limits.")
MSG_NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."
MSG_MEMBER = "The request is rejected because member accounts cannot manage specified resources or properties."
MSG_TOKEN = ("The request is rejected because the clientToken was already used with different request "
             "parameters.")

CRIT = {"Criterion": {"severity": {"Lt": 4}}}


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def detector(clients, account=STANDALONE):
    g = clients("guardduty", account)
    return g, g.create_detector(Enable=True)["DetectorId"]


def names(g, det):
    return g.list_filters(DetectorId=det)["FilterNames"]


def ranks(g, det):
    return {n: g.get_filter(DetectorId=det, FilterName=n)["Rank"] for n in names(g, det)}


def make(g, det, name, **kw):
    kw.setdefault("FindingCriteria", CRIT)
    return g.create_filter(DetectorId=det, Name=name, **kw)


def test_create_in_order_and_defaults(clients):
    g, det = detector(clients)
    assert make(g, det, "first")["Name"] == "first"
    make(g, det, "second", Rank=2)
    make(g, det, "third")  # omitted rank -> N+1
    assert names(g, det) == ["first", "second", "third"]
    assert ranks(g, det) == {"first": 1, "second": 2, "third": 3}
    f = g.get_filter(DetectorId=det, FilterName="first")
    assert f["Action"] == "NOOP"  # default
    assert f["Version"] == 1
    assert f["CreatedAt"] == f["UpdatedAt"]
    assert "Description" not in f


def test_insert_in_the_middle_shifts_later_filters(clients):
    g, det = detector(clients)
    for n in ("a-1", "b-2", "c-3"):
        make(g, det, n)
    make(g, det, "new", Rank=2)
    assert names(g, det) == ["a-1", "new", "b-2", "c-3"]
    assert ranks(g, det) == {"a-1": 1, "new": 2, "b-2": 3, "c-3": 4}
    make(g, det, "top", Rank=1)
    assert names(g, det) == ["top", "a-1", "new", "b-2", "c-3"]
    make(g, det, "end", Rank=6)  # N+1 is allowed
    assert names(g, det)[-1] == "end"


@pytest.mark.parametrize("rank", [0, -1, 3, 50])
def test_create_rank_out_of_bounds(clients, rank):
    g, det = detector(clients)
    make(g, det, "only")  # N = 1: ranks 1..2 allowed
    with pytest.raises(ClientError) as ei:
        make(g, det, "gap", Rank=rank)
    assert err(ei) == ("BadRequestException", MSG_RANK, 400)
    assert names(g, det) == ["only"]


def test_first_filter_with_rank_2_is_refused(clients):
    """A gap is refused (terraform-provider-aws #49127: creating rank 2 before rank 1)."""
    g, det = detector(clients)
    with pytest.raises(ClientError) as ei:
        make(g, det, "second", Rank=2)
    assert err(ei) == ("BadRequestException", MSG_RANK, 400)


def test_update_moves_filter_and_others_shift(clients):
    g, det = detector(clients)
    for n in ("f-1", "f-2", "f-3", "f-4"):
        make(g, det, n)
    assert g.update_filter(DetectorId=det, FilterName="f-4", Rank=1)["Name"] == "f-4"
    assert names(g, det) == ["f-4", "f-1", "f-2", "f-3"]
    g.update_filter(DetectorId=det, FilterName="f-4", Rank=3)
    assert names(g, det) == ["f-1", "f-2", "f-4", "f-3"]
    assert ranks(g, det) == {"f-1": 1, "f-2": 2, "f-4": 3, "f-3": 4}
    # same rank: nothing moves; other fields update; version and updatedAt advance
    before = g.get_filter(DetectorId=det, FilterName="f-2")
    g.update_filter(DetectorId=det, FilterName="f-2", Rank=2, Action="ARCHIVE", Description="now archive")
    after = g.get_filter(DetectorId=det, FilterName="f-2")
    assert names(g, det) == ["f-1", "f-2", "f-4", "f-3"]
    assert (after["Action"], after["Description"], after["Version"]) == ("ARCHIVE", "now archive", 2)
    assert after["UpdatedAt"] >= before["UpdatedAt"]
    assert after["FindingCriteria"] == before["FindingCriteria"]


@pytest.mark.parametrize("rank", [0, 4, 5])
def test_update_rank_out_of_bounds(clients, rank):
    g, det = detector(clients)
    for n in ("f-1", "f-2", "f-3"):
        make(g, det, n)
    with pytest.raises(ClientError) as ei:
        g.update_filter(DetectorId=det, FilterName="f-1", Rank=rank, Action="ARCHIVE")
    assert err(ei) == ("BadRequestException", MSG_RANK, 400)
    f = g.get_filter(DetectorId=det, FilterName="f-1")
    assert (f["Rank"], f["Action"]) == (1, "NOOP")  # nothing applied


def test_delete_closes_the_gap(clients):
    g, det = detector(clients)
    for n in ("f-1", "f-2", "f-3", "f-4"):
        make(g, det, n)
    g.delete_filter(DetectorId=det, FilterName="f-2")
    assert ranks(g, det) == {"f-1": 1, "f-3": 2, "f-4": 3}
    g.delete_filter(DetectorId=det, FilterName="f-1")
    assert ranks(g, det) == {"f-3": 1, "f-4": 2}
    make(g, det, "f-5", Rank=3)
    assert names(g, det) == ["f-3", "f-4", "f-5"]
    for call in (lambda: g.delete_filter(DetectorId=det, FilterName="f-2"),
                 lambda: g.get_filter(DetectorId=det, FilterName="f-2"),
                 lambda: g.update_filter(DetectorId=det, FilterName="f-2", Action="ARCHIVE")):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("BadRequestException", MSG_NOT_FOUND, 400)


def test_limit_of_100_filters(clients):
    g, det = detector(clients)
    for i in range(100):
        make(g, det, f"filter-{i:03d}")
    with pytest.raises(ClientError) as ei:
        make(g, det, "one-too-many")
    assert err(ei) == ("BadRequestException", MSG_LIMIT, 400)
    with pytest.raises(ClientError) as ei:
        make(g, det, "one-too-many", Rank=1)
    assert err(ei) == ("BadRequestException", MSG_LIMIT, 400)
    assert g.get_filter(DetectorId=det, FilterName="filter-099")["Rank"] == 100
    g.delete_filter(DetectorId=det, FilterName="filter-000")
    make(g, det, "fits-again", Rank=100)
    assert names(g, det)[:1] == ["filter-001"]


def test_paging_in_rank_order(clients):
    g, det = detector(clients)
    for i in range(7):
        make(g, det, f"p-{i}")
    g.update_filter(DetectorId=det, FilterName="p-6", Rank=1)
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        resp = g.list_filters(DetectorId=det, MaxResults=3, **kw)
        pages.append(resp["FilterNames"])
        token = resp.get("NextToken")
        if not token:
            break
    assert pages == [["p-6", "p-0", "p-1"], ["p-2", "p-3", "p-4"], ["p-5"]]
    for bad in (0, 51):
        with pytest.raises(ClientError) as ei:
            g.list_filters(DetectorId=det, MaxResults=bad)
        assert err(ei)[0] == "BadRequestException"
    full = g.list_filters(DetectorId=det, MaxResults=50)
    assert full["FilterNames"] == ["p-6"] + [f"p-{i}" for i in range(6)]
    assert "NextToken" not in full


def test_duplicate_name(clients):
    g, det = detector(clients)
    make(g, det, "dup.name_1")
    with pytest.raises(ClientError) as ei:
        make(g, det, "dup.name_1", Action="ARCHIVE")
    assert err(ei) == ("BadRequestException",
                       "The request is rejected because a filter with the name dup.name_1 already exists.", 400)
    # a different detector (another account) may use the name
    g2, det2 = detector(clients, "666666666666")
    make(g2, det2, "dup.name_1")


@pytest.mark.parametrize("kw,param", [
    ({"Name": "ab"}, "name"),
    ({"Name": "x" * 65}, "name"),
    ({"Name": "has space"}, "name"),
    ({"Name": "bad/slash"}, "name"),
    ({"Action": "DELETE"}, "action"),
    ({"Description": "d" * 513}, "description"),
    ({"Description": "no commas, here"}, "description"),
    ({"FindingCriteria": {"Criterion": {}}}, "findingCriteria"),
    ({"FindingCriteria": {}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"severity": {}}}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"severity": {"Gt": 1.5}}}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"type": {"Equals": []}}}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"type": {"Equals": ["x"] * 51}}}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"type": {"Matches": ["a"] * 6}}}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"type": {"Matches": ["m" * 513]}}}}, "findingCriteria"),
    ({"FindingCriteria": {"Criterion": {"severity": {"Gt": "4"}}}}, "findingCriteria"),
    ({"ClientToken": "t" * 65}, "clientToken"),
])
def test_invalid_input(clients, kw, param):
    g, det = detector(clients)
    args = {"Name": "valid-name", "FindingCriteria": CRIT}
    args.update(kw)
    with pytest.raises(ClientError) as ei:
        g.create_filter(DetectorId=det, **args)
    assert err(ei) == ("BadRequestException",
                       f"The request is rejected because the parameter {param} has an invalid value.", 400)
    assert names(g, det) == []


def test_valid_edge_values(clients):
    g, det = detector(clients)
    make(g, det, "abc")
    make(g, det, "A" * 64, Description="", Action="ARCHIVE")
    make(g, det, "desc.ok", Description="Allowed: {x} [y] (z) a/b_c-d.e\ttab\nnewline" + "x" * 400)
    assert g.get_filter(DetectorId=det, FilterName="A" * 64)["Description"] == ""


def test_update_validation(clients):
    g, det = detector(clients)
    make(g, det, "target")
    for kw, param in [({"Action": "NOPE"}, "action"), ({"Description": "d" * 513}, "description"),
                      ({"FindingCriteria": {"Criterion": {}}}, "findingCriteria")]:
        with pytest.raises(ClientError) as ei:
            g.update_filter(DetectorId=det, FilterName="target", **kw)
        assert err(ei) == ("BadRequestException",
                           f"The request is rejected because the parameter {param} has an invalid value.", 400)


def test_criteria_round_trip(clients):
    g, det = detector(clients)
    crit = {"Criterion": {
        "severity": {"GreaterThanOrEqual": 4, "LessThan": 7},
        "type": {"Equals": ["Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:EC2/SSHBruteForce"]},
        "resource.instanceDetails.instanceId": {"NotEquals": ["i-0123456789abcdef0"]},
        "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4": {"Eq": ["10.0.0.1"]},
        "accountId": {"Neq": ["123456789012"]},
        "confidence": {"Gt": 1, "Gte": 2, "Lt": 9, "Lte": 8},
        "updatedAt": {"GreaterThan": 1486685375000, "LessThanOrEqual": 1786685375000},
        "resource.s3BucketDetails.name": {"Matches": ["logs-*", "archive-?"], "NotMatches": ["*-prod"]},
    }}
    make(g, det, "every-operator", FindingCriteria=crit, Action="ARCHIVE", Description="all operators")
    f = g.get_filter(DetectorId=det, FilterName="every-operator")
    assert f["FindingCriteria"] == crit
    assert (f["Name"], f["Action"], f["Description"], f["Rank"]) == ("every-operator", "ARCHIVE", "all operators", 1)
    new = {"Criterion": {"severity": {"Gte": 8}}}
    g.update_filter(DetectorId=det, FilterName="every-operator", FindingCriteria=new)
    assert g.get_filter(DetectorId=det, FilterName="every-operator")["FindingCriteria"] == new


def test_tags_on_filter_arn(clients):
    g, det = detector(clients)
    make(g, det, "tagged", Tags={"team": "secops", "env": "prod"})
    assert g.get_filter(DetectorId=det, FilterName="tagged")["Tags"] == {"team": "secops", "env": "prod"}
    arn = f"arn:aws:guardduty:us-east-1:{STANDALONE}:detector/{det}/filter/tagged"
    assert g.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "secops", "env": "prod"}
    g.tag_resource(ResourceArn=arn, Tags={"owner": "me"})
    g.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert g.get_filter(DetectorId=det, FilterName="tagged")["Tags"] == {"team": "secops", "owner": "me"}
    make(g, det, "untagged")
    assert g.get_filter(DetectorId=det, FilterName="untagged")["Tags"] == {}
    with pytest.raises(ClientError) as ei:
        make(g, det, "badtag", Tags={"aws:reserved": "x"})
    assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:
        g.list_tags_for_resource(ResourceArn=arn.replace("tagged", "missing"))
    assert err(ei)[0] == "BadRequestException"


def test_client_token_idempotency(clients):
    g, det = detector(clients)
    make(g, det, "tok", ClientToken="abc")
    assert make(g, det, "tok", ClientToken="abc")["Name"] == "tok"
    assert names(g, det) == ["tok"]
    with pytest.raises(ClientError) as ei:
        make(g, det, "tok", ClientToken="abc", Action="ARCHIVE")
    assert err(ei) == ("BadRequestException", MSG_TOKEN, 400)


def test_unknown_or_foreign_detector(clients):
    g, det = detector(clients)
    other = clients("guardduty", "666666666666")
    for call in (lambda: other.create_filter(DetectorId=det, Name="x-y-z", FindingCriteria=CRIT),
                 lambda: other.list_filters(DetectorId=det),
                 lambda: g.create_filter(DetectorId="0" * 32, Name="x-y-z", FindingCriteria=CRIT),
                 lambda: g.get_filter(DetectorId="0" * 32, FilterName="x-y-z")):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("BadRequestException", MSG_NOT_OWNED, 400)


def test_only_the_administrator_manages_filters(clients, org):
    clients("guardduty").enable_organization_admin_account(AdminAccountId=SEC)
    admin = clients("guardduty", SEC)
    adet = admin.list_detectors()["DetectorIds"][0]
    admin.create_members(DetectorId=adet, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"}])
    make(admin, adet, "org-wide", Action="ARCHIVE")
    member = clients("guardduty", W1)
    mdet = member.list_detectors()["DetectorIds"][0]
    with pytest.raises(ClientError) as ei:
        make(member, mdet, "mine")
    assert err(ei) == ("BadRequestException", MSG_MEMBER, 400)
    assert names(member, mdet) == []
    # the management account (not a member) manages its own
    mg = clients("guardduty", MANAGEMENT)
    mgdet = mg.create_detector(Enable=True)["DetectorId"]
    make(mg, mgdet, "mgmt-own")
    assert names(mg, mgdet) == ["mgmt-own"]
