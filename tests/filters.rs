//! Suppression filters and saved filters end to end against the emulator: created in rank
//! order, inserted in the middle, reordered and removed without GuardDuty ever refusing a rank,
//! drift shown, filters guardform does not own left alone (or adopted), broad archives refused.

mod common;

use common::{Emulator, PY_CLIENT, Run};
use serde_json::Value;
use std::path::Path;

/// Helpers beside `common::PY_CLIENT`.
const PY_HELPERS: &str = r#"
def filters(region="eu-west-1"):
    g = client("guardduty", region=region)
    d = g.list_detectors()["DetectorIds"][0]
    out = []
    for name in g.list_filters(DetectorId=d)["FilterNames"]:
        f = g.get_filter(DetectorId=d, FilterName=name)
        f.pop("ResponseMetadata", None)
        out.append(f)
    return sorted(out, key=lambda f: f["Rank"])
"#;

const HEAD: &str = r#"version: 1
organization: { delegated_admin: "222222222222" }
accounts: { include: { all: true } }
regions: { include: [eu-west-1, us-east-1] }
"#;

fn filter(name: &str, kind: &str) -> String {
    format!("  - name: {name}\n    criteria:\n      type: {{ equals: [\"{kind}\"] }}\n")
}

fn write(dir: &Path, filters: &[String]) {
    std::fs::write(
        dir.join("guardform.yaml"),
        format!("{HEAD}filters:\n{}", filters.concat()),
    )
    .unwrap();
}

/// The filters GuardDuty has in `region`, by rank: (rank, name, action, owned).
fn live(emulator: &Emulator, region: &str) -> Vec<(i64, String, String, bool)> {
    let out = emulator.boto3(&format!(
        "{PY_CLIENT}{PY_HELPERS}\nprint(json.dumps(filters('{region}'), default=str))"
    ));
    let found: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
    found
        .iter()
        .map(|f| {
            (
                f["Rank"].as_i64().unwrap(),
                f["Name"].as_str().unwrap().to_string(),
                f["Action"].as_str().unwrap().to_string(),
                f["Tags"]["guardform:managed"] == "true",
            )
        })
        .collect()
}

fn names(emulator: &Emulator, region: &str) -> Vec<String> {
    live(emulator, region).into_iter().map(|f| f.1).collect()
}

fn apply(emulator: &Emulator, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "--auto-approve"];
    args.extend_from_slice(extra);
    let run = emulator.guardform(dir, &args);
    run.expect_code(0);
    run
}

fn converged(emulator: &Emulator, dir: &Path) {
    emulator
        .guardform(dir, &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn filters_keep_the_manifest_order_through_inserts_reorders_and_removals() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        filter("alpha", "Recon:EC2/PortProbeUnprotectedPort"),
        filter("bravo", "UnauthorizedAccess:EC2/SSHBruteForce"),
        filter("charlie", "Recon:EC2/Portscan"),
    );
    let archive = "  - name: known-scanner\n    description: Our vulnerability scanner\n    action: archive\n    criteria:\n      type: { equals: [\"Recon:EC2/PortProbeUnprotectedPort\"] }\n      service.action.networkConnectionAction.remoteIpDetails.ipAddressV4: { equals: [\"198.51.100.7\"] }\n      severity: { lt: 4 }\n".to_string();

    write(dir.path(), &[a.clone(), b.clone(), archive.clone()]);
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("+ guardduty.filter[222222222222/eu-west-1/known-scanner]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("not used by GuardDuty Extended Threat Detection"),
        "{}",
        plan.stdout
    );
    apply(&emulator, dir.path(), &[]);
    converged(&emulator, dir.path());
    for region in ["eu-west-1", "us-east-1"] {
        assert_eq!(
            live(&emulator, region),
            vec![
                (1, "alpha".into(), "NOOP".into(), true),
                (2, "bravo".into(), "NOOP".into(), true),
                (3, "known-scanner".into(), "ARCHIVE".into(), true),
            ]
        );
    }

    // Insert in the middle: one create at rank 2, the rest move by themselves.
    write(
        dir.path(),
        &[a.clone(), c.clone(), b.clone(), archive.clone()],
    );
    let run = apply(&emulator, dir.path(), &[]);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed."),
        "{}",
        run.stdout
    );
    converged(&emulator, dir.path());
    assert_eq!(
        names(&emulator, "eu-west-1"),
        ["alpha", "charlie", "bravo", "known-scanner"]
    );

    // Reverse the order: every rank GuardDuty is given exists when it is given.
    write(
        dir.path(),
        &[archive.clone(), b.clone(), c.clone(), a.clone()],
    );
    apply(&emulator, dir.path(), &[]);
    converged(&emulator, dir.path());
    assert_eq!(
        names(&emulator, "us-east-1"),
        ["known-scanner", "bravo", "charlie", "alpha"]
    );

    // Remove two: refused without the flag, then deleted, and the ranks close up.
    write(dir.path(), &[archive.clone(), a.clone()]);
    let refused = emulator.guardform(dir.path(), &["apply", "--auto-approve"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("--allow-destroy") || refused.stdout.contains("--allow-destroy"),
        "{refused:?}"
    );
    apply(&emulator, dir.path(), &["--allow-destroy"]);
    converged(&emulator, dir.path());
    assert_eq!(
        live(&emulator, "eu-west-1"),
        vec![
            (1, "known-scanner".into(), "ARCHIVE".into(), true),
            (2, "alpha".into(), "NOOP".into(), true),
        ]
    );
}

#[test]
fn drift_shows_foreign_filters_stay_and_adopt_takes_one_over() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let a = filter("alpha", "Recon:EC2/PortProbeUnprotectedPort");
    write(dir.path(), std::slice::from_ref(&a));
    apply(&emulator, dir.path(), &[]);

    // Someone edits ours in the console and adds two of their own, one ahead of ours.
    emulator.boto3(&format!(
        "{PY_CLIENT}{PY_HELPERS}\ng = client('guardduty')\nd = g.list_detectors()['DetectorIds'][0]\n\
g.update_filter(DetectorId=d, FilterName='alpha', Action='ARCHIVE', FindingCriteria={{'Criterion': {{'severity': {{'Lt': 4}}}}}})\n\
g.create_filter(DetectorId=d, Name='theirs', Rank=1, FindingCriteria={{'Criterion': {{'type': {{'Equals': ['Policy:S3/BucketBlockPublicAccessDisabled']}}}}}})\n\
g.create_filter(DetectorId=d, Name='shared-name', FindingCriteria={{'Criterion': {{'type': {{'Equals': ['x']}}}}}})\n"
    ));
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    let out = &plan.stdout;
    assert!(
        out.contains("~ guardduty.filter[222222222222/eu-west-1/alpha]"),
        "{out}"
    );
    assert!(out.contains("~ action"), "{out}");
    assert!(out.contains("\"ARCHIVE\" -> \"NOOP\""), "{out}");
    assert!(
        out.contains("-     \"lessThan\": 4"),
        "criteria as a document diff:\n{out}"
    );
    assert!(
        out.contains("2 filter(s) guardform did not create are left alone"),
        "{out}"
    );
    apply(&emulator, dir.path(), &[]);
    converged(&emulator, dir.path());
    let found = live(&emulator, "eu-west-1");
    assert_eq!(found[0], (1, "alpha".into(), "NOOP".into(), true));
    assert!(found[1..].iter().all(|f| !f.3), "{found:?}");

    // A filter of the manifest with the name of one guardform did not create: refused...
    let shared = filter("shared-name", "y");
    write(dir.path(), &[a.clone(), shared.clone()]);
    let refused = emulator.guardform(dir.path(), &["plan"]);
    refused.expect_code(1);
    assert!(
        refused
            .stderr
            .contains("a filter named `shared-name` exists and guardform did not create it"),
        "{refused:?}"
    );
    // ...until adopted: then it is guardform's, tagged and made as the manifest says.
    write(
        dir.path(),
        &[
            a,
            shared.replace("    criteria:", "    adopt: true\n    criteria:"),
        ],
    );
    apply(&emulator, dir.path(), &[]);
    converged(&emulator, dir.path());
    let found = live(&emulator, "eu-west-1");
    assert_eq!(found[1], (2, "shared-name".into(), "NOOP".into(), true));
    assert_eq!(found[2].1, "theirs");
}

#[test]
fn a_broad_archive_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("guardform.yaml"),
        format!("{HEAD}filters:\n  - name: hide-lows\n    action: archive\n    criteria:\n      severity: {{ lte: 3 }}\n"),
    )
    .unwrap();
    let run = common::run_guardform(dir.path(), &["validate"], &[]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("filter `hide-lows` archives every finding its band matches"),
        "{run:?}"
    );
    assert!(run.stderr.contains("allow_broad: true"), "{run:?}");
}
