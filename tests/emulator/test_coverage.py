"""Runtime Monitoring coverage: the seeding endpoint, ListCoverage (filter criteria, sort,
paging), GetCoverageStatistics, the administrator's scope, errors and reset.

Every GuardDuty response is checked strictly against botocore's output shapes (conftest).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter

import pytest
from botocore.exceptions import ClientError

SEC, W1, W2, W3 = "222222222222", "400000000001", "400000000002", "400000000003"
STANDALONE = "555555555555"
R1, R2 = "us-east-1", "eu-west-1"
MSG_NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def post(endpoint: str, payload) -> tuple[int, dict]:
    req = urllib.request.Request(endpoint + "/moto-api/guardform/coverage", method="POST",
                                 data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def seed(endpoint: str, resources: list[dict]) -> list[str]:
    status, body = post(endpoint, {"resources": resources})
    assert status == 200, body
    return body["resourceIds"]


def resources_for(account: str, region: str = R1, prefix: str = "") -> list[dict]:
    """Two EKS clusters, two ECS clusters and three EC2 instances, three of them UNHEALTHY."""
    return [
        {"account": account, "region": region, "resourceType": "EKS", "clusterName": f"{prefix}payments",
         "status": "HEALTHY", "addonVersion": "v1.7.1-eksbuild.2", "addonStatus": "ACTIVE",
         "coveredNodes": 4, "compatibleNodes": 4, "updatedAt": "2024-03-01T10:00:00Z"},
        {"account": account, "region": region, "resourceType": "EKS", "clusterName": f"{prefix}batch",
         "status": "UNHEALTHY", "issue": "Addon not installed", "managementType": "MANUAL",
         "coveredNodes": 0, "compatibleNodes": 2, "updatedAt": "2024-03-02T10:00:00Z"},
        {"account": account, "region": region, "resourceType": "ECS", "clusterName": f"{prefix}web",
         "status": "HEALTHY", "updatedAt": "2024-03-03T10:00:00Z"},
        {"account": account, "region": region, "resourceType": "ECS", "clusterName": f"{prefix}orders",
         "status": "UNHEALTHY", "issue": "Container instance agent not reporting",
         "fargateIssues": ["No Agent Reporting"], "coveredContainerInstances": 1,
         "compatibleContainerInstances": 2, "updatedAt": "2024-03-04T10:00:00Z"},
        {"account": account, "region": region, "resourceType": "EC2", "instanceId": f"i-{prefix}0001",
         "instanceType": "m6i.large", "agentVersion": "1.6.1", "status": "HEALTHY",
         "clusterArn": f"arn:aws:ecs:{region}:{account}:cluster/{prefix}orders", "updatedAt": "2024-03-05T10:00:00Z"},
        {"account": account, "region": region, "resourceType": "EC2", "instanceId": f"i-{prefix}0002",
         "agentVersion": "1.5.0", "status": "UNHEALTHY", "issue": "No Agent Reporting",
         "updatedAt": "2024-03-06T10:00:00Z"},
        {"account": account, "region": region, "resourceType": "EC2", "instanceId": f"i-{prefix}0003",
         "agentVersion": "1.6.1", "status": "HEALTHY", "managementType": "MANUAL",
         "updatedAt": "2024-03-07T10:00:00Z"},
    ]


def detector(clients, account=STANDALONE, region=R1):
    g = clients("guardduty", account, region=region)
    return g, g.create_detector(Enable=True)["DetectorId"]


def listed(g, det, **kw) -> list[dict]:
    out, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = g.list_coverage(DetectorId=det, **kw, **extra)
        out.extend(page["Resources"])
        token = page.get("NextToken")
        if not token:
            return out


def crit(key: str, equals=None, not_equals=None) -> dict:
    cond = {}
    if equals is not None:
        cond["Equals"] = equals
    if not_equals is not None:
        cond["NotEquals"] = not_equals
    return {"FilterCriterion": [{"CriterionKey": key, "FilterCondition": cond}]}


def test_list_coverage_shapes(clients, endpoint):
    g, det = detector(clients)
    ids = seed(endpoint, resources_for(STANDALONE))
    assert ids == ["payments", "batch", "web", "orders", "i-0001", "i-0002", "i-0003"]
    got = {r["ResourceId"]: r for r in listed(g, det)}
    assert list(got) == ids
    for r in got.values():
        assert r["AccountId"] == STANDALONE and r["DetectorId"] == det
    eks = got["batch"]
    assert eks["CoverageStatus"] == "UNHEALTHY" and eks["Issue"] == "Addon not installed"
    assert eks["ResourceDetails"]["ResourceType"] == "EKS"
    assert eks["ResourceDetails"]["EksClusterDetails"] == {"ClusterName": "batch", "CoveredNodes": 0,
                                                           "CompatibleNodes": 2, "ManagementType": "MANUAL"}
    assert got["payments"]["ResourceDetails"]["EksClusterDetails"]["AddonDetails"] == {
        "AddonVersion": "v1.7.1-eksbuild.2", "AddonStatus": "ACTIVE"}
    assert "Issue" not in got["payments"]
    ecs = got["orders"]["ResourceDetails"]["EcsClusterDetails"]
    assert ecs["ClusterName"] == "orders"
    assert ecs["FargateDetails"] == {"Issues": ["No Agent Reporting"], "ManagementType": "AUTO_MANAGED"}
    assert ecs["ContainerInstanceDetails"] == {"CoveredContainerInstances": 1, "CompatibleContainerInstances": 2}
    ec2 = got["i-0001"]["ResourceDetails"]["Ec2InstanceDetails"]
    assert ec2 == {"InstanceId": "i-0001", "InstanceType": "m6i.large",
                   "ClusterArn": f"arn:aws:ecs:{R1}:{STANDALONE}:cluster/orders",
                   "AgentDetails": {"Version": "1.6.1"}, "ManagementType": "AUTO_MANAGED"}
    assert got["i-0001"]["UpdatedAt"].isoformat().startswith("2024-03-05T10:00:00")
    # another Region is separate; re-seeding an id replaces the entry
    seed(endpoint, resources_for(STANDALONE, region=R2, prefix="eu-"))
    assert len(listed(g, det)) == 7
    seed(endpoint, [{"account": STANDALONE, "region": R1, "resourceType": "EKS", "clusterName": "batch",
                     "status": "HEALTHY"}])
    again = {r["ResourceId"]: r for r in listed(g, det)}
    assert len(again) == 7 and again["batch"]["CoverageStatus"] == "HEALTHY" and "Issue" not in again["batch"]


def test_filter_criteria(clients, endpoint):
    g, det = detector(clients)
    seed(endpoint, resources_for(STANDALONE))

    def ids(**kw):
        return sorted(r["ResourceId"] for r in listed(g, det, **kw))

    assert ids(FilterCriteria=crit("RESOURCE_TYPE", ["EKS"])) == ["batch", "payments"]
    assert ids(FilterCriteria=crit("RESOURCE_TYPE", not_equals=["EKS", "EC2"])) == ["orders", "web"]
    assert ids(FilterCriteria=crit("COVERAGE_STATUS", ["UNHEALTHY"])) == ["batch", "i-0002", "orders"]
    assert ids(FilterCriteria=crit("ACCOUNT_ID", [STANDALONE])) == ids()
    assert ids(FilterCriteria=crit("ACCOUNT_ID", ["111111111111"])) == []
    assert ids(FilterCriteria=crit("EKS_CLUSTER_NAME", ["payments", "web"])) == ["payments"]
    assert ids(FilterCriteria=crit("CLUSTER_NAME", ["batch"])) == ["batch"]  # deprecated EKS_CLUSTER_NAME
    assert ids(FilterCriteria=crit("ECS_CLUSTER_NAME", ["web"])) == ["web"]
    assert ids(FilterCriteria=crit("ADDON_VERSION", ["v1.7.1-eksbuild.2"])) == ["payments"]
    assert ids(FilterCriteria=crit("MANAGEMENT_TYPE", ["MANUAL"])) == ["batch", "i-0003"]
    assert ids(FilterCriteria=crit("AGENT_VERSION", ["1.6.1"])) == ["i-0001", "i-0003"]
    assert ids(FilterCriteria=crit("INSTANCE_ID", ["i-0002"])) == ["i-0002"]
    assert ids(FilterCriteria=crit("CLUSTER_ARN", [f"arn:aws:ecs:{R1}:{STANDALONE}:cluster/orders"])) == ["i-0001"]
    both = {"FilterCriterion": crit("RESOURCE_TYPE", ["EC2"])["FilterCriterion"]
            + crit("COVERAGE_STATUS", not_equals=["UNHEALTHY"])["FilterCriterion"]}
    assert ids(FilterCriteria=both) == ["i-0001", "i-0003"]  # AND


def test_sort_and_paging(clients, endpoint):
    g, det = detector(clients)
    seed(endpoint, resources_for(STANDALONE))
    many = [{"account": STANDALONE, "region": R1, "resourceType": "EC2", "instanceId": f"i-{n:05d}",
             "status": "UNHEALTHY" if n % 3 == 0 else "HEALTHY"} for n in range(120)]
    seed(endpoint, many)
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = g.list_coverage(DetectorId=det, MaxResults=11, **kw)
        pages.append([r["ResourceId"] for r in page["Resources"]])
        token = page.get("NextToken")
        if not token:
            break
    flat = [i for p in pages for i in p]
    assert [len(p) for p in pages] == [11] * 11 + [6]
    assert len(flat) == 127 and len(set(flat)) == 127  # every resource exactly once
    assert len(g.list_coverage(DetectorId=det)["Resources"]) == 50  # default page size

    by_instance = [r["ResourceId"] for r in listed(g, det, SortCriteria={"AttributeName": "INSTANCE_ID",
                                                                         "OrderBy": "DESC"})]
    ec2 = sorted([f"i-{n:05d}" for n in range(120)] + ["i-0001", "i-0002", "i-0003"], reverse=True)
    assert by_instance[:123] == ec2
    assert sorted(by_instance[123:]) == ["batch", "orders", "payments", "web"]  # no instance id: last
    small = [r["ResourceId"] for r in listed(g, det, FilterCriteria=crit("RESOURCE_TYPE", ["EKS", "ECS"]),
                                             SortCriteria={"AttributeName": "UPDATED_AT", "OrderBy": "DESC"})]
    assert small == ["orders", "web", "batch", "payments"]
    asc = [r["ResourceId"] for r in listed(g, det, FilterCriteria=crit("RESOURCE_TYPE", ["EKS", "ECS"]),
                                           SortCriteria={"AttributeName": "EKS_CLUSTER_NAME"})]
    assert asc == ["batch", "payments", "web", "orders"]  # ASC by default; ECS clusters last


def test_coverage_statistics(clients, endpoint):
    g, det = detector(clients)
    res = resources_for(STANDALONE)
    seed(endpoint, res)
    st = g.get_coverage_statistics(DetectorId=det, StatisticsType=["COUNT_BY_RESOURCE_TYPE",
                                                                   "COUNT_BY_COVERAGE_STATUS"])["CoverageStatistics"]
    assert st["CountByResourceType"] == dict(Counter(r["resourceType"] for r in res)) == {"EKS": 2, "ECS": 2, "EC2": 3}
    assert st["CountByCoverageStatus"] == {"HEALTHY": 4, "UNHEALTHY": 3}
    only = g.get_coverage_statistics(DetectorId=det, StatisticsType=["COUNT_BY_COVERAGE_STATUS"],
                                     FilterCriteria=crit("RESOURCE_TYPE", ["EC2"]))["CoverageStatistics"]
    assert only == {"CountByCoverageStatus": {"HEALTHY": 2, "UNHEALTHY": 1}}


def test_administrator_scope(clients, org, endpoint):
    clients("guardduty").enable_organization_admin_account(AdminAccountId=SEC)
    sg = clients("guardduty", SEC)
    sd = sg.list_detectors()["DetectorIds"][0]
    sg.create_members(DetectorId=sd, AccountDetails=[{"AccountId": W1, "Email": "w1@example.com"},
                                                     {"AccountId": W2, "Email": "w2@example.com"}])
    seed(endpoint, resources_for(SEC, prefix="sec-") + resources_for(W1, prefix="w1-")
         + resources_for(W2, prefix="w2-") + resources_for(W3, prefix="w3-")
         + resources_for(W1, region=R2, prefix="eu-"))
    everything = listed(sg, sd)
    assert Counter(r["AccountId"] for r in everything) == {SEC: 7, W1: 7, W2: 7}
    w1d = clients("guardduty", W1).list_detectors()["DetectorIds"][0]
    assert {r["DetectorId"] for r in everything if r["AccountId"] == W1} == {w1d}
    st = sg.get_coverage_statistics(DetectorId=sd, StatisticsType=["COUNT_BY_RESOURCE_TYPE"])["CoverageStatistics"]
    assert st["CountByResourceType"] == {"EKS": 6, "ECS": 6, "EC2": 9}
    by_account = listed(sg, sd, FilterCriteria=crit("ACCOUNT_ID", [W2]))
    assert {r["AccountId"] for r in by_account} == {W2} and len(by_account) == 7

    # a member sees only its own
    w1 = clients("guardduty", W1)
    assert {r["AccountId"] for r in listed(w1, w1d)} == {W1}
    # a removed member leaves the view
    sg.disassociate_members(DetectorId=sd, AccountIds=[W2])
    assert Counter(r["AccountId"] for r in listed(sg, sd)) == {SEC: 7, W1: 7}
    st = sg.get_coverage_statistics(DetectorId=sd, StatisticsType=["COUNT_BY_COVERAGE_STATUS"])["CoverageStatistics"]
    assert st["CountByCoverageStatus"] == {"HEALTHY": 8, "UNHEALTHY": 6}


def test_errors(clients, endpoint):
    g, det = detector(clients)
    seed(endpoint, resources_for(STANDALONE))
    for mr in (0, 51):
        with pytest.raises(ClientError) as ei:
            g.list_coverage(DetectorId=det, MaxResults=mr)
        assert err(ei) == ("BadRequestException", "The request is rejected because the parameter maxResults has "
                           "an invalid value. It must be between 1 and 50.", 400)
    bad_filters = [
        crit("COLOUR", ["red"]),
        {"FilterCriterion": [{"CriterionKey": "RESOURCE_TYPE", "FilterCondition": {}}]},
        {"FilterCriterion": [{"CriterionKey": "RESOURCE_TYPE", "FilterCondition": {"Equals": ["EKS"]}}] * 51},
    ]
    for fc in bad_filters:
        with pytest.raises(ClientError) as ei:
            g.list_coverage(DetectorId=det, FilterCriteria=fc)
        assert err(ei) == ("BadRequestException", "The request is rejected because the parameter filterCriteria "
                           "has an invalid value.", 400)
        with pytest.raises(ClientError) as ei:
            g.get_coverage_statistics(DetectorId=det, StatisticsType=["COUNT_BY_RESOURCE_TYPE"], FilterCriteria=fc)
        assert err(ei)[0] == "BadRequestException"
    for sort in ({"AttributeName": "COLOUR"}, {"AttributeName": "ISSUE", "OrderBy": "UP"}):
        with pytest.raises(ClientError) as ei:
            g.list_coverage(DetectorId=det, SortCriteria=sort)
        assert err(ei)[0] == "BadRequestException"
    for types in ([], ["COUNT_BY_COLOUR"], None):
        kw = {} if types is None else {"StatisticsType": types}
        with pytest.raises(ClientError) as ei:
            g.get_coverage_statistics(DetectorId=det, **kw)
        assert err(ei) == ("BadRequestException", "The request is rejected because the parameter statisticsType "
                           "has an invalid value.", 400)
    with pytest.raises(ClientError) as ei:
        g.list_coverage(DetectorId=det, NextToken="findings.0-1")
    assert err(ei)[0] == "BadRequestException"
    other = clients("guardduty", W1)
    for call, kw in [(other.list_coverage, {}),
                     (other.get_coverage_statistics, {"StatisticsType": ["COUNT_BY_RESOURCE_TYPE"]})]:
        with pytest.raises(ClientError) as ei:
            call(DetectorId=det, **kw)
        assert err(ei) == ("BadRequestException", MSG_NOT_OWNED, 400)


def test_seed_endpoint_validation(clients, endpoint):
    g, det = detector(clients)
    good = {"account": STANDALONE, "region": R1, "resourceType": "EKS", "clusterName": "c1"}
    for bad, word in [({**good, "resourceType": "LAMBDA"}, "resourceType"),
                      ({**good, "status": "SICK"}, "status"),
                      ({**good, "account": "1"}, "account"),
                      ({**good, "region": "nowhere"}, "Region"),
                      ({k: v for k, v in good.items() if k != "clusterName"}, "resourceId"),
                      ({**good, "coveredNodes": -1}, "coveredNodes"),
                      ({**good, "managementType": "SOMETIMES"}, "managementType")]:
        status, body = post(endpoint, {"resources": [good, bad]})
        assert status == 400 and word in body["message"], body
    assert g.list_coverage(DetectorId=det)["Resources"] == []  # nothing stored on error
    with urllib.request.urlopen(f"{endpoint}/moto-api/guardform/coverage") as r:
        assert json.loads(r.read()) == {"resources": []}


def test_reset_wipes_coverage(clients, endpoint):
    g, det = detector(clients)
    seed(endpoint, resources_for(STANDALONE))
    assert len(listed(g, det)) == 7
    from conftest import reset

    reset(endpoint)
    clients._creds.clear()
    g, det = detector(clients)
    assert g.list_coverage(DetectorId=det)["Resources"] == []
    st = g.get_coverage_statistics(DetectorId=det, StatisticsType=["COUNT_BY_RESOURCE_TYPE"])["CoverageStatistics"]
    assert st == {"CountByResourceType": {}}
    with urllib.request.urlopen(f"{endpoint}/moto-api/guardform/coverage") as r:
        assert json.loads(r.read()) == {"resources": []}
