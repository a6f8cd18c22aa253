"""isolate-instance: quarantines the EC2 instance named in a GuardDuty finding.

1. Skips instances carrying the exception tag (EXCEPTION_TAG, `key` or `key=value`).
2. Finds or creates, in each VPC of the instance, the security group QUARANTINE_GROUP_NAME with
   no inbound rules and every outbound rule removed.
3. Puts every network interface of the instance in that group alone, after tagging the
   interface with the groups it had (`guardform:previous-security-groups`) so they can be
   restored.
4. Snapshots each EBS volume (tagged `guardform:finding-id`), once per finding and volume.
5. Tags the instance `guardform:quarantined=<finding id>`.

Every step is idempotent, so a retried invocation converges. DRY_RUN=true runs the same code
and reports what it would change without changing anything. Note that changing security groups
does not cut connections the groups were already tracking; see bundles/README.md.
"""

from __future__ import annotations

from typing import Any

import guardform_common as common
import guardform_slack as slack
from botocore.exceptions import ClientError

BUNDLE = "isolate-instance"

QUARANTINE_TAG = "guardform:quarantined"
PREVIOUS_GROUPS_TAG = "guardform:previous-security-groups"
FINDING_TAG = "guardform:finding-id"
MANAGED_TAG = "guardform:managed"


def lambda_handler(event, context):
    return common.run(BUNDLE, event, context, respond)


def respond(finding: common.Finding, context, log: common.Log) -> dict:
    dry_run = common.env_bool("DRY_RUN", False)
    exception_tag = common.env_str("EXCEPTION_TAG", "guardform:no-isolate")
    group_name = common.env_str("QUARANTINE_GROUP_NAME", "guardform-quarantine")
    snapshot_volumes = common.env_bool("SNAPSHOT_VOLUMES", True)
    deadline = common.deadline(context, reserve_seconds=5.0)
    instance_id = finding.instance_id
    result: dict[str, Any] = {"finding_id": finding.id, "type": finding.type, "instance_id": instance_id, "dry_run": dry_run}
    prefix = "DRY RUN: " if dry_run else ""

    def finish(outcome: str, headline: str, details: list[str] | None = None) -> dict:
        result["outcome"] = outcome
        result["slack"] = slack.notify(log, slack.finding_message(finding, prefix + headline, details), deadline=deadline + 4.0)
        return result

    if finding.is_sample:
        return finish("sample-finding", "GuardDuty sample finding (made by CreateSampleFindings): no instance isolated.")
    if not instance_id:
        return finish("not-an-instance", f"GuardDuty finding {slack.escape(finding.type)} names no EC2 instance: nothing to isolate.")
    try:
        session = common.aws_session(finding, context, log)
    except common.NotActionable as reason:
        result["reason"] = str(reason)
        return finish("not-actionable", f"Instance {instance_id} was not isolated: {slack.escape(reason)}.")
    ec2 = session.client("ec2", region_name=finding.region)

    instance = _describe_instance(ec2, instance_id)
    if instance is None:
        return finish("instance-not-found", f"Instance {instance_id} was not isolated: it does not exist in account {finding.account_id} / {finding.region} (terminated?).")
    state = (instance.get("State") or {}).get("Name")
    if state in ("terminated", "shutting-down"):
        return finish("instance-terminated", f"Instance {instance_id} was not isolated: it is {state}.")
    tags = {t["Key"]: t.get("Value", "") for t in instance.get("Tags") or []}
    if _carries(tags, exception_tag):
        log.info("instance carries the exception tag; not isolated", exception_tag=exception_tag)
        return finish("excepted", f"Instance {instance_id} was *not isolated*: it carries the exception tag `{slack.escape(exception_tag)}`.")

    steps = common.Steps(dry_run, log)
    interfaces = instance.get("NetworkInterfaces") or []
    if not interfaces:
        raise common.ResponderError(f"instance {instance_id} has no network interfaces to isolate")
    groups: dict[str, str] = {}
    for vpc_id in sorted({eni["VpcId"] for eni in interfaces if eni.get("VpcId")}):
        groups[vpc_id] = _quarantine_group(ec2, steps, vpc_id, group_name, finding)
    for eni in interfaces:
        eni_id = eni["NetworkInterfaceId"]
        quarantine = groups[eni["VpcId"]]
        current = [g["GroupId"] for g in eni.get("Groups") or []]
        if current == [quarantine]:
            log.info("network interface already quarantined", network_interface=eni_id)
            continue
        steps.write(
            f"tag {eni_id} with its security groups {','.join(current) or '(none)'}",
            lambda eni_id=eni_id, current=current: ec2.create_tags(
                Resources=[eni_id], Tags=[{"Key": PREVIOUS_GROUPS_TAG, "Value": ",".join(current)[:256]}]
            ),
        )
        steps.write(
            f"move {eni_id} from {','.join(current) or '(none)'} to {group_name} ({quarantine})",
            lambda eni_id=eni_id, quarantine=quarantine: ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, Groups=[quarantine]),
        )
    snapshots: list[str] = []
    if snapshot_volumes:
        for mapping in instance.get("BlockDeviceMappings") or []:
            volume_id = (mapping.get("Ebs") or {}).get("VolumeId")
            if not volume_id:
                continue
            existing = _finding_snapshot(ec2, volume_id, finding.id)
            if existing:
                log.info("volume already snapshotted for this finding", volume_id=volume_id, snapshot_id=existing)
                snapshots.append(existing)
                continue
            device = mapping.get("DeviceName", "")
            created = steps.write(
                f"snapshot {volume_id} ({device})",
                lambda volume_id=volume_id, device=device: ec2.create_snapshot(
                    VolumeId=volume_id,
                    Description=f"guardform: {finding.type} finding {finding.id} on {instance_id} {device}"[:255],
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                        {"Key": FINDING_TAG, "Value": finding.id},
                        {"Key": "guardform:instance-id", "Value": instance_id},
                        {"Key": "guardform:device", "Value": device},
                        {"Key": "Name", "Value": f"guardform {instance_id} {device}"},
                    ]}],
                ),
            )
            if created:
                snapshots.append(created["SnapshotId"])
    if tags.get(QUARANTINE_TAG) != finding.id:
        steps.write(
            f"tag {instance_id} {QUARANTINE_TAG}={finding.id}",
            lambda: ec2.create_tags(Resources=[instance_id], Tags=[{"Key": QUARANTINE_TAG, "Value": finding.id}]),
        )

    result.update({"quarantine_groups": groups, "snapshots": snapshots, "steps": steps.done})
    details = [f"• {slack.escape(step)}" for step in steps.done] or ["• nothing left to change: already isolated"]
    verb = "would isolate" if dry_run else "isolated"
    return finish("dry-run" if dry_run else "isolated", f"guardform {verb} instance {instance_id} (GuardDuty {slack.escape(finding.type)}).", details)


def _carries(tags: dict[str, str], exception_tag: str | None) -> bool:
    if not exception_tag:
        return False
    key, sep, value = exception_tag.partition("=")
    return key in tags and (not sep or tags[key] == value)


def _describe_instance(ec2, instance_id: str) -> dict | None:
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            return None
        raise
    for reservation in reservations:
        for instance in reservation.get("Instances") or []:
            return instance
    return None


def _quarantine_group(ec2, steps: common.Steps, vpc_id: str, name: str, finding: common.Finding) -> str:
    """The id of the quarantine group in `vpc_id`, created when missing, with every rule removed."""
    found = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    if found:
        group = found[0]
    else:
        created = steps.write(
            f"create security group {name} in {vpc_id}",
            lambda: ec2.create_security_group(
                GroupName=name,
                Description="guardform quarantine: no inbound or outbound traffic (GuardDuty response)",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                    {"Key": MANAGED_TAG, "Value": "true"},
                    {"Key": "Name", "Value": name},
                ]}],
            ),
        )
        if created is None:  # dry run
            return f"<new {name} in {vpc_id}>"
        group = ec2.describe_security_groups(GroupIds=[created["GroupId"]])["SecurityGroups"][0]
    group_id = group["GroupId"]
    if group.get("IpPermissions"):
        steps.write(
            f"remove the inbound rules of {group_id}",
            lambda: ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=_clean(group["IpPermissions"])),
        )
    if group.get("IpPermissionsEgress"):
        steps.write(
            f"remove the outbound rules of {group_id}",
            lambda: ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=_clean(group["IpPermissionsEgress"])),
        )
    return group_id


def _clean(permissions: list[dict]) -> list[dict]:
    """Permissions as DescribeSecurityGroups returns them, minus the empty lists and the
    fields that Revoke* does not accept."""
    cleaned = []
    for permission in permissions:
        item = {k: v for k, v in permission.items() if v not in ([], None)}
        item["UserIdGroupPairs"] = [
            {k: v for k, v in pair.items() if k in ("GroupId", "UserId", "VpcId", "VpcPeeringConnectionId")}
            for pair in permission.get("UserIdGroupPairs") or []
        ]
        if not item["UserIdGroupPairs"]:
            del item["UserIdGroupPairs"]
        cleaned.append(item)
    return cleaned


def _finding_snapshot(ec2, volume_id: str, finding_id: str) -> str | None:
    snapshots = ec2.describe_snapshots(
        OwnerIds=["self"],
        Filters=[{"Name": "volume-id", "Values": [volume_id]}, {"Name": f"tag:{FINDING_TAG}", "Values": [finding_id]}],
    )["Snapshots"]
    return snapshots[0]["SnapshotId"] if snapshots else None
