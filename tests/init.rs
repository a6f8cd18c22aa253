//! `guardform init` on organizations set up in several ways: by hand with boto3 (as the
//! console, SRA or Terraform would leave them), by guardform, half-enrolled, with mixed
//! features and with lists and filters present. After `init`, `plan --detailed-exitcode` exits
//! 0, or shows exactly the changes the written manifest's header lists.

mod common;

use common::{Emulator, Run};
use std::collections::BTreeSet;
use std::path::Path;

/// boto3 clients as each account (out-of-band changes, as another tool makes them).
const PY: &str = common::PY_CLIENT;

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

/// The addresses the header of an init manifest lists as the first plan's changes.
fn listed(manifest: &str) -> BTreeSet<String> {
    manifest
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter_map(|l| {
            let (symbol, rest) = l.split_once(' ')?;
            ["+", "~", "-", "-/+"]
                .contains(&symbol)
                .then(|| rest.split(' ').next().unwrap_or_default().to_string())
        })
        .collect()
}

/// The addresses a JSON plan changes.
fn planned(run: &Run) -> BTreeSet<String> {
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("a JSON plan");
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect()
}

/// Runs init into `dir/guardform.yaml`, checks it validates, and returns its text.
fn init(emulator: &Emulator, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["init", "--regions", "eu-west-1,us-east-1,ap-southeast-2"];
    args.extend_from_slice(extra);
    let run = emulator.guardform(dir, &args);
    run.expect_code(0);
    assert!(
        run.stderr.contains("Wrote guardform.yaml"),
        "{}",
        run.stderr
    );
    emulator.guardform(dir, &["validate"]).expect_code(0);
    let text = std::fs::read_to_string(dir.join("guardform.yaml")).unwrap();
    assert!(
        text.lines()
            .filter(|l| l.starts_with("# ") || l.starts_with("#  "))
            .filter(|l| !l.starts_with("#   "))
            .all(|l| l.len() <= 100 || !l.trim_start_matches('#').trim().contains(' ')),
        "comments are wrapped:\n{text}"
    );
    // Wrapped comments joined back (continuations start `#  `; the header's changes `#   `).
    let mut joined = String::new();
    for line in text.lines() {
        match line.strip_prefix("#  ") {
            Some(rest) if !rest.starts_with(' ') => {
                joined.pop();
                joined.push(' ');
                joined.push_str(rest);
            }
            _ => joined.push_str(line),
        }
        joined.push('\n');
    }
    joined
}

#[test]
fn a_hand_made_organization_is_written_down_and_only_adoption_remains() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "5"]);
    // GuardDuty set up by hand: the security account administers two Regions; hourly-ish
    // settings, all members auto-enabled, a filter and a trusted list of its own.
    emulator.boto3(&format!(
        r#"{PY}
members = [a["Id"] for a in client("organizations", "123456789012", "us-east-1").list_accounts()["Accounts"] if a["Id"] != "222222222222"]
s3 = client("s3", "222222222222", "us-east-1")
s3.create_bucket(Bucket="security-lists")
s3.put_object(Bucket="security-lists", Key="office.txt", Body=b"203.0.113.0/24\n198.51.100.7\n")
for region in {REGIONS:?}:
    client("guardduty", "123456789012", region).enable_organization_admin_account(AdminAccountId="222222222222")
    g = client("guardduty", "222222222222", region)
    features = [{{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}}, {{"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}},
                {{"Name": "RDS_LOGIN_EVENTS", "Status": "ENABLED"}}]
    found = g.list_detectors()["DetectorIds"]
    if found:
        d = found[0]
        g.update_detector(DetectorId=d, Enable=True, FindingPublishingFrequency="SIX_HOURS", Features=features)
        g.tag_resource(ResourceArn=f"arn:aws:guardduty:{{region}}:222222222222:detector/{{d}}", Tags={{"team": "security"}})
    else:
        d = g.create_detector(Enable=True, FindingPublishingFrequency="SIX_HOURS", Tags={{"team": "security"}}, Features=features)["DetectorId"]
    g.update_organization_configuration(DetectorId=d, AutoEnableOrganizationMembers="ALL",
        Features=[{{"Name": "S3_DATA_EVENTS", "AutoEnable": "ALL"}}, {{"Name": "EKS_AUDIT_LOGS", "AutoEnable": "NONE"}},
                  {{"Name": "RDS_LOGIN_EVENTS", "AutoEnable": "ALL"}}])
    g.create_members(DetectorId=d, AccountDetails=[{{"AccountId": a, "Email": a + "@example.com"}} for a in members])
    g.update_member_detectors(DetectorId=d, AccountIds=members,
        Features=[{{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}}, {{"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}},
                  {{"Name": "RDS_LOGIN_EVENTS", "Status": "ENABLED"}}])
    g.create_filter(DetectorId=d, Name="their-scanner", Action="ARCHIVE", Rank=1,
        FindingCriteria={{"Criterion": {{"type": {{"Equals": ["Recon:EC2/Portscan"]}}}}}})
    g.create_ip_set(DetectorId=d, Name="office", Format="TXT", Location="https://s3.amazonaws.com/security-lists/office.txt", Activate=True)
"#
    ));
    let dir = tempfile::tempdir().unwrap();
    let manifest = init(&emulator, dir.path(), &[]);
    for expected in [
        "delegated_admin: \"222222222222\"",
        "auto_enable: ALL",
        "accounts: { include: { all: true }",
        "regions: { include: [eu-west-1, us-east-1] }",
        "finding_publishing_frequency: SIX_HOURS",
        "S3_DATA_EVENTS: enabled",
        "EKS_AUDIT_LOGS: disabled",
        "RDS_LOGIN_EVENTS: enabled",
        "tags: { team: security }",
        "name: their-scanner",
        "name: office, kind: trusted, source: { s3: \"s3://security-lists/office.txt\" }, adopt: true",
        "storage: { bucket: \"s3://guardform-lists-222222222222/guardform\" }",
    ] {
        assert!(
            manifest.contains(expected),
            "`{expected}` missing:\n{manifest}"
        );
    }
    let adopted = manifest
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("adopt: true"))
        .count();
    assert_eq!(
        adopted, 2,
        "the filter and the list are adopted:\n{manifest}"
    );

    // What is left is adoption only, exactly as the header says: guardform's tag on the
    // detector and the filter, and its own copy of the list.
    let plan = emulator.guardform(dir.path(), &["plan", "--json"]);
    plan.expect_code(0);
    let changes = planned(&plan);
    assert_eq!(changes, listed(&manifest), "{manifest}\n{}", plan.stdout);
    let types: BTreeSet<&str> = changes
        .iter()
        .map(|a| a.split('[').next().unwrap())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "guardduty.detector",
            "guardduty.filter",
            "guardduty.ipset",
            "s3.bucket",
            "s3.object"
        ]),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("\"delete\""),
        "nothing is destroyed: {}",
        plan.stdout
    );
    // The manifest init wrote is one guardform applies and then keeps.
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn an_organization_guardform_manages_inits_to_no_changes_and_drift_is_said() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "6"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("applied.yaml"),
        r#"version: 1
organization:
  delegated_admin: "222222222222"
  auto_enable: NEW
accounts:
  include: { all: true }
regions:
  include: [eu-west-1, us-east-1]
detector:
  finding_publishing_frequency: FIFTEEN_MINUTES
  features:
    S3_DATA_EVENTS: enabled
    EKS_AUDIT_LOGS: enabled
    RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } }
filters:
  - name: known-scanner
    action: archive
    criteria: { type: { equals: ["Recon:EC2/Portscan"] } }
"#,
    )
    .unwrap();
    emulator
        .guardform(
            dir.path(),
            &["-m", "applied.yaml", "apply", "--auto-approve"],
        )
        .expect_code(0);

    // Straight after guardform: init reproduces it, and plan says "No changes."
    let manifest = init(&emulator, dir.path(), &[]);
    assert!(
        manifest.contains("`guardform plan` with this manifest says: No changes."),
        "{manifest}"
    );
    assert!(!manifest.contains("adopt: true"), "{manifest}");
    let clean = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    clean.expect_code(0);
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);

    // Half-enrolled and mixed: one account leaves GuardDuty, another's features drift.
    emulator.boto3(&format!(
        r#"{PY}
for region in {REGIONS:?}:
    g = client("guardduty", "222222222222", region)
    d = detector("222222222222", region)
    g.disassociate_members(DetectorId=d, AccountIds=["400000000001"])
    g.delete_members(DetectorId=d, AccountIds=["400000000001"])
    # One account runs without EKS audit logs everywhere (a profile can say that) ...
    g.update_member_detectors(DetectorId=d, AccountIds=["400000000003"],
        Features=[{{"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}}])
# ... another in one Region only (no one setting says that).
g = client("guardduty", "222222222222", "eu-west-1")
g.update_member_detectors(DetectorId=detector("222222222222"), AccountIds=["400000000002"],
    Features=[{{"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}}])
"#
    ));
    let again = emulator.guardform(dir.path(), &["init", "--regions", "eu-west-1,us-east-1"]);
    again.expect_code(1);
    assert!(
        again.stderr.contains("guardform.yaml exists") && again.stderr.contains("--force"),
        "{}",
        again.stderr
    );
    let manifest = init(&emulator, dir.path(), &["--force"]);
    assert!(
        manifest.contains("exclude: { ids: [\"400000000001\"] }"),
        "the account that left is excluded, not re-enrolled:\n{manifest}"
    );
    assert!(
        manifest.contains("members whose features are not the same in every Region (the first plan changes them to these or their profile's): 400000000002"),
        "{manifest}"
    );
    assert!(
        manifest.contains("profiles:\n  as-found-1: { features: { EKS_AUDIT_LOGS: disabled } }\n")
            && manifest.contains("assign: [{ profile: as-found-1, accounts: [\"400000000003\"] }]"),
        "the account that differs everywhere gets a profile:\n{manifest}"
    );
    let plan = emulator.guardform(dir.path(), &["plan", "--json"]);
    plan.expect_code(0);
    assert_eq!(
        planned(&plan),
        BTreeSet::from(["guardduty.member[400000000002/eu-west-1]".to_string()]),
        "{manifest}\n{}",
        plan.stdout
    );
    assert_eq!(planned(&plan), listed(&manifest));
}

#[test]
fn init_without_an_administrator_says_what_to_do() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let run = emulator.guardform(dir.path(), &["init", "--regions", "eu-west-1"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("GuardDuty has no delegated administrator")
            && run.stderr.contains("hint:"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("guardform.yaml").exists());
    let bad = emulator.guardform(dir.path(), &["init", "--regions", "mars-north-1"]);
    bad.expect_code(1);
    assert!(
        bad.stderr.contains("`mars-north-1` is not an AWS Region"),
        "{}",
        bad.stderr
    );
}

#[test]
fn the_full_example_inits_to_profiles_filters_and_lists_and_names_what_it_cannot_write() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "6"]);
    let dir = tempfile::tempdir().unwrap();
    common::copy_example(dir.path(), "full.yaml", "full.yaml");
    emulator
        .guardform(dir.path(), &["-m", "full.yaml", "apply", "--auto-approve"])
        .expect_code(0);
    let manifest = init(&emulator, dir.path(), &[]);
    // The dev profile (other features, not enrolled in ap-southeast-2) comes back as a profile.
    assert!(
        manifest.contains("regions: { exclude: [ap-southeast-2] }")
            && manifest.contains(
                "assign: [{ profile: as-found-1, accounts: [\"400000000002\", \"400000000004\"] }]"
            ),
        "{manifest}"
    );
    for said in [
        "init does not write `responses:`",
        "findings are exported to arn:aws:s3:::acme-guardduty-findings/guardduty",
        "name: known-scanner",
        "- name: phishing-domains\n    kind: threat_entities\n",
        "(`export` is no longer in the manifest (the bucket, its findings and the key are kept)) [apply refuses it without --allow-destroy]",
    ] {
        assert!(manifest.contains(said), "`{said}` missing:\n{manifest}");
    }
    let plan = emulator.guardform(dir.path(), &["plan", "--json"]);
    plan.expect_code(0);
    let changes = planned(&plan);
    assert_eq!(changes, listed(&manifest), "{manifest}");
    // What init cannot write (the export, the responses) is all the first plan would remove;
    // GuardDuty itself, the profiles, filters and lists need nothing.
    for address in &changes {
        let kind = address.split('[').next().unwrap();
        assert!(
            kind == "guardduty.publishing_destination"
                || kind == "iam.boundary_policy"
                || ["iam.role", "sqs.queue", "lambda.", "events."]
                    .iter()
                    .any(|p| kind.starts_with(p)),
            "{address} should need no change:\n{manifest}"
        );
    }
}
