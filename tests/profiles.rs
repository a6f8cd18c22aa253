//! Protection profiles end to end against the emulator: accounts get the features of the
//! profile assigned to them (account over OU over parent OU), profiles leave Regions out,
//! `plan --explain` says why, equally specific assignments are refused, and a no-op plan with
//! profiles still reads two calls per 50 accounts per Region.

mod common;

use common::{Emulator, PY_CLIENT};
use serde_json::Value;
use std::path::Path;

/// Helpers beside `common::PY_CLIENT`.
const PY_HELPERS: &str = r#"
def features(accounts, region):
    g = client("guardduty", region=region)
    d = g.list_detectors()["DetectorIds"][0]
    out = {}
    for m in g.get_member_detectors(DetectorId=d, AccountIds=accounts)["MemberDataSourceConfigurations"]:
        out[m["AccountId"]] = {f["Name"]: f["Status"] for f in m.get("Features", [])}
    return out
def members(region):
    g = client("guardduty", region=region)
    d = g.list_detectors()["DetectorIds"][0]
    return sorted(m["AccountId"] for m in g.list_members(DetectorId=d, OnlyAssociated="false")["Members"])
"#;

const HEAD: &str = r#"version: 1
organization: { delegated_admin: "222222222222", auto_enable: NONE }
accounts: { include: { ous: [Workloads] } }
regions: { include: [eu-west-1, us-east-1] }
detector:
  features: { S3_DATA_EVENTS: enabled, EKS_AUDIT_LOGS: enabled, EBS_MALWARE_PROTECTION: enabled }
profiles:
  sandbox:
    features: { S3_DATA_EVENTS: disabled, EBS_MALWARE_PROTECTION: disabled }
    regions: { exclude: [us-east-1] }
  prod:
    features: { RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } } }
assign:
  - { profile: prod, ous: [Workloads] }
  - { profile: sandbox, ous: [Workloads/Dev] }
  - { profile: sandbox, accounts: ["400000000003"] }
"#;

fn python(emulator: &Emulator, code: &str) -> Value {
    let out = emulator.boto3(&format!("{PY_CLIENT}{PY_HELPERS}\n{code}"));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("guardform.yaml"), text).unwrap();
}

#[test]
fn accounts_get_their_profile_and_the_most_specific_assignment_wins() {
    let emulator = Emulator::start();
    let seed = emulator.seed(&["--accounts", "6"]);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), HEAD);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    let plan = emulator.guardform(
        dir.path(),
        &[
            "plan",
            "--detailed-exitcode",
            "--explain",
            "400000000003",
            "--explain",
            "400000000001",
        ],
    );
    plan.expect_code(0);
    assert!(
        plan.stderr.contains("400000000003 (OU Workloads/Prod): profile `sandbox`, assigned by account 400000000003 (`assign:` entry at line 16), more specific than the other entries that match it; left out in us-east-1"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("400000000001 (OU Workloads/Prod): profile `prod`, assigned by OU `Workloads` (`assign:` entry at line 14)"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stdout
            .contains("us-east-1: 3 account(s) of profile `sandbox` are left out here"),
        "{}",
        plan.stdout
    );

    let found = python(
        &emulator,
        "print(json.dumps(features(['400000000001', '400000000002', '400000000003'], 'eu-west-1')))",
    );
    // Prod by its parent OU: the default features plus Runtime Monitoring.
    assert_eq!(
        found["400000000001"]["S3_DATA_EVENTS"], "ENABLED",
        "{found}"
    );
    assert_eq!(
        found["400000000001"]["RUNTIME_MONITORING"], "ENABLED",
        "{found}"
    );
    // Dev by the deeper OU, and a Prod account by its id: the sandbox set.
    for sandbox in ["400000000002", "400000000003"] {
        assert_eq!(found[sandbox]["S3_DATA_EVENTS"], "DISABLED", "{found}");
        assert_eq!(
            found[sandbox]["EBS_MALWARE_PROTECTION"], "DISABLED",
            "{found}"
        );
        assert_eq!(found[sandbox]["EKS_AUDIT_LOGS"], "ENABLED", "{found}");
    }
    // The sandbox profile leaves us-east-1 out: only the prod accounts are members there.
    let members = python(&emulator, "print(json.dumps(members('us-east-1')))");
    assert_eq!(members, serde_json::json!(["400000000001"]));

    // The same OU by id and by name path for two profiles: refused, naming both entries.
    let dev_id = seed["ous"]["Workloads/Dev"].as_str().unwrap();
    write(
        dir.path(),
        &format!("{HEAD}  - {{ profile: prod, ous: [\"{dev_id}\"] }}\n"),
    );
    let refused = emulator.guardform(dir.path(), &["plan"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains(&format!(
            "is assigned two profiles equally specifically: `sandbox` by OU `Workloads/Dev` (line 15) and `prod` by OU `{dev_id}` (line 17)"
        )),
        "{}",
        refused.stderr
    );
}

#[test]
fn overlapping_assignments_are_refused_offline_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{HEAD}  - {{ profile: prod, accounts: [\"400000000003\"] }}\n  - {{ profile: sandbx, ous: [Workloads/Dev] }}\n"
        ),
    );
    let run = common::run_guardform(dir.path(), &["validate"], &[]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("account 400000000003 is already assigned profile `sandbox` (line 16)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no profile `sandbx` in `profiles:`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `sandbox`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_no_op_plan_with_three_profiles_reads_two_calls_per_50_accounts_per_region() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let manifest = r#"version: 1
organization: { delegated_admin: "222222222222" }
accounts: { include: { all: true } }
regions: { include: [eu-west-1, us-east-1] }
detector:
  features: { S3_DATA_EVENTS: enabled }
profiles:
  prod: { features: { EKS_AUDIT_LOGS: enabled } }
  dev: { features: { S3_DATA_EVENTS: disabled } }
  security: { features: { RDS_LOGIN_EVENTS: enabled } }
assign:
  - { profile: prod, ous: [Workloads/Prod] }
  - { profile: dev, ous: [Workloads/Dev] }
  - { profile: security, ous: [Security] }
"#;
    write(dir.path(), manifest);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode", "--stats"]);
    plan.expect_code(0);
    let calls = common::stats(&plan.stderr);
    // 299 members (the administrator is not one): 6 pages of 50 per Region, 2 Regions.
    assert_eq!(calls.get("GuardDuty.ListMembers"), Some(&12), "{calls:?}");
    assert_eq!(
        calls.get("GuardDuty.GetMemberDetectors"),
        Some(&12),
        "{calls:?}"
    );
}

#[test]
fn per_feature_auto_enable_round_trips() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let manifest = r#"version: 1
organization:
  delegated_admin: "222222222222"
  auto_enable:
    default: NEW
    S3_DATA_EVENTS: ALL
    RUNTIME_MONITORING: { auto_enable: NEW, additional: { EKS_ADDON_MANAGEMENT: NONE } }
    RDS_LOGIN_EVENTS: NONE
accounts: { include: { all: true } }
regions: { include: [eu-west-1] }
detector:
  features:
    S3_DATA_EVENTS: enabled
    RDS_LOGIN_EVENTS: enabled
    RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled, EC2_AGENT_MANAGEMENT: enabled } }
"#;
    write(dir.path(), manifest);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let config = python(
        &emulator,
        "g = client('guardduty')\nd = g.list_detectors()['DetectorIds'][0]\n\
c = g.describe_organization_configuration(DetectorId=d)\n\
out = {'members': c['AutoEnableOrganizationMembers']}\n\
for f in c['Features']:\n    out[f['Name']] = f['AutoEnable']\n    for a in f.get('AdditionalConfiguration', []):\n        out[f['Name'] + '.' + a['Name']] = a['AutoEnable']\n\
print(json.dumps(out))",
    );
    assert_eq!(config["members"], "NEW", "{config}");
    assert_eq!(config["S3_DATA_EVENTS"], "ALL", "{config}");
    assert_eq!(config["RDS_LOGIN_EVENTS"], "NONE", "{config}");
    assert_eq!(config["RUNTIME_MONITORING"], "NEW", "{config}");
    assert_eq!(
        config["RUNTIME_MONITORING.EKS_ADDON_MANAGEMENT"], "NONE",
        "{config}"
    );
    assert_eq!(
        config["RUNTIME_MONITORING.EC2_AGENT_MANAGEMENT"], "NEW",
        "{config}"
    );

    // A typo in a feature name is refused with a suggestion.
    write(
        dir.path(),
        &manifest.replace("RDS_LOGIN_EVENTS: NONE", "RDS_LOGIN_EVENT: NONE"),
    );
    let run = common::run_guardform(dir.path(), &["validate"], &[]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("unknown key `RDS_LOGIN_EVENT` in `organization.auto_enable`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `RDS_LOGIN_EVENTS`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn eks_runtime_monitoring_is_migrated_to_runtime_monitoring_in_the_order_aws_requires() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let old = r#"version: 1
organization: { delegated_admin: "222222222222", auto_enable: NEW }
accounts: { include: { all: true } }
regions: { include: [eu-west-1] }
detector:
  features:
    S3_DATA_EVENTS: enabled
    EKS_RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } }
"#;
    write(dir.path(), old);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    // The manifest moves to the unified feature. GuardDuty refuses both features in one
    // request (the emulator does too), so apply must turn the new one on first and the old
    // one off after, for the administrator, the members and the organization configuration.
    let new = old.replace("EKS_RUNTIME_MONITORING:", "RUNTIME_MONITORING:");
    write(dir.path(), &new);
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    for (attribute, transition) in [
        (
            "features.EKS_RUNTIME_MONITORING ",
            "= \"ENABLED\" -> \"DISABLED\"",
        ),
        ("features.EKS_RUNTIME_MONITORING ", "= \"NEW\" -> \"NONE\""),
        (
            "features.RUNTIME_MONITORING ",
            "= \"DISABLED\" -> \"ENABLED\"",
        ),
        ("features.RUNTIME_MONITORING ", "= \"NONE\" -> \"NEW\""),
    ] {
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("~ {attribute}"))
                    && l.ends_with(transition)),
            "{attribute}{transition}\n{}",
            plan.stdout
        );
    }
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let live = python(
        &emulator,
        "g = client('guardduty')\nd = g.list_detectors()['DetectorIds'][0]\n\
admin = {f['Name']: f['Status'] for f in g.get_detector(DetectorId=d)['Features']}\n\
c = g.describe_organization_configuration(DetectorId=d)\n\
org = {f['Name']: f['AutoEnable'] for f in c['Features']}\n\
m = features(members('eu-west-1'), 'eu-west-1')\n\
print(json.dumps({'admin': [admin['RUNTIME_MONITORING'], admin['EKS_RUNTIME_MONITORING']], 'org': [org['RUNTIME_MONITORING'], org['EKS_RUNTIME_MONITORING']], 'members': sorted({(v['RUNTIME_MONITORING'], v['EKS_RUNTIME_MONITORING']) for v in m.values()})}))",
    );
    assert_eq!(
        live["admin"],
        serde_json::json!(["ENABLED", "DISABLED"]),
        "{live}"
    );
    assert_eq!(live["org"], serde_json::json!(["NEW", "NONE"]), "{live}");
    assert_eq!(
        live["members"],
        serde_json::json!([["ENABLED", "DISABLED"]]),
        "{live}"
    );
}
