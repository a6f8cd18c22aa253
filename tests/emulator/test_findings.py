"""GuardDuty findings: the seeding endpoint, ListFindings (criteria, sort, paging), GetFindings,
GetFindingsStatistics (every groupBy and the deprecated COUNT_BY_SEVERITY), the administrator's
scope, suppression rules, Archive/UnarchiveFindings, CreateSampleFindings, errors, reset, the
performance targets and seed.py --findings.

Every GuardDuty response is checked strictly against botocore's output shapes (conftest).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import MANAGEMENT

SEC, LOG, W1, W2, W3 = "222222222222", "333333333333", "400000000001", "400000000002", "400000000003"
STANDALONE = "555555555555"
R1, R2 = "us-east-1", "eu-west-1"

TEMPLATES = {
    "01": ("01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json", "UnauthorizedAccess:EC2/SSHBruteForce", "Instance"),
    "02": ("02_Recon_EC2_PortProbeUnprotectedPort.eventbridge.json", "Recon:EC2/PortProbeUnprotectedPort", "Instance"),
    "03": ("03_CryptoCurrency_EC2_BitcoinTool.B_DNS.eventbridge.json", "CryptoCurrency:EC2/BitcoinTool.B!DNS", "Instance"),
    "04": ("04_Impact_S3_MaliciousIPCaller.sample.finding.json", "Impact:S3/MaliciousIPCaller", "S3Bucket"),
    "05": ("05_UnauthorizedAccess_IAMUser_MaliciousIPCaller.sample.finding.json",
           "UnauthorizedAccess:IAMUser/MaliciousIPCaller", "AccessKey"),
    "06": ("06_UnauthorizedAccess_EC2_MaliciousIPCaller.Custom.eventbridge.json",
           "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "Instance"),
}

MSG_NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."
MSG_MEMBER = "The request is rejected because member accounts cannot manage specified resources or properties."


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def post(endpoint: str, path: str, payload) -> tuple[int, dict]:
    req = urllib.request.Request(endpoint + path, method="POST", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def seed(endpoint: str, findings: list[dict]) -> list[str]:
    status, body = post(endpoint, "/moto-api/guardform/findings", {"findings": findings})
    assert status == 200, body
    assert len(body["ids"]) == len(findings)
    return body["ids"]


def iso(day: int, hour: int = 12) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:00:00Z"


def millis(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def detector(clients, account=STANDALONE, region=R1):
    g = clients("guardduty", account, region=region)
    return g, g.create_detector(Enable=True)["DetectorId"]


def delegate(clients, admin=SEC, members=(W1, W2), region=R1):
    clients("guardduty", region=region).enable_organization_admin_account(AdminAccountId=admin)
    g = clients("guardduty", admin, region=region)
    det = g.list_detectors()["DetectorIds"][0]
    if members:
        res = g.create_members(DetectorId=det, AccountDetails=[
            {"AccountId": m, "Email": f"{m}@example.com"} for m in members])
        assert res["UnprocessedAccounts"] == []
    return g, det


def all_ids(g, det, **kw) -> list[str]:
    ids, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = g.list_findings(DetectorId=det, **kw, **extra)
        ids.extend(page["FindingIds"])
        token = page.get("NextToken")
        if not token:
            return ids


def get_all(g, det, ids) -> list[dict]:
    out = []
    for i in range(0, len(ids), 50):
        out.extend(g.get_findings(DetectorId=det, FindingIds=ids[i:i + 50])["Findings"])
    return out


def level(sev: float) -> float:
    return 9.0 if sev >= 9 else 7.0 if sev >= 7 else 4.0 if sev >= 4 else 1.0


def mixed(account: str, n: int, region: str = R1, start: int = 0) -> list[dict]:
    """n findings over the templates, severities in all four levels, days 1..28 of March 2024."""
    sevs = [2.0, 3.5, 5.0, 6.9, 7.0, 8.0, 9.0, 10.0, 1.0, 4.0, 8.9]
    keys = list(TEMPLATES)
    return [{"account": account, "region": region, "template": keys[(start + i) % 6],
             "severity": sevs[(start + i) % len(sevs)], "updatedAt": iso(1 + (start + i) % 28, (start + i) % 24)}
            for i in range(n)]


# ---------------------------------------------------------------- hooks


def test_findings_extension_is_hooked_in(endpoint):
    """Fails loudly if a moto upgrade moved the extension points."""
    sys.path.insert(0, os.path.dirname(__file__))
    import findings_ext
    import server
    from moto.guardduty import urls
    from moto.guardduty.responses import GuardDutyResponse

    server.install()
    assert findings_ext.installed()
    assert "{0}/detector/(?P<detector_id>[^/]+)/findings/statistics$" in urls.url_paths
    assert GuardDutyResponse.list_findings is findings_ext.list_findings
    assert GuardDutyResponse.list_coverage is findings_ext.list_coverage
    assert len(findings_ext.templates()) == len(TEMPLATES)
    # Over HTTP: an operation stock moto lacks answers JSON (here its error), not moto's HTML 404.
    req = urllib.request.Request(endpoint + "/detector/nope/findings", method="POST", data=b"{}", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/guardduty/aws4_request, "
                         "SignedHeaders=host, Signature=x", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req)
    assert ei.value.code == 400 and ei.value.headers["Content-Type"] == "application/json"
    assert json.loads(ei.value.read())["message"] == MSG_NOT_OWNED


# ---------------------------------------------------------------- seeding and GetFindings


def test_seed_and_get_findings(clients, endpoint):
    g, det = detector(clients)
    specs = [{"account": STANDALONE, "region": R1, "template": k, "severity": 1.0 + i,
              "updatedAt": iso(i + 1)} for i, k in enumerate(TEMPLATES)]
    specs[0]["template"] = TEMPLATES["01"][0]  # by full file name
    specs[1]["template"] = "Recon:EC2/PortProbeUnprotectedPort"  # by finding type
    specs[2]["count"] = 7
    specs[3]["type"] = "Exfiltration:S3/AnomalousBehavior"
    specs[4]["archived"] = True
    specs[5]["resourceType"] = "Lambda"
    specs[5]["createdAt"] = "2024-02-01T00:00:00Z"
    ids = seed(endpoint, specs)
    assert len(set(ids)) == 6

    listed = g.list_findings(DetectorId=det)
    assert sorted(listed["FindingIds"]) == sorted(ids) and "NextToken" not in listed
    found = {f["Id"]: f for f in g.get_findings(DetectorId=det, FindingIds=ids)["Findings"]}
    assert set(found) == set(ids)
    for i, (fid, key) in enumerate(zip(ids, TEMPLATES)):
        f = found[fid]
        assert f["AccountId"] == STANDALONE and f["Region"] == R1 and f["Partition"] == "aws"
        assert f["Arn"] == f"arn:aws:guardduty:{R1}:{STANDALONE}:detector/{det}/finding/{fid}"
        assert f["Service"]["DetectorId"] == det and f["Service"]["ServiceName"] == "guardduty"
        assert f["Severity"] == 1.0 + i
        assert f["UpdatedAt"] == iso(i + 1).replace(":00Z", ":00.000Z")
        assert f["SchemaVersion"] == "2.0" and f["Title"] and f["Description"]
        assert f["Service"]["EventLastSeen"] == f["UpdatedAt"]
        want_type = "Exfiltration:S3/AnomalousBehavior" if key == "04" else TEMPLATES[key][1]
        assert f["Type"] == want_type
        assert f["Resource"]["ResourceType"] == ("Lambda" if key == "06" else TEMPLATES[key][2])
        assert f["Service"]["Archived"] is (key == "05")
    assert found[ids[2]]["Service"]["Count"] == 7 and found[ids[0]]["Service"]["Count"] == 1
    assert found[ids[5]]["CreatedAt"] == "2024-02-01T00:00:00.000Z"
    assert found[ids[0]]["CreatedAt"] == found[ids[0]]["UpdatedAt"]  # createdAt defaults to updatedAt
    # The fixture's details are kept, cleaned to the model (asn as a string, launchTime ISO)...
    ssh = found[ids[0]]
    assert ssh["Resource"]["InstanceDetails"]["InstanceId"] == "i-08eb5518ab527d5aa"
    remote = ssh["Service"]["Action"]["NetworkConnectionAction"]["RemoteIpDetails"]
    assert remote["Organization"]["Asn"] == "45090" and remote["IpAddressV4"] == "111.230.166.116"
    assert ssh["Resource"]["InstanceDetails"]["LaunchTime"] == "2017-11-15T21:45:06.000Z"
    # ...additionalInfo as the API gives it ({value: JSON, type})...
    probe = found[ids[1]]["Service"]["AdditionalInfo"]
    assert probe["Type"] == "default" and json.loads(probe["Value"]) == {"threatName": "Scanner",
                                                                           "threatListName": "ProofPoint"}
    # ...and the fixture's account and Region are replaced by the finding's.
    s3 = found[ids[3]]
    assert STANDALONE in s3["Resource"]["InstanceDetails"]["IamInstanceProfile"]["Arn"]
    assert "973743533182" not in json.dumps(s3, default=str)
    # unknown ids are left out; order follows the request
    got = g.get_findings(DetectorId=det, FindingIds=["0" * 32, ids[3], ids[1]])["Findings"]
    assert [f["Id"] for f in got] == [ids[3], ids[1]]


def test_seed_endpoint_validation(clients, endpoint):
    g, det = detector(clients)
    good = {"account": STANDALONE, "region": R1, "template": "01"}
    for bad, word in [({**good, "template": "nope"}, "template"),
                      ({**good, "account": "12"}, "account"),
                      ({**good, "region": "xx-nowhere-1"}, "Region"),
                      ({**good, "severity": 11}, "severity"),
                      ({**good, "updatedAt": "yesterday"}, "updatedAt"),
                      ({**good, "archived": "yes"}, "archived"),
                      ({**good, "count": 0}, "count")]:
        status, body = post(endpoint, "/moto-api/guardform/findings", {"findings": [good, bad]})
        assert status == 400 and word in body["message"], body
    assert g.list_findings(DetectorId=det)["FindingIds"] == []  # nothing stored on error
    ids = seed(endpoint, [{**good, "id": "my-finding-1"}])
    assert ids == ["my-finding-1"]
    status, body = post(endpoint, "/moto-api/guardform/findings", {"findings": [{**good, "id": "my-finding-1"}]})
    assert status == 400 and "already exists" in body["message"]
    # the debug listing
    with urllib.request.urlopen(f"{endpoint}/moto-api/guardform/findings?accountId={STANDALONE}") as r:
        listed = json.loads(r.read())["findings"]
    assert [f["id"] for f in listed] == ["my-finding-1"] and listed[0]["service"]["detectorId"] == det


def test_findings_seeded_before_the_detector_get_its_id(clients, endpoint):
    ids = seed(endpoint, [{"account": STANDALONE, "region": R1, "template": "02"}])
    g, det = detector(clients)
    f = g.get_findings(DetectorId=det, FindingIds=ids)["Findings"][0]
    assert (f["Service"]["DetectorId"], f["Arn"].split("/")[1]) == (det, det), (det, f["Service"], f["Arn"])


# ---------------------------------------------------------------- ListFindings


def test_list_findings_criteria(clients, endpoint):
    g, det = detector(clients)
    specs = mixed(STANDALONE, 44)
    specs[3]["archived"] = True
    specs[10]["archived"] = True
    ids = seed(endpoint, specs)
    seed(endpoint, mixed(STANDALONE, 5, region=R2))  # another Region: never listed here
    by_id = dict(zip(ids, specs))

    def listed(criterion, **kw):
        got = all_ids(g, det, FindingCriteria={"Criterion": criterion}, **kw)
        assert len(got) == len(set(got))
        return set(got)

    def expect(pred):
        return {i for i, s in by_id.items() if pred(s)}

    assert listed({}) == set(ids)
    assert listed({"severity": {"GreaterThanOrEqual": 7}}) == expect(lambda s: s["severity"] >= 7)
    assert listed({"severity": {"Gte": 4, "Lt": 7}}) == expect(lambda s: 4 <= s["severity"] < 7)
    assert listed({"severity": {"LessThan": 4}}) == expect(lambda s: s["severity"] < 4)
    # severity levels as CloudFormation documents them: Medium = ["4", "5", "6"]
    assert listed({"severity": {"Eq": ["4", "5", "6"]}}) == expect(lambda s: 4 <= s["severity"] < 7)
    t04 = TEMPLATES["04"][1]
    assert listed({"type": {"Equals": [t04]}}) == expect(lambda s: s["template"] == "04")
    assert listed({"type": {"NotEquals": [t04, TEMPLATES["05"][1]]}}) == expect(
        lambda s: s["template"] not in ("04", "05"))
    assert listed({"resource.resourceType": {"Eq": ["S3Bucket"]}}) == expect(lambda s: s["template"] == "04")
    assert listed({"accountId": {"Eq": [STANDALONE]}}) == set(ids)
    assert listed({"accountId": {"Neq": [STANDALONE]}}) == set()
    assert listed({"region": {"Eq": [R2]}}) == set()
    assert listed({"id": {"Eq": ids[:3]}}) == set(ids[:3])
    cut = millis(iso(15))
    assert listed({"updatedAt": {"GreaterThanOrEqual": cut}}) == expect(lambda s: millis(s["updatedAt"]) >= cut)
    assert listed({"updatedAt": {"LessThan": cut}}) == expect(lambda s: millis(s["updatedAt"]) < cut)
    assert listed({"service.archived": {"Eq": ["false"]}}) == set(ids) - {ids[3], ids[10]}
    assert listed({"service.archived": {"Equals": ["true"]}}) == {ids[3], ids[10]}
    # several criteria: AND
    assert listed({"severity": {"Gte": 7}, "service.archived": {"Eq": ["false"]},
                   "resource.resourceType": {"Eq": ["Instance"]}}) == expect(
        lambda s: s["severity"] >= 7 and not s.get("archived") and TEMPLATES[s["template"]][2] == "Instance")
    # nested attributes of the fixtures
    assert listed({"resource.instanceDetails.instanceId": {"Eq": ["i-08eb5518ab527d5aa"]}}) == expect(
        lambda s: s["template"] == "01")
    assert listed({"service.action.actionType": {"Eq": ["AWS_API_CALL"]}}) == expect(
        lambda s: s["template"] in ("04", "05"))
    assert listed({"service.additionalInfo.threatListName": {"Eq": ["ProofPoint"]}}) == expect(
        lambda s: s["template"] in ("02", "03"))


def test_list_findings_sort_and_paging(clients, endpoint):
    g, det = detector(clients)
    specs = mixed(STANDALONE, 123)
    ids = seed(endpoint, specs)
    sev = {i: s["severity"] for i, s in zip(ids, specs)}
    upd = {i: millis(s["updatedAt"]) for i, s in zip(ids, specs)}

    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = g.list_findings(DetectorId=det, MaxResults=7, **kw)
        pages.append(page["FindingIds"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [7] * 17 + [4]
    flat = [i for p in pages for i in p]
    assert sorted(flat) == sorted(ids) and len(set(flat)) == 123  # every id exactly once
    assert flat == ids  # without sortCriteria: in the order they were stored

    desc = all_ids(g, det, MaxResults=50, SortCriteria={"AttributeName": "severity", "OrderBy": "DESC"})
    assert sorted(desc) == sorted(ids)
    assert [sev[i] for i in desc] == sorted(sev.values(), reverse=True)
    asc = all_ids(g, det, SortCriteria={"AttributeName": "updatedAt", "OrderBy": "ASC"},
                  FindingCriteria={"Criterion": {"severity": {"Gte": 7}}})
    assert [upd[i] for i in asc] == sorted(upd[i] for i in ids if sev[i] >= 7)
    # GetFindings sorts too
    got = g.get_findings(DetectorId=det, FindingIds=ids[:20],
                         SortCriteria={"AttributeName": "severity", "OrderBy": "ASC"})["Findings"]
    assert [f["Severity"] for f in got] == sorted(sev[i] for i in ids[:20])
    # the default page size is 50
    assert len(g.list_findings(DetectorId=det)["FindingIds"]) == 50


# ---------------------------------------------------------------- statistics


def test_statistics_by_every_group(clients, org, endpoint):
    sg, sd = delegate(clients)
    specs = mixed(SEC, 17) + mixed(W1, 23, start=5) + mixed(W2, 9, start=11)
    specs[0]["archived"] = True
    seed(endpoint, specs)
    seed(endpoint, mixed(W3, 6))  # not a member: not counted

    def stats(**kw):
        return sg.get_findings_statistics(DetectorId=sd, **kw)["FindingStatistics"]

    by_account = {s["AccountId"]: s["TotalFindings"] for s in stats(GroupBy="ACCOUNT")["GroupedByAccount"]}
    assert by_account == dict(Counter(s["account"] for s in specs))
    accounts = stats(GroupBy="ACCOUNT")["GroupedByAccount"]
    assert [a["AccountId"] for a in accounts] == [W1, SEC, W2]  # DESC by count (the default)
    last = max(millis(s["updatedAt"]) for s in specs if s["account"] == W1) / 1000
    assert accounts[0]["LastGeneratedAt"].timestamp() == last
    asc = stats(GroupBy="ACCOUNT", OrderBy="ASC")["GroupedByAccount"]
    assert [a["AccountId"] for a in asc] == [W2, SEC, W1]
    assert len(stats(GroupBy="ACCOUNT", MaxResults=2)["GroupedByAccount"]) == 2

    by_type = {s["FindingType"]: s["TotalFindings"] for s in stats(GroupBy="FINDING_TYPE")["GroupedByFindingType"]}
    assert by_type == dict(Counter(TEMPLATES[s["template"]][1] for s in specs))

    by_sev = {s["Severity"]: s["TotalFindings"] for s in stats(GroupBy="SEVERITY")["GroupedBySeverity"]}
    assert by_sev == dict(Counter(level(s["severity"]) for s in specs))
    assert set(by_sev) == {1.0, 4.0, 7.0, 9.0}

    dates = stats(GroupBy="DATE", MaxResults=100)["GroupedByDate"]
    want = Counter((s["updatedAt"][:10], level(s["severity"])) for s in specs)
    got = {(d["Date"].astimezone(timezone.utc).strftime("%Y-%m-%d"), d["Severity"]): d["TotalFindings"]
           for d in dates}
    assert got == dict(want)
    assert all(d["Date"].hour == 0 and d["Date"].minute == 0 for d in dates)
    assert len(stats(GroupBy="DATE")["GroupedByDate"]) == min(25, len(want))  # default maxResults 25

    resources = stats(GroupBy="RESOURCE", MaxResults=100)["GroupedByResource"]
    assert sum(r["TotalFindings"] for r in resources) == len(specs)
    w1_ssh = [r for r in resources if r["AccountId"] == W1 and r["ResourceId"] == "i-08eb5518ab527d5aa"]
    assert w1_ssh and w1_ssh[0]["ResourceType"] == "Instance"
    assert w1_ssh[0]["TotalFindings"] == sum(1 for s in specs if s["account"] == W1 and s["template"] == "01")
    s3 = [r for r in resources if r["ResourceType"] == "S3Bucket"]
    assert {r["ResourceId"] for r in s3} == {"bucketName"}

    # criteria apply; archived findings count unless excluded
    crit = {"Criterion": {"service.archived": {"Eq": ["false"]}, "severity": {"Gte": 7}}}
    high = stats(GroupBy="ACCOUNT", FindingCriteria=crit)["GroupedByAccount"]
    assert {a["AccountId"]: a["TotalFindings"] for a in high} == dict(Counter(
        s["account"] for s in specs if s["severity"] >= 7 and not s.get("archived")))

    # the deprecated form: counts by the findings' severity values
    cbs = stats(FindingStatisticTypes=["COUNT_BY_SEVERITY"])
    assert cbs["CountBySeverity"] == {repr(float(k)): v for k, v in Counter(s["severity"] for s in specs).items()}
    assert set(cbs) == {"CountBySeverity"}


def test_statistics_errors(clients):
    g, det = detector(clients)
    cases = [
        dict(),  # neither findingStatisticTypes nor groupBy
        dict(GroupBy="SEVERITY", FindingStatisticTypes=["COUNT_BY_SEVERITY"]),  # both
        dict(GroupBy="SEVERITY", MaxResults=0),
        dict(GroupBy="SEVERITY", MaxResults=101),
        dict(GroupBy="COLOUR"),
        dict(GroupBy="SEVERITY", OrderBy="UP"),
        dict(FindingStatisticTypes=["COUNT_BY_TYPE"]),
        dict(FindingStatisticTypes=["COUNT_BY_SEVERITY"], MaxResults=5),  # only with groupBy
        dict(GroupBy="ACCOUNT", FindingCriteria={"Criterion": {"colour": {"Eq": ["red"]}}}),
    ]
    for kw in cases:
        with pytest.raises(ClientError) as ei:
            g.get_findings_statistics(DetectorId=det, **kw)
        assert err(ei)[0] == "BadRequestException" and err(ei)[2] == 400, kw
    g.get_findings_statistics(DetectorId=det, GroupBy="SEVERITY", MaxResults=100)  # the limit is allowed


# ---------------------------------------------------------------- administrator scope


def test_administrator_scope(clients, org, endpoint):
    sg, sd = delegate(clients)
    own = seed(endpoint, mixed(SEC, 3))
    m1 = seed(endpoint, mixed(W1, 4))
    m2 = seed(endpoint, mixed(W2, 5))
    other = seed(endpoint, mixed(W3, 2))  # W3: not a member
    eu = seed(endpoint, mixed(W1, 2, region=R2))  # W1's findings in another Region

    assert set(all_ids(sg, sd)) == set(own + m1 + m2)
    got = sg.get_findings(DetectorId=sd, FindingIds=own + m1 + m2 + other + eu)["Findings"]
    assert {f["Id"] for f in got} == set(own + m1 + m2)
    w1d = clients("guardduty", W1).list_detectors()["DetectorIds"][0]
    assert {f["AccountId"] for f in got} == {SEC, W1, W2}
    assert {f["Service"]["DetectorId"] for f in got if f["AccountId"] == W1} == {w1d}  # the member's detector

    # a member sees only its own
    w1 = clients("guardduty", W1)
    assert set(all_ids(w1, w1d)) == set(m1)
    assert {f["Id"] for f in w1.get_findings(DetectorId=w1d, FindingIds=own + m1 + m2)["Findings"]} == set(m1)
    acc = w1.get_findings_statistics(DetectorId=w1d, GroupBy="ACCOUNT")["FindingStatistics"]["GroupedByAccount"]
    assert [(a["AccountId"], a["TotalFindings"]) for a in acc] == [(W1, 4)]
    # a standalone account sees only its own
    w3 = clients("guardduty", W3)
    w3d = w3.create_detector(Enable=True)["DetectorId"]
    assert set(all_ids(w3, w3d)) == set(other)

    # the administrator in the other Region sees nothing of us-east-1 (and W1 is no member there)
    clients("guardduty", region=R2).enable_organization_admin_account(AdminAccountId=SEC)
    sg2 = clients("guardduty", SEC, region=R2)
    sd2 = sg2.list_detectors()["DetectorIds"][0]
    assert all_ids(sg2, sd2) == []

    # a disassociated member leaves the administrator's view; a deleted one too
    sg.disassociate_members(DetectorId=sd, AccountIds=[W2])
    assert set(all_ids(sg, sd)) == set(own + m1)
    assert sg.get_findings(DetectorId=sd, FindingIds=m2)["Findings"] == []
    acc = sg.get_findings_statistics(DetectorId=sd, GroupBy="ACCOUNT")["FindingStatistics"]["GroupedByAccount"]
    assert {a["AccountId"] for a in acc} == {SEC, W1}
    sg.delete_members(DetectorId=sd, AccountIds=[W1])
    assert set(all_ids(sg, sd)) == set(own)
    # ...and the former member still sees its own
    assert set(all_ids(w1, w1d)) == set(m1)


def test_invited_member_is_in_scope_once_enabled(clients, endpoint):
    """Invitation flow (no organization): Enabled only after the member accepts."""
    admin, member = "666666666666", "777777777777"
    ag, ad = detector(clients, admin)
    mg, md = detector(clients, member)
    ids = seed(endpoint, mixed(member, 3))
    ag.create_members(DetectorId=ad, AccountDetails=[{"AccountId": member, "Email": "m@example.com"}])
    ag.invite_members(DetectorId=ad, AccountIds=[member])
    assert all_ids(ag, ad) == []
    inv = mg.list_invitations()["Invitations"][0]
    mg.accept_administrator_invitation(DetectorId=md, AdministratorId=admin, InvitationId=inv["InvitationId"])
    assert set(all_ids(ag, ad)) == set(ids)


# ---------------------------------------------------------------- suppression and archiving


def test_suppression_rules_archive_new_findings(clients, org, endpoint):
    sg, sd = delegate(clients)
    sg.create_filter(DetectorId=sd, Name="low-noise", Action="ARCHIVE",
                     FindingCriteria={"Criterion": {"severity": {"Lt": 4}}})
    sg.create_filter(DetectorId=sd, Name="just-a-view", Action="NOOP",
                     FindingCriteria={"Criterion": {"type": {"Eq": [TEMPLATES["06"][1]]}}})
    sg.create_filter(DetectorId=sd, Name="scanner", Action="ARCHIVE",
                     FindingCriteria={"Criterion": {"type": {"Eq": [TEMPLATES["02"][1]]},
                                                    "accountId": {"Eq": [W1]}}})
    specs = mixed(W1, 22) + mixed(SEC, 11, start=3) + mixed(W3, 11)
    specs[1]["archived"] = False  # "archived" given: the rules do not apply
    ids = seed(endpoint, specs)

    def suppressed(s):
        if s["account"] == W3:  # not a member: the administrator's rules do not apply
            return False
        return s["severity"] < 4 or (s["template"] == "02" and s["account"] == W1)

    want = {i for i, s in zip(ids, specs) if "archived" not in s and suppressed(s)}
    assert want and specs[1]["severity"] < 4
    visible = [i for i, s in zip(ids, specs) if s["account"] != W3]
    found = {f["Id"]: f for f in get_all(sg, sd, visible)}
    assert {i for i, f in found.items() if f["Service"]["Archived"]} == want
    active = set(all_ids(sg, sd, FindingCriteria={"Criterion": {"service.archived": {"Eq": ["false"]}}}))
    assert active == set(visible) - want
    # the new rule is not applied to findings that already exist
    sg.create_filter(DetectorId=sd, Name="everything", Action="ARCHIVE",
                     FindingCriteria={"Criterion": {"severity": {"Gte": 0}}})
    assert set(all_ids(sg, sd, FindingCriteria={"Criterion": {"service.archived": {"Eq": ["false"]}}})) == active
    new = seed(endpoint, mixed(W2, 2))
    assert all(f["Service"]["Archived"] for f in sg.get_findings(DetectorId=sd, FindingIds=new)["Findings"])

    # a standalone account's own suppression rule applies to its findings
    g, det = detector(clients)
    g.create_filter(DetectorId=det, Name="mine", Action="ARCHIVE",
                    FindingCriteria={"Criterion": {"resource.resourceType": {"Eq": ["S3Bucket"]}}})
    mine = seed(endpoint, [{"account": STANDALONE, "region": R1, "template": k} for k in TEMPLATES])
    arch = {f["Id"]: f["Service"]["Archived"] for f in g.get_findings(DetectorId=det, FindingIds=mine)["Findings"]}
    assert [arch[i] for i in mine] == [False, False, False, True, False, False]


def test_archive_and_unarchive(clients, org, endpoint):
    sg, sd = delegate(clients)
    m1 = seed(endpoint, mixed(W1, 4))
    own = seed(endpoint, mixed(SEC, 2))

    def archived(g, det, ids):
        return {f["Id"]: f["Service"]["Archived"] for f in g.get_findings(DetectorId=det, FindingIds=ids)["Findings"]}

    sg.archive_findings(DetectorId=sd, FindingIds=[m1[0], m1[1], own[0], "f" * 32])  # unknown ids ignored
    assert archived(sg, sd, m1 + own) == {m1[0]: True, m1[1]: True, m1[2]: False, m1[3]: False,
                                           own[0]: True, own[1]: False}
    arch = all_ids(sg, sd, FindingCriteria={"Criterion": {"service.archived": {"Eq": ["true"]}}})
    assert set(arch) == {m1[0], m1[1], own[0]}
    sg.unarchive_findings(DetectorId=sd, FindingIds=[m1[0]])
    assert archived(sg, sd, [m1[0]]) == {m1[0]: False}

    # a member cannot archive or unarchive, not even its own findings
    w1 = clients("guardduty", W1)
    w1d = w1.list_detectors()["DetectorIds"][0]
    for call in (w1.archive_findings, w1.unarchive_findings):
        with pytest.raises(ClientError) as ei:
            call(DetectorId=w1d, FindingIds=[m1[2]])
        assert err(ei) == ("BadRequestException", MSG_MEMBER, 400)
    assert archived(w1, w1d, m1) == {m1[0]: False, m1[1]: True, m1[2]: False, m1[3]: False}

    # feedback
    sg.update_findings_feedback(DetectorId=sd, FindingIds=[m1[3]], Feedback="USEFUL", Comments="thanks")
    f = sg.get_findings(DetectorId=sd, FindingIds=[m1[3]])["Findings"][0]
    assert f["Service"]["UserFeedback"] == "USEFUL"


def test_create_sample_findings(clients, endpoint):
    g, det = detector(clients)
    g.create_sample_findings(DetectorId=det, FindingTypes=["Recon:EC2/PortProbeUnprotectedPort",
                                                           "Discovery:S3/MaliciousIPCaller"])
    ids = g.list_findings(DetectorId=det)["FindingIds"]
    found = g.get_findings(DetectorId=det, FindingIds=ids)["Findings"]
    assert sorted(f["Type"] for f in found) == ["Discovery:S3/MaliciousIPCaller", "Recon:EC2/PortProbeUnprotectedPort"]
    for f in found:
        assert json.loads(f["Service"]["AdditionalInfo"]["Value"])["sample"] is True
        assert f["AccountId"] == STANDALONE and f["Service"]["DetectorId"] == det
    s3 = [f for f in found if f["Type"].startswith("Discovery:S3")][0]
    assert s3["Resource"]["ResourceType"] == "S3Bucket"  # an S3 template for an S3 type
    g.create_sample_findings(DetectorId=det)  # no types: one of each fixture type
    assert len(all_ids(g, det)) == 2 + len(TEMPLATES)
    with pytest.raises(ClientError) as ei:
        g.create_sample_findings(DetectorId=det, FindingTypes=["not a finding type"])
    assert err(ei)[0] == "BadRequestException"


# ---------------------------------------------------------------- errors


def test_errors(clients, endpoint):
    g, det = detector(clients)
    ids = seed(endpoint, mixed(STANDALONE, 3))
    for mr in (0, 51, -1):
        with pytest.raises(ClientError) as ei:
            g.list_findings(DetectorId=det, MaxResults=mr)
        assert err(ei) == ("BadRequestException", "The request is rejected because the parameter maxResults has "
                           "an invalid value. It must be between 1 and 50.", 400)
    assert len(g.list_findings(DetectorId=det, MaxResults=50)["FindingIds"]) == 3
    with pytest.raises(ClientError) as ei:
        g.get_findings(DetectorId=det, FindingIds=ids + ["x%d" % i for i in range(48)])
    assert err(ei) == ("BadRequestException", "The request failed because the length provided for the "
                       "findingIds array was 51. Max allowed length is 50.", 400)
    with pytest.raises(ClientError) as ei:
        g.archive_findings(DetectorId=det, FindingIds=["x%d" % i for i in range(51)])
    assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:
        g.get_findings(DetectorId=det, FindingIds=[])
    assert err(ei)[0] == "BadRequestException"
    for crit in ({"colour": {"Eq": ["red"]}}, {"severity": {}}, {"updatedAt": {"Lt": 1710504000000}}, {"severity": {"Eq": []}}):
        with pytest.raises(ClientError) as ei:
            g.list_findings(DetectorId=det, FindingCriteria={"Criterion": crit})
        assert err(ei) == ("BadRequestException", "The request is rejected because the parameter findingCriteria "
                           "has an invalid value.", 400)
    for sort in ({"AttributeName": "colour"}, {"AttributeName": "severity", "OrderBy": "UP"}):
        with pytest.raises(ClientError) as ei:
            g.list_findings(DetectorId=det, SortCriteria=sort)
        assert err(ei)[0] == "BadRequestException"
    with pytest.raises(ClientError) as ei:
        g.list_findings(DetectorId=det, NextToken="garbage")
    assert err(ei) == ("BadRequestException", "The request is rejected because the parameter nextToken has an "
                       "invalid value.", 400)
    # unknown (or another account's) detector: the same error as every other operation
    other = clients("guardduty", W1)
    for call, kw in [(other.list_findings, {}), (other.get_findings, {"FindingIds": ids}),
                     (other.get_findings_statistics, {"GroupBy": "SEVERITY"}),
                     (other.archive_findings, {"FindingIds": ids}), (other.unarchive_findings, {"FindingIds": ids}),
                     (other.create_sample_findings, {}), (g.list_findings, {"DetectorId": "0" * 32})]:
        kw = {"DetectorId": det, **kw}
        with pytest.raises(ClientError) as ei:
            call(**kw)
        assert err(ei) == ("BadRequestException", MSG_NOT_OWNED, 400)


def test_reset_wipes_findings(clients, endpoint):
    g, det = detector(clients)
    seed(endpoint, mixed(STANDALONE, 4))
    from conftest import reset

    reset(endpoint)
    clients._creds.clear()
    g, det = detector(clients)
    assert g.list_findings(DetectorId=det)["FindingIds"] == []
    with urllib.request.urlopen(f"{endpoint}/moto-api/guardform/findings") as r:
        assert json.loads(r.read()) == {"findings": []}


# ---------------------------------------------------------------- performance


def test_ten_thousand_findings(clients, org, endpoint):
    sg, sd = delegate(clients, members=(W1, W2, W3))
    accounts = [SEC, W1, W2, W3]
    specs = []
    for i in range(10_000):
        specs.append({"account": accounts[i % 4], "region": R1, "template": "0%d" % (1 + i % 6),
                      "severity": 1.0 + (i * 7 % 91) / 10, "updatedAt": iso(1 + i % 28, i % 24)})
    t0 = time.monotonic()
    ids = seed(endpoint, specs)
    assert time.monotonic() - t0 < 10
    for group_by in ("SEVERITY", "ACCOUNT", "FINDING_TYPE", "RESOURCE"):
        best = min(_timed(lambda: sg.get_findings_statistics(DetectorId=sd, GroupBy=group_by, FindingCriteria={
            "Criterion": {"service.archived": {"Eq": ["false"]}}})) for _ in range(3))
        assert best < 0.1, (group_by, best)
    st = sg.get_findings_statistics(DetectorId=sd, GroupBy="SEVERITY")["FindingStatistics"]["GroupedBySeverity"]
    assert sum(s["TotalFindings"] for s in st) == 10_000
    # paging through everything: every id once, and no page slower than the first
    t0 = time.monotonic()
    got, token, slowest = [], None, 0.0
    while True:
        kw = {"NextToken": token} if token else {}
        t1 = time.monotonic()
        page = sg.list_findings(DetectorId=sd, MaxResults=50, **kw,
                                SortCriteria={"AttributeName": "updatedAt", "OrderBy": "DESC"})
        if token:
            slowest = max(slowest, time.monotonic() - t1)
        got.extend(page["FindingIds"])
        token = page.get("NextToken")
        if not token:
            break
    assert len(got) == 10_000 and set(got) == set(ids)
    assert slowest < 0.1
    assert time.monotonic() - t0 < 20


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- seed.py


def test_seed_py_findings(clients, endpoint):
    sys.path.insert(0, os.path.dirname(__file__))
    import seed as seed_mod

    t0 = time.monotonic()
    summary = seed_mod.seed(endpoint, accounts=8, findings=50)
    assert time.monotonic() - t0 < 5
    assert summary["findings"] == 50 and summary["coverage"] > 0
    members = [a["id"] for a in summary["accounts"] if a["id"] != SEC]
    total, per_region, seen_accounts = 0, {}, set()
    for region in seed_mod.DEFAULT_REGIONS:
        clients("guardduty", region=region).enable_organization_admin_account(AdminAccountId=SEC)
        g = clients("guardduty", SEC, region=region)
        det = g.list_detectors()["DetectorIds"][0]
        assert g.create_members(DetectorId=det, AccountDetails=[
            {"AccountId": m, "Email": f"{m}@example.com"} for m in members])["UnprocessedAccounts"] == []
        ids = all_ids(g, det)
        per_region[region] = len(ids)
        total += len(ids)
        found = get_all(g, det, ids)
        seen_accounts |= {f["AccountId"] for f in found}
        assert all(f["Region"] == region for f in found)
        assert all(f["Service"]["DetectorId"] for f in found)
        cov = g.list_coverage(DetectorId=det)["Resources"]
        assert all(r["DetectorId"] for r in cov)
    assert total == 50 and all(per_region.values())
    assert seen_accounts == {SEC} | {a["id"] for a in summary["accounts"] if a["name"].startswith("workload-")}
    # spread over the four severity levels and the last 30 days
    g = clients("guardduty", SEC)
    det = g.list_detectors()["DetectorIds"][0]
    sev = g.get_findings_statistics(DetectorId=det, GroupBy="SEVERITY")["FindingStatistics"]["GroupedBySeverity"]
    assert len(sev) >= 3
    found = get_all(g, det, all_ids(g, det))
    now = time.time()
    for f in found:
        updated = datetime.fromisoformat(f["UpdatedAt"].replace("Z", "+00:00")).timestamp()
        assert now - 31 * 86400 < updated <= now + 60
    # deterministic: the plan for the same inputs is the same
    accts = [SEC] + members[1:]
    assert seed_mod.plan_findings(50, accts, ["us-east-1"], now=0) == seed_mod.plan_findings(50, accts, ["us-east-1"], now=0)


def test_seed_py_command_line(endpoint):
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, os.path.join(here, "seed.py"), "--endpoint", endpoint,
                          "--accounts", "6", "--findings", "200", "--regions", "us-east-1,eu-west-1"],
                         capture_output=True, text=True, check=True)
    assert time.monotonic() - t0 < 5
    summary = json.loads(out.stdout)
    assert summary["findings"] == 200
    with urllib.request.urlopen(f"{endpoint}/moto-api/guardform/findings") as r:
        listed = json.loads(r.read())["findings"]
    assert len(listed) == 200 and {f["region"] for f in listed} == {"us-east-1", "eu-west-1"}
    assert {f["accountId"] for f in listed} <= {"222222222222", "400000000001", "400000000002",
                                                "400000000003", "400000000004"}
    assert MANAGEMENT not in {f["accountId"] for f in listed}
