"""isolate-instance against moto: a VPC, an instance with two network interfaces and two EBS
volumes, and the real SSH brute force finding pointed at that instance (moto picks instance
ids, so the fixture's instance id is replaced by the one moto made)."""

from __future__ import annotations

import boto3
import pytest
from conftest import S3_MALICIOUS_IP, SSH_BRUTE_FORCE, load_finding, load_handler, put_secret

FINDING_ID = "7cafe3b26b9d34205f2dbfc38339cfb3"
IMAGE_ID = "ami-12c6146b"  # any id: moto does not check it when its default AMIs are not loaded


@pytest.fixture
def handler():
    return load_handler("isolate-instance")


def make_instance(account_ec2, tags=None):
    """A running instance with two interfaces (both in group `web`) and a root plus a data volume."""
    ec2 = account_ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    kwargs = {}
    if tags:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    instance = ec2.run_instances(
        ImageId=IMAGE_ID, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [web]}],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 8}}],
        **kwargs,
    )["Instances"][0]
    second = ec2.create_network_interface(SubnetId=subnet, Groups=[web])["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=second, InstanceId=instance["InstanceId"], DeviceIndex=1)
    return {"vpc": vpc, "web": web, "instance_id": instance["InstanceId"]}


def finding_for(instance_id: str, account: str = "123456789012") -> dict:
    event = load_finding(SSH_BRUTE_FORCE)
    event["detail"]["resource"]["instanceDetails"]["instanceId"] = instance_id
    event["detail"]["accountId"] = event["account"] = account
    return event


def describe(ec2, instance_id):
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def interfaces_in(ec2, group_id):
    return {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group_id]}])["NetworkInterfaces"]}


def finding_snapshots(ec2):
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "tag:guardform:finding-id", "Values": [FINDING_ID]}])["Snapshots"]


@pytest.fixture(autouse=True)
def _small_moto(monkeypatch):
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # loading them takes seconds


@pytest.fixture
def ec2(aws):
    return boto3.client("ec2", region_name="us-east-1")


def test_isolates_every_interface_snapshots_volumes_and_tags(handler, ec2, slack_server, context, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL_SECRET_ARN", put_secret("SLACK_WEBHOOK_URL", slack_server.webhook_url))
    world = make_instance(ec2)
    instance_id = world["instance_id"]
    before = describe(ec2, instance_id)
    enis = {e["NetworkInterfaceId"] for e in before["NetworkInterfaces"]}
    volumes = {m["Ebs"]["VolumeId"] for m in before["BlockDeviceMappings"]}
    assert len(enis) == 2 and len(volumes) >= 1

    result = handler.lambda_handler(finding_for(instance_id), context)

    assert result["outcome"] == "isolated"
    [quarantine] = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["guardform-quarantine"]}, {"Name": "vpc-id", "Values": [world["vpc"]]}])["SecurityGroups"]
    assert quarantine["IpPermissions"] == [] and quarantine["IpPermissionsEgress"] == []
    assert {"Key": "guardform:managed", "Value": "true"} in quarantine["Tags"]
    assert result["quarantine_groups"] == {world["vpc"]: quarantine["GroupId"]}
    # Every interface is in the quarantine group and no longer in `web`.
    assert interfaces_in(ec2, quarantine["GroupId"]) == enis
    assert interfaces_in(ec2, world["web"]) & enis == set()
    for eni in ec2.describe_network_interfaces(NetworkInterfaceIds=sorted(enis))["NetworkInterfaces"]:
        assert {"Key": "guardform:previous-security-groups", "Value": world["web"]} in eni["TagSet"]
    snapshots = finding_snapshots(ec2)
    assert {s["VolumeId"] for s in snapshots} == volumes and sorted(result["snapshots"]) == sorted(s["SnapshotId"] for s in snapshots)
    assert all({"Key": "guardform:instance-id", "Value": instance_id} in s["Tags"] for s in snapshots)
    tags = {t["Key"]: t["Value"] for t in describe(ec2, instance_id)["Tags"]}
    assert tags["guardform:quarantined"] == FINDING_ID
    [message] = slack_server.messages()
    assert f"guardform isolated instance {instance_id}" in message["text"]
    assert "snapshot" in message["attachments"][0]["text"] and "guardform-quarantine" in message["attachments"][0]["text"]


def test_running_twice_changes_nothing_more(handler, ec2, context):
    instance_id = make_instance(ec2)["instance_id"]
    handler.lambda_handler(finding_for(instance_id), context)
    first = finding_snapshots(ec2)
    again = handler.lambda_handler(finding_for(instance_id), context)
    assert again["outcome"] == "isolated" and again["steps"] == []
    assert finding_snapshots(ec2) == first
    assert len(ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["guardform-quarantine"]}])["SecurityGroups"]) == 1


def test_instances_with_the_exception_tag_are_left_alone(handler, ec2, context, monkeypatch):
    world = make_instance(ec2, tags={"guardform:no-isolate": "yes", "Name": "bastion"})
    result = handler.lambda_handler(finding_for(world["instance_id"]), context)
    assert result["outcome"] == "excepted"
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["guardform-quarantine"]}])["SecurityGroups"] == []
    assert len(interfaces_in(ec2, world["web"])) == 2 and finding_snapshots(ec2) == []
    monkeypatch.setenv("EXCEPTION_TAG", "guardform:no-isolate=no")  # key=value must match the value
    assert handler.lambda_handler(finding_for(world["instance_id"]), context)["outcome"] == "isolated"


def test_dry_run_reports_and_changes_nothing(handler, ec2, context, monkeypatch):
    monkeypatch.setenv("DRY_RUN", "true")
    world = make_instance(ec2)
    result = handler.lambda_handler(finding_for(world["instance_id"]), context)
    assert result["outcome"] == "dry-run"
    assert result["steps"][0] == f"would create security group guardform-quarantine in {world['vpc']}"
    assert sum(step.startswith("would move eni-") for step in result["steps"]) == 2
    assert sum(step.startswith("would snapshot vol-") for step in result["steps"]) >= 1
    assert all(step.startswith("would ") for step in result["steps"])
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["guardform-quarantine"]}])["SecurityGroups"] == []
    assert len(interfaces_in(ec2, world["web"])) == 2 and finding_snapshots(ec2) == []
    assert "guardform:quarantined" not in {t["Key"] for t in describe(ec2, world["instance_id"]).get("Tags", [])}


def test_an_existing_quarantine_group_loses_any_rules(handler, ec2, context):
    world = make_instance(ec2)
    group = ec2.create_security_group(GroupName="guardform-quarantine", Description="q", VpcId=world["vpc"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": world["web"]}]}])
    result = handler.lambda_handler(finding_for(world["instance_id"]), context)
    assert result["quarantine_groups"] == {world["vpc"]: group}
    described = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert described["IpPermissions"] == [] and described["IpPermissionsEgress"] == []


def test_sample_and_unknown_instances_are_reported_not_acted_on(handler, ec2, context):
    assert handler.lambda_handler(load_finding(S3_MALICIOUS_IP), context)["outcome"] == "sample-finding"
    assert handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)["outcome"] == "instance-not-found"


def test_member_account_findings_need_the_cross_account_role(handler, aws, context, monkeypatch):
    member = "222222222222"
    credentials = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{member}:role/setup", RoleSessionName="setup")["Credentials"]
    member_ec2 = boto3.client(
        "ec2", region_name="us-east-1", aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"],
    )
    world = make_instance(member_ec2)
    result = handler.lambda_handler(finding_for(world["instance_id"], account=member), context)
    assert result["outcome"] == "not-actionable" and "CROSS_ACCOUNT_ROLE_NAME" in result["reason"]
    monkeypatch.setenv("CROSS_ACCOUNT_ROLE_NAME", "guardform-responder")
    result = handler.lambda_handler(finding_for(world["instance_id"], account=member), context)
    assert result["outcome"] == "isolated"
    tags = {t["Key"]: t["Value"] for t in describe(member_ec2, world["instance_id"])["Tags"]}
    assert tags["guardform:quarantined"] == FINDING_ID
    monkeypatch.setenv("CROSS_ACCOUNT_ROLE_NAME", "OrganizationAccountAccessRole")
    with pytest.raises(Exception, match="must name a role starting with 'guardform-'"):
        handler.lambda_handler(finding_for(world["instance_id"], account=member), context)
