//! guardform plan/apply end to end against the emulator, the way a user runs it.

mod common;

use common::{Emulator, Run, root, stats};
use std::path::Path;

/// Python prelude for out-of-band changes: `client(service, account, region)` with the
/// account's credentials obtained through a real STS AssumeRole, as another tool would.
/// boto3 clients as each account (out-of-band changes, as another tool makes them).
const PY: &str = common::PY_CLIENT;

const MANIFEST: &str = r#"version: 1
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
    RDS_LOGIN_EVENTS: disabled
  tags: { owner: security }
"#;

fn write_manifest(dir: &Path, text: &str) {
    std::fs::write(dir.join("guardform.yaml"), text).unwrap();
}

fn setup(accounts: &str) -> (Emulator, tempfile::TempDir) {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", accounts]);
    let dir = tempfile::tempdir().unwrap();
    write_manifest(dir.path(), MANIFEST);
    (emulator, dir)
}

fn plan_lines(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| {
            l.starts_with("  +")
                || l.starts_with("  ~")
                || l.starts_with("  -")
                || l.starts_with("-/+")
                || l.starts_with("Plan:")
        })
        .collect()
}

#[test]
fn fresh_org_plans_applies_converges_and_follows_manifest_edits() {
    let (emulator, dir) = setup("6");
    let dir = dir.path();

    // Fresh organization: everything is to be created, and a plan changes nothing.
    let plan = emulator.guardform(dir, &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    insta::with_settings!({filters => vec![(r"sha256:[0-9a-f]{64}", "[sha256]")]}, {
        insta::assert_snapshot!("fresh_plan", plan.stdout);
    });
    assert!(
        plan.stdout
            .contains("Plan: 19 to add, 0 to change, 0 to destroy.")
    );
    emulator
        .guardform(dir, &["plan", "--detailed-exitcode"])
        .expect_code(2);

    // Apply, then nothing is left to do, and applying again changes nothing.
    let apply = emulator.guardform(dir, &["apply", "--auto-approve"]);
    apply.expect_code(0);
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 19 added, 0 changed, 0 destroyed."),
        "{}",
        apply.stdout
    );
    let again = emulator.guardform(dir, &["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let reapply = emulator.guardform(dir, &["apply", "--auto-approve", "--stats"]);
    reapply.expect_code(0);
    let calls = stats(&reapply.stderr);
    assert!(
        calls
            .keys()
            .all(|op| !op.contains("Create") && !op.contains("Update") && !op.contains("Enable")),
        "a no-op apply wrote: {calls:?}"
    );

    // Edit the manifest: publishing frequency, one feature off, one account excluded.
    let edited = MANIFEST
        .replace("FIFTEEN_MINUTES", "ONE_HOUR")
        .replace("EKS_AUDIT_LOGS: enabled", "EKS_AUDIT_LOGS: disabled")
        .replace(
            "include: { all: true }",
            "include: { all: true }\n  exclude: { ids: [\"400000000001\"] }",
        );
    write_manifest(dir, &edited);
    let plan = emulator.guardform(dir, &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    insta::assert_snapshot!("edited_plan", plan_lines(&plan).join("\n"));

    // The exclusion is destructive: refused without the flag, and nothing else is applied.
    let refused = emulator.guardform(dir, &["apply", "--auto-approve"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("needs --allow-destroy"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was changed"),
        "{}",
        refused.stderr
    );
    emulator
        .guardform(dir, &["plan", "--detailed-exitcode"])
        .expect_code(2);
    let applied = emulator.guardform(dir, &["apply", "--auto-approve", "--allow-destroy"]);
    applied.expect_code(0);
    assert!(
        applied
            .stdout
            .contains("Resources: 0 added, 14 changed, 2 destroyed."),
        "{}",
        applied.stdout
    );
    emulator
        .guardform(dir, &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // Live state really is what the manifest says.
    let out = emulator.boto3(&format!(
        "{PY}\ng = client('guardduty', '222222222222')\nd = detector('222222222222')\nprint(g.get_detector(DetectorId=d)['FindingPublishingFrequency'])\nprint(sorted(m['AccountId'] for m in g.list_members(DetectorId=d)['Members']))\nprint({{f['Name']: f['Status'] for f in g.get_member_detectors(DetectorId=d, AccountIds=['400000000002'])['MemberDataSourceConfigurations'][0]['Features']}}['EKS_AUDIT_LOGS'])"
    ));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "ONE_HOUR",
            "['123456789012', '333333333333', '400000000002', '400000000003', '400000000004']",
            "DISABLED"
        ]
    );
}

#[test]
fn drift_shows_in_plan_and_a_stale_saved_plan_is_refused() {
    let (emulator, dir) = setup("4");
    let dir = dir.path();
    emulator
        .guardform(dir, &["apply", "--auto-approve"])
        .expect_code(0);

    // Someone disables S3 protection on the administrator and on one member, out of band.
    emulator.boto3(&format!(
        "{PY}\ng = client('guardduty', '222222222222')\nd = detector('222222222222')\ng.update_detector(DetectorId=d, Features=[{{'Name': 'S3_DATA_EVENTS', 'Status': 'DISABLED'}}])\ng.update_member_detectors(DetectorId=d, AccountIds=['333333333333'], Features=[{{'Name': 'S3_DATA_EVENTS', 'Status': 'DISABLED'}}])"
    ));
    let plan = emulator.guardform(dir, &["plan", "--detailed-exitcode", "--out", "drift.plan"]);
    plan.expect_code(2);
    insta::assert_snapshot!("drift_plan", plan_lines(&plan).join("\n"));
    assert!(
        plan.stdout
            .contains("~ features.S3_DATA_EVENTS = \"DISABLED\" -> \"ENABLED\""),
        "{}",
        plan.stdout
    );

    // As Markdown for a pull request: the summary first, the feature drift in a diff block.
    let markdown = emulator.guardform(dir, &["show", "drift.plan", "--format", "markdown"]);
    markdown.expect_code(0);
    insta::assert_snapshot!("drift_markdown", markdown.stdout);
    assert!(
        markdown
            .stdout
            .starts_with("**Plan: 0 to add, 2 to change, 0 to destroy.**"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("!     features.S3_DATA_EVENTS = \"DISABLED\" -> \"ENABLED\""),
        "{}",
        markdown.stdout
    );

    // The saved plan renders the same, as text and JSON.
    let shown = emulator.guardform(dir, &["show", "drift.plan"]);
    shown.expect_code(0);
    assert_eq!(plan_lines(&shown), plan_lines(&plan));
    let json: serde_json::Value = serde_json::from_str(
        &emulator
            .guardform(dir, &["show", "drift.plan", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json["summary"]["change"], 2);
    assert!(
        json.get("manifest_source").is_none(),
        "the JSON plan does not carry the manifest text"
    );

    // The world changes again before the saved plan is applied: apply refuses it.
    emulator.boto3(&format!(
        "{PY}\ng = client('guardduty', '222222222222')\ng.update_detector(DetectorId=detector('222222222222'), FindingPublishingFrequency='SIX_HOURS')"
    ));
    let stale = emulator.guardform(dir, &["apply", "drift.plan"]);
    stale.expect_code(1);
    assert!(
        stale.stderr.contains("saved plan is stale"),
        "{}",
        stale.stderr
    );
    let frequency = emulator.boto3(&format!("{PY}\nprint(client('guardduty', '222222222222').get_detector(DetectorId=detector('222222222222'))['FindingPublishingFrequency'])"));
    assert_eq!(
        frequency.trim(),
        "SIX_HOURS",
        "a stale plan must change nothing"
    );

    // A fresh saved plan applies exactly, without a prompt, and converges.
    emulator
        .guardform(dir, &["plan", "--out", "fresh.plan"])
        .expect_code(0);
    emulator
        .guardform(dir, &["apply", "fresh.plan"])
        .expect_code(0);
    emulator
        .guardform(dir, &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn existing_detectors_are_adopted_not_created() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "4"]);
    // The administrator and a member already run GuardDuty with other settings.
    emulator.boto3(&format!(
        "{PY}\nfor account in ['222222222222', '333333333333']:\n    client('guardduty', account).create_detector(Enable=True, FindingPublishingFrequency='SIX_HOURS', Features=[{{'Name': 'S3_DATA_EVENTS', 'Status': 'DISABLED'}}, {{'Name': 'EKS_AUDIT_LOGS', 'Status': 'DISABLED'}}], Tags={{'team': 'sec'}})"
    ));
    let dir = tempfile::tempdir().unwrap();
    write_manifest(
        dir.path(),
        &MANIFEST.replace("[eu-west-1, us-east-1]", "[eu-west-1]"),
    );
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("~ guardduty.detector[222222222222/eu-west-1]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("adopting the existing detector"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("+ guardduty.detector[222222222222"),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    // Adopted, not replaced: the detector keeps its id and its own tags.
    let out = emulator.boto3(&format!(
        "{PY}\ng = client('guardduty', '222222222222')\nids = g.list_detectors()['DetectorIds']\nprint(len(ids), g.get_detector(DetectorId=ids[0])['Tags'].get('team'))"
    ));
    assert_eq!(out.trim(), "1 sec");
}

#[test]
fn members_are_created_in_batches_of_50() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "120"]);
    let dir = tempfile::tempdir().unwrap();
    write_manifest(
        dir.path(),
        &MANIFEST.replace("[eu-west-1, us-east-1]", "[eu-west-1]"),
    );
    let apply = emulator.guardform(dir.path(), &["apply", "--auto-approve", "--stats"]);
    apply.expect_code(0);
    // 119 org accounts besides the administrator, plus the management account: 120 members.
    assert!(
        apply.stdout.contains("Resources: 124 added"),
        "{}",
        apply.stdout
    );
    let calls = stats(&apply.stderr);
    assert_eq!(calls["GuardDuty.CreateMembers"], 3, "{}", apply.stderr);
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode", "--stats"]);
    plan.expect_code(0);
    let calls = stats(&plan.stderr);
    assert_eq!(calls["GuardDuty.ListMembers"], 3, "{}", plan.stderr);
    assert_eq!(calls["GuardDuty.GetMemberDetectors"], 3, "{}", plan.stderr);
}

#[test]
fn an_account_guardduty_rejects_fails_alone_and_the_rest_applies() {
    let (emulator, dir) = setup("5");
    let dir = dir.path();
    // 400000000002 already accepted an invitation from a standalone administrator outside the
    // organization, so GuardDuty refuses to make it a member of the delegated administrator.
    emulator.boto3(&format!(
        "{PY}\nfor region in ['eu-west-1', 'us-east-1']:\n    o = client('guardduty', '999999999999', region)\n    od = o.create_detector(Enable=True)['DetectorId']\n    o.create_members(DetectorId=od, AccountDetails=[{{'AccountId': '400000000002', 'Email': 'x@example.com'}}])\n    o.invite_members(DetectorId=od, AccountIds=['400000000002'])\n    m = client('guardduty', '400000000002', region)\n    md = m.create_detector(Enable=True)['DetectorId']\n    inv = m.list_invitations()['Invitations'][0]\n    m.accept_administrator_invitation(DetectorId=md, AdministratorId='999999999999', InvitationId=inv['InvitationId'])"
    ));
    let apply = emulator.guardform(dir, &["apply", "--auto-approve"]);
    apply.expect_code(1);
    assert!(
        apply
            .stdout
            .contains("Apply finished with errors: 15 applied, 2 failed, 0 skipped."),
        "{}",
        apply.stdout
    );
    assert!(
        apply
            .stdout
            .contains("guardduty.member[400000000002/eu-west-1] failed"),
        "{}",
        apply.stdout
    );
    let plan = emulator.guardform(dir, &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert_eq!(
        plan_lines(&plan),
        vec![
            "  + guardduty.member[400000000002/eu-west-1]",
            "  + guardduty.member[400000000002/us-east-1]",
            "Plan: 2 to add, 0 to change, 0 to destroy."
        ]
    );
}

#[test]
fn a_different_delegated_admin_needs_an_explicit_flag() {
    let (emulator, dir) = setup("4");
    let dir = dir.path();
    emulator.boto3(&format!("{PY}\nclient('guardduty', '123456789012').enable_organization_admin_account(AdminAccountId='333333333333')"));
    let plan = emulator.guardform(dir, &["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("-/+ guardduty.organization_admin[eu-west-1]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("~ account_id = \"333333333333\" -> \"222222222222\""),
        "{}",
        plan.stdout
    );
    let refused = emulator.guardform(dir, &["apply", "--auto-approve"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("needs --allow-admin-change"),
        "{}",
        refused.stderr
    );
    emulator
        .guardform(dir, &["apply", "--auto-approve", "--allow-admin-change"])
        .expect_code(0);
    emulator
        .guardform(dir, &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn json_plan_is_versioned_and_stable() {
    let (emulator, dir) = setup("3");
    write_manifest(
        dir.path(),
        &MANIFEST.replace("[eu-west-1, us-east-1]", "[eu-west-1]"),
    );
    let plan = emulator.guardform(dir.path(), &["plan", "--json"]);
    plan.expect_code(0);
    let json: serde_json::Value =
        serde_json::from_str(&plan.stdout).expect("plan --json prints JSON only");
    assert_eq!(json["format_version"], "1.0");
    insta::with_settings!({filters => vec![(r"sha256:[0-9a-f]{64}", "[sha256]"), (r#""guardform_version": "[^"]+""#, r#""guardform_version": "[version]""#)]}, {
        insta::assert_snapshot!("json_plan", plan.stdout);
    });
}

#[test]
fn every_example_manifest_validates_and_plans() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "12"]);
    let dir = tempfile::tempdir().unwrap();
    let mut count = 0;
    for entry in std::fs::read_dir(root().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        count += 1;
        let manifest = path.to_str().unwrap();
        emulator
            .guardform(dir.path(), &["validate", "-m", manifest])
            .expect_code(0);
        let plan = emulator.guardform(dir.path(), &["plan", "-m", manifest, "--detailed-exitcode"]);
        plan.expect_code(2);
        assert!(
            plan.stdout.contains("Plan: "),
            "{manifest}: {}",
            plan.stdout
        );
    }
    assert!(count >= 3, "manifests/ must hold the examples");
}

#[test]
fn apply_refuses_to_run_unattended_without_auto_approve() {
    let (emulator, dir) = setup("3");
    let run = emulator.guardform(dir.path(), &["apply"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("standard input is not a terminal"),
        "{}",
        run.stderr
    );
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(2);
}

#[test]
fn throttling_is_retried_with_backoff_and_counted() {
    let (emulator, dir) = setup("4");
    let rules = "  - service: guardduty\n    operation: CreateMembers\n    error: { code: ThrottlingException, message: Rate exceeded, status: 400 }\n    times: 2\n  - service: guardduty\n    operation: ListOrganizationAdminAccounts\n    error: { code: ThrottlingException, message: Rate exceeded, status: 400 }\n    times: 1\n";
    let proxy = common::Microburst::start(&emulator.endpoint, rules);
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    let apply = common::run_guardform(dir.path(), &["apply", "--auto-approve", "--stats"], &env);
    apply.expect_code(0);
    let line = |op: &str| {
        apply
            .stderr
            .lines()
            .find(|l| l.contains(op))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("GuardDuty.CreateMembers").contains("2 retries     2 throttles"),
        "{}",
        apply.stderr
    );
    assert!(
        line("GuardDuty.ListOrganizationAdminAccounts").contains("1 retries     1 throttles"),
        "{}",
        apply.stderr
    );
    common::run_guardform(dir.path(), &["plan", "--detailed-exitcode"], &env).expect_code(0);
}

#[test]
fn suspended_accounts_and_disabled_opt_in_regions_are_left_out_with_a_note() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "5", "--suspend", "1"]);
    let dir = tempfile::tempdir().unwrap();
    write_manifest(
        dir.path(),
        &MANIFEST.replace("[eu-west-1, us-east-1]", "[eu-west-1, af-south-1]"),
    );
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("Note: 1 selected account(s) are not active and are never targeted: 400000000003 (SUSPENDED)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Note: Region af-south-1 skipped: it is an opt-in Region that is disabled in the administrator account 222222222222"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("400000000003/"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("af-south-1]"), "{}", plan.stdout);
}

#[test]
fn a_saved_plan_runs_exactly_as_written_or_not_at_all() {
    let (emulator, dir) = setup("3");
    emulator
        .guardform(dir.path(), &["plan", "--out", "p.plan"])
        .expect_code(0);
    let path = dir.path().join("p.plan");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600,
        "plan files hold account e-mail addresses: owner only"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind");
    let original = std::fs::read_to_string(&path).unwrap();

    // An edited change: the world is the same, the plan is not guardform's.
    let edited = original.replacen("\"FIFTEEN_MINUTES\"", "\"SIX_HOURS\"", 1);
    assert_ne!(edited, original);
    std::fs::write(&path, &edited).unwrap();
    let refused = emulator.guardform(dir.path(), &["apply", "p.plan"]);
    refused.expect_code(1);
    assert!(
        refused
            .stderr
            .contains("p.plan is not the plan guardform makes now for this world: guardduty.detector[222222222222/eu-west-1] differs from what guardform plans; nothing was changed"),
        "{}",
        refused.stderr
    );

    // A plan written by another guardform version is refused before anything is read.
    let other = original.replacen(
        &format!("\"guardform_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"guardform_version\": \"0.0.1\"",
        1,
    );
    assert_ne!(other, original);
    std::fs::write(&path, &other).unwrap();
    let refused = emulator.guardform(dir.path(), &["apply", "p.plan"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("it was written by guardform 0.0.1"),
        "{}",
        refused.stderr
    );
    // Nothing was applied: the fresh plan is the original one.
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("+ guardduty.organization_admin[eu-west-1]")
    );

    // The untouched file applies.
    std::fs::write(&path, &original).unwrap();
    emulator
        .guardform(dir.path(), &["apply", "p.plan"])
        .expect_code(0);
}

#[test]
fn a_retry_mode_the_sdk_lacks_is_said_not_silently_changed() {
    let (emulator, dir) = setup("2");
    let env = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_RETRY_MODE", "legacy"),
    ];
    let plan = common::run_guardform(dir.path(), &["plan"], &env);
    plan.expect_code(0);
    assert!(
        plan.stderr.contains(
            "warning: AWS_RETRY_MODE=legacy is not available in the AWS SDK for Rust: guardform retries in `standard` mode"
        ),
        "{}",
        plan.stderr
    );
    let env = [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_RETRY_MODE", "sometimes"),
    ];
    let plan = common::run_guardform(dir.path(), &["plan"], &env);
    plan.expect_code(1);
    assert!(
        plan.stderr
            .contains("AWS_RETRY_MODE must be `standard`, `adaptive` or `legacy`, not `sometimes`"),
        "{}",
        plan.stderr
    );
}

#[test]
fn apply_json_streams_one_event_per_line_for_machines() {
    let (emulator, dir) = setup("3");
    let refused = emulator.guardform(dir.path(), &["apply", "--json"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("apply --json asks no questions"),
        "{}",
        refused.stderr
    );

    // CreateMembers refused in one Region: those members fail with AWS's reason, the rest applies.
    let rules = "  - { service: guardduty, operation: CreateMembers, region: us-east-1, error: { code: BadRequestException, message: \"The request is rejected because the input detectorId is not owned by the current account.\", status: 400 } }\n";
    let proxy = common::Microburst::start(&emulator.endpoint, rules);
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    let run = common::run_guardform(dir.path(), &["apply", "--json", "--auto-approve"], &env);
    run.expect_code(1);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(events[0]["type"], "plan");
    let changes = events[0]["changes"].as_u64().unwrap() as usize;
    let of = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
    assert_eq!(of("started"), changes, "every change is announced once");
    assert_eq!(of("applied") + of("failed") + of("skipped"), changes);
    let failed: Vec<&serde_json::Value> = events.iter().filter(|e| e["type"] == "failed").collect();
    assert!(!failed.is_empty());
    for event in &failed {
        let address = event["address"].as_str().unwrap();
        assert!(
            address.starts_with("guardduty.member[") && address.ends_with("/us-east-1]"),
            "{event}"
        );
        assert!(
            event["error"]
                .as_str()
                .unwrap()
                .contains("BadRequestException: The request is rejected"),
            "{event}"
        );
    }
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["succeeded"], false);
    assert_eq!(summary["failed"].as_u64().unwrap() as usize, failed.len());
}

#[test]
fn a_region_dropped_from_the_manifest_is_not_silently_abandoned() {
    let (emulator, dir) = setup("2");
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    write_manifest(
        dir.path(),
        &MANIFEST.replace("[eu-west-1, us-east-1]", "[eu-west-1]"),
    );
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("Note: us-east-1: the manifest no longer targets this Region, but the administrator 222222222222 has guardform's detector")
            && plan.stdout.contains("hint: target us-east-1 again to manage it"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("Note: eu-west-2"), "{}", plan.stdout);
}
