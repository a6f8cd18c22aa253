//! `guardform policy`, proven: the emulator enforces IAM (moto's enforcement, with the
//! extension's fixes: correct SigV4 for body-less GETs, resource-scoped GuardDuty, EventBridge
//! and Lambda statements, s3:ListBucket for HeadBucket, the extension's operations enforced
//! too). A user and roles carrying exactly the printed policies run `plan` and `apply`: they
//! succeed. Taking away any one action that `plan` calls makes `plan` fail with an error naming
//! the action and the account.

mod common;

use common::{Emulator, PY_CLIENT};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const MANIFEST: &str = r#"version: 1
organization: { delegated_admin: "222222222222", auto_enable: NEW }
accounts: { include: { all: true } }
regions: { include: [eu-west-1, us-east-1] }
detector:
  features: { S3_DATA_EVENTS: enabled, EKS_AUDIT_LOGS: enabled }
storage: { bucket: "s3://acme-guardduty-lists/guardform" }
ip_lists:
  - { name: office, kind: trusted_entities, source: { inline: ["203.0.113.0/24", "vpn.example.com"] } }
"#;

/// Puts `policies` (guardform's JSON) on a user `deployer` in the management account and on
/// the member role of every other principal's account; prints the user's access key.
const SETUP: &str = r#"
import urllib.request
policies = json.loads(POLICIES)["policies"]
def put_policies(policies):
    for p in policies:
        doc = json.dumps(p["policy"])
        if p["principal"] == "caller":
            iam = client("iam", "123456789012")
            iam.put_user_policy(UserName="deployer", PolicyName="guardform", PolicyDocument=doc)
        else:
            account = p["account"]
            name = p["role"].rsplit("/", 1)[1]
            iam = client("iam", account)
            trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
            try:
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
            except iam.exceptions.EntityAlreadyExistsException:
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            for old in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=old["PolicyArn"])
            iam.put_role_policy(RoleName=name, PolicyName="guardform", PolicyDocument=doc)
def auth(count):
    urllib.request.urlopen(urllib.request.Request(E + "/moto-api/reset-auth", data=count.encode(), method="POST", headers={"Content-Type": "text/plain"})).read()
"#;

fn policies(dir: &Path, wanted: &str) -> String {
    let run = common::run_guardform(dir, &["policy", "--for", wanted], &[]);
    run.expect_code(0);
    run.stdout
}

/// Enforcement off, the policies put in place, enforcement on.
fn enforce(emulator: &Emulator, policies: &str, create_user: bool) -> (String, String) {
    let create = if create_user {
        "iam = client('iam', '123456789012')\niam.create_user(UserName='deployer')\nk = iam.create_access_key(UserName='deployer')['AccessKey']\nprint(k['AccessKeyId'], k['SecretAccessKey'])\n"
    } else {
        "print('- -')\n"
    };
    let out = emulator.boto3(&format!(
        "{PY_CLIENT}\nPOLICIES = {policies:?}\n{SETUP}\nauth('inf')\n{create}put_policies(policies)\nauth('0')\n"
    ));
    let mut parts = out.split_whitespace();
    (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    )
}

fn as_deployer(key: &(String, String)) -> [(&'static str, &str); 2] {
    [
        ("AWS_ACCESS_KEY_ID", key.0.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key.1.as_str()),
    ]
}

#[test]
fn the_printed_policies_are_enough_and_every_action_plan_calls_is_needed() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "4"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("guardform.yaml"), MANIFEST).unwrap();
    let apply_policies = policies(dir.path(), "apply");
    let key = enforce(&emulator, &apply_policies, true);
    let env = as_deployer(&key);
    let endpoint = [("AWS_ENDPOINT_URL", emulator.endpoint.as_str())];
    let deployer: Vec<(&str, &str)> = env.iter().chain(endpoint.iter()).copied().collect();
    let run = common::run_guardform(dir.path(), &["apply", "--auto-approve"], &deployer);
    run.expect_code(0);

    // Plan with the plan policy, recording what it calls.
    let plan_policies = policies(dir.path(), "plan");
    enforce(&emulator, &plan_policies, false);
    let calls_file = dir.path().join("calls.json");
    let calls_path = calls_file.to_str().unwrap().to_string();
    let run = common::run_guardform(
        dir.path(),
        &["plan", "--detailed-exitcode", "--stats-out", &calls_path],
        &deployer,
    );
    run.expect_code(0);
    let calls: Value =
        serde_json::from_str(&std::fs::read_to_string(&calls_file).unwrap()).unwrap();
    let mut needed: BTreeSet<(String, String)> = BTreeSet::new();
    for call in calls["calls"].as_array().unwrap() {
        let account = call["account"].as_str().unwrap();
        let principal = match account {
            "caller" | "123456789012" => "caller".to_string(),
            "222222222222" => "administrator".to_string(),
            other => format!("account {other}"),
        };
        for action in guardform::policy::iam_actions(
            call["service"].as_str().unwrap(),
            call["operation"].as_str().unwrap(),
        ) {
            needed.insert((principal.clone(), action));
        }
    }
    assert!(needed.len() > 15, "{needed:?}");

    // Each action taken away, alone: plan fails and says which.
    let document: Value = serde_json::from_str(&plan_policies).unwrap();
    let mut problems = Vec::new();
    for (principal, action) in &needed {
        let mut reduced = document.clone();
        for p in reduced["policies"].as_array_mut().unwrap() {
            if p["principal"] != principal.as_str() {
                continue;
            }
            for statement in p["policy"]["Statement"].as_array_mut().unwrap() {
                let actions = statement["Action"].as_array_mut().unwrap();
                actions.retain(|a| a != action.as_str());
            }
            let statements = p["policy"]["Statement"].as_array_mut().unwrap();
            statements.retain(|s| !s["Action"].as_array().unwrap().is_empty());
        }
        enforce(&emulator, &reduced.to_string(), false);
        let run = common::run_guardform(dir.path(), &["plan"], &deployer);
        // Response wiring is read to find what guardform left behind; without `responses` in
        // the manifest, a refusal there is a note naming the action, not an error.
        let noted = run.code == 0
            && run.stdout.contains("response wiring was not read")
            && run.stdout.contains(action.as_str());
        if !noted && (run.code != 1 || !run.stderr.contains(action.as_str())) {
            problems.push(format!(
                "{principal} without {action}: exit {}, stderr:\n{}",
                run.code,
                run.stderr.lines().take(6).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_demo_organization_applies_plans_and_syncs_with_exactly_the_printed_policies() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "12"]);
    let dir = tempfile::tempdir().unwrap();
    common::copy_example(dir.path(), "full.yaml", "guardform.yaml");
    let key = enforce(&emulator, &policies(dir.path(), "apply"), true);
    let env = as_deployer(&key);
    let endpoint = [("AWS_ENDPOINT_URL", emulator.endpoint.as_str())];
    let deployer: Vec<(&str, &str)> = env.iter().chain(endpoint.iter()).copied().collect();
    common::run_guardform(dir.path(), &["apply", "--auto-approve"], &deployer).expect_code(0);
    enforce(&emulator, &policies(dir.path(), "plan"), false);
    common::run_guardform(dir.path(), &["plan", "--detailed-exitcode"], &deployer).expect_code(0);
    common::run_guardform(dir.path(), &["report", "--out", "report.html"], &deployer)
        .expect_code(0);
    // init reads what plan reads (and the caller's Regions): the plan policy is enough.
    common::run_guardform(
        dir.path(),
        &[
            "init",
            "--out",
            "init.yaml",
            "--regions",
            "us-east-1,eu-west-1,ap-southeast-2",
        ],
        &deployer,
    )
    .expect_code(0);
    common::run_guardform(dir.path(), &["init", "--out", "-"], &deployer).expect_code(0);
    enforce(&emulator, &policies(dir.path(), "sync"), false);
    common::run_guardform(
        dir.path(),
        &["sync", "ip-lists", "--auto-approve", "--detailed-exitcode"],
        &deployer,
    )
    .expect_code(0);
    // The plan policy cannot write: an apply with it is refused, naming a write action.
    enforce(&emulator, &policies(dir.path(), "plan"), false);
    std::fs::write(
        dir.path().join("guardform.yaml"),
        std::fs::read_to_string(dir.path().join("guardform.yaml"))
            .unwrap()
            .replace(
                "LAMBDA_NETWORK_LOGS: enabled",
                "LAMBDA_NETWORK_LOGS: disabled",
            ),
    )
    .unwrap();
    let run = common::run_guardform(dir.path(), &["apply", "--auto-approve"], &deployer);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("is not authorized to perform: guardduty:Update")
            || run
                .stderr
                .contains("is not authorized to perform: guardduty:Update"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}
