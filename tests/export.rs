//! The findings export end to end against the emulator: bucket in the log archive account, key
//! in the administrator account, a publishing destination per Region that GuardDuty reports as
//! publishing; adopted onto a bucket with other statements (kept); permissions broken out of
//! band shown in the plan; removed with `--allow-destroy`, the bucket and key kept.

mod common;

use common::{Emulator, PY_CLIENT, Run};
use serde_json::Value;
use std::path::Path;

/// Helpers beside `common::PY_CLIENT` (the bucket and key are in us-east-1, the home Region).
const PY_HELPERS: &str = r#"
def destinations():
    out = {}
    for region in ["eu-west-1", "us-east-1"]:
        g = client("guardduty", region=region)
        d = g.list_detectors()["DetectorIds"][0]
        for item in g.list_publishing_destinations(DetectorId=d)["Destinations"]:
            found = g.describe_publishing_destination(DetectorId=d, DestinationId=item["DestinationId"])
            out[region] = {"status": found["Status"], "arn": found["DestinationProperties"]["DestinationArn"], "key": found["DestinationProperties"]["KmsKeyArn"], "tags": found.get("Tags", {})}
    return out
def bucket_policy():
    return json.loads(client("s3", "333333333333", "us-east-1").get_bucket_policy(Bucket="acme-guardduty-findings")["Policy"])
"#;

const MANIFEST: &str = r#"version: 1
organization: { delegated_admin: "222222222222" }
accounts: { include: { all: true } }
regions: { include: [eu-west-1, us-east-1] }
export:
  bucket: { account: "333333333333", name: acme-guardduty-findings, prefix: guardduty }
  kms_key: { account: "222222222222", alias: guardform-findings }
"#;

fn python(emulator: &Emulator, code: &str) -> Value {
    let out = emulator.boto3(&format!("{PY_CLIENT}{PY_HELPERS}\n{code}"));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("guardform.yaml"), text).unwrap();
}

fn apply(emulator: &Emulator, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "--auto-approve"];
    args.extend_from_slice(extra);
    let run = emulator.guardform(dir, &args);
    run.expect_code(0);
    run
}

fn sids(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn export_from_nothing_to_a_log_archive_bucket_publishes_and_converges() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "2"]);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), MANIFEST);

    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    for address in [
        "+ kms.key[222222222222/us-east-1/alias/guardform-findings]",
        "+ s3.export_bucket[acme-guardduty-findings]",
        "+ guardduty.publishing_destination[222222222222/eu-west-1]",
        "+ guardduty.publishing_destination[222222222222/us-east-1]",
    ] {
        assert!(plan.stdout.contains(address), "{address}\n{}", plan.stdout);
    }
    assert!(
        plan.stdout.contains("(known after apply)"),
        "{}",
        plan.stdout
    );

    apply(&emulator, dir.path(), &[]);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);

    let found = python(&emulator, "print(json.dumps(destinations()))");
    for region in ["eu-west-1", "us-east-1"] {
        let destination = &found[region];
        assert_eq!(destination["status"], "PUBLISHING", "{found}");
        assert_eq!(
            destination["arn"],
            "arn:aws:s3:::acme-guardduty-findings/guardduty"
        );
        assert!(
            destination["key"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:kms:us-east-1:222222222222:key/")
        );
        assert_eq!(destination["tags"]["guardform:managed"], "true");
    }
    let bucket = python(
        &emulator,
        "s3 = client('s3', '333333333333', 'us-east-1')\nb = 'acme-guardduty-findings'\n\
pab = s3.get_public_access_block(Bucket=b)['PublicAccessBlockConfiguration']\n\
enc = s3.get_bucket_encryption(Bucket=b)['ServerSideEncryptionConfiguration']['Rules'][0]['ApplyServerSideEncryptionByDefault']\n\
tags = s3.get_bucket_tagging(Bucket=b)['TagSet']\n\
print(json.dumps({'pab': all(pab.values()), 'sse': enc['SSEAlgorithm'], 'tags': tags}))",
    );
    assert_eq!(bucket["pab"], true);
    assert_eq!(bucket["sse"], "aws:kms");
    assert_eq!(bucket["tags"][0]["Key"], "guardform:managed");
    let policy = python(&emulator, "print(json.dumps(bucket_policy()))");
    assert!(sids(&policy).contains(&"GuardformDenyInsecureTransport".to_string()));
}

#[test]
fn an_existing_bucket_keeps_its_statements_and_broken_permissions_show() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "2"]);
    let dir = tempfile::tempdir().unwrap();
    // The log archive team's bucket, with a statement of theirs.
    emulator.boto3(&format!(
        "{PY_CLIENT}{PY_HELPERS}\ns3 = client('s3', '333333333333', 'us-east-1')\ns3.create_bucket(Bucket='acme-guardduty-findings')\n\
s3.put_bucket_policy(Bucket='acme-guardduty-findings', Policy=json.dumps({{'Version': '2012-10-17', 'Statement': [\
{{'Sid': 'TheirAuditRead', 'Effect': 'Allow', 'Principal': {{'AWS': 'arn:aws:iam::333333333333:root'}}, 'Action': 's3:GetObject', 'Resource': 'arn:aws:s3:::acme-guardduty-findings/*'}}]}}))\n"
    ));
    write(dir.path(), MANIFEST);
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("~ s3.export_bucket[acme-guardduty-findings]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("guardform adds its statements to this bucket's policy (others are kept)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("does not block all public access"),
        "{}",
        plan.stdout
    );
    apply(&emulator, dir.path(), &[]);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let policy = python(&emulator, "print(json.dumps(bucket_policy()))");
    let statements = sids(&policy);
    assert_eq!(statements[0], "TheirAuditRead", "{policy}");
    assert!(statements.contains(&"GuardformGuardDutyPutObject".to_string()));
    let found = python(&emulator, "print(json.dumps(destinations()))");
    assert_eq!(found["eu-west-1"]["status"], "PUBLISHING", "{found}");

    // Someone removes guardform's statements: the plan shows the policy diff, and that
    // GuardDuty cannot publish.
    emulator.boto3(&format!(
        "{PY_CLIENT}{PY_HELPERS}\ns3 = client('s3', '333333333333', 'us-east-1')\np = bucket_policy()\n\
p['Statement'] = [s for s in p['Statement'] if not s.get('Sid', '').startswith('Guardform')]\n\
s3.put_bucket_policy(Bucket='acme-guardduty-findings', Policy=json.dumps(p))\n"
    ));
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(plan.stdout.contains("~ policy ="), "{}", plan.stdout);
    assert!(
        plan.stdout.lines().any(|l| l.trim_start().starts_with('+')
            && l.contains("\"Sid\": \"GuardformGuardDutyPutObject\"")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("eu-west-1: GuardDuty cannot publish findings to arn:aws:s3:::acme-guardduty-findings/guardduty"),
        "{}",
        plan.stdout
    );
    apply(&emulator, dir.path(), &[]);
    let found = python(&emulator, "print(json.dumps(destinations()))");
    assert_eq!(found["us-east-1"]["status"], "PUBLISHING", "{found}");

    // Without `export:`, the destinations go (with the flag); the bucket and key stay.
    write(dir.path(), MANIFEST.split("export:").next().unwrap());
    let plan = emulator.guardform(dir.path(), &["plan"]);
    assert!(
        plan.stdout
            .contains("- guardduty.publishing_destination[222222222222/eu-west-1]"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("s3.export_bucket"), "{}", plan.stdout);
    apply(&emulator, dir.path(), &["--allow-destroy"]);
    let found = python(&emulator, "print(json.dumps(destinations()))");
    assert_eq!(found, serde_json::json!({}));
    let policy = python(&emulator, "print(json.dumps(bucket_policy()))");
    assert_eq!(sids(&policy)[0], "TheirAuditRead");
}

#[test]
fn export_mistakes_are_reported_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{}export:\n  bucket: {{ account: \"3333\", name: Bad_Bucket, prefix: /guardduty/ }}\n  kms_key: {{ account: \"222222222222\", alias: guardform-findings, arn: \"arn:aws:kms:us-east-1:222222222222:key/x\" }}\n",
            MANIFEST.split("export:").next().unwrap()
        ),
    );
    let run = common::run_guardform(dir.path(), &["validate"], &[]);
    run.expect_code(1);
    for expected in [
        "invalid account id `3333`",
        "invalid bucket name `Bad_Bucket`",
        "invalid prefix `/guardduty/`",
        "`export.kms_key` gives both an ARN and an alias or account",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
}

#[test]
fn athena_reads_the_export_layout_from_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), MANIFEST);
    let run = common::run_guardform(
        dir.path(),
        &["athena-ddl", "--accounts", "222222222222,333333333333"],
        &[],
    );
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("LOCATION 's3://acme-guardduty-findings/guardduty/AWSLogs/'"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("'projection.partition_region.values' = 'eu-west-1,us-east-1'"),
        "{}",
        run.stdout
    );
    let refused = common::run_guardform(
        dir.path(),
        &[
            "athena-ddl",
            "--source",
            "archive",
            "--accounts",
            "222222222222",
        ],
        &[],
    );
    refused.expect_code(1);
    assert!(refused.stderr.contains("no bucket"), "{refused:?}");
}
