//! Response wiring end to end against the emulator: EventBridge rules on findings, targets with
//! retry policy and dead-letter queue, Lambdas built from bundles, their permissions and roles.

mod common;

use common::{Emulator, Run};
use std::path::Path;

const PY: &str = r#"
import boto3, os, json
E = os.environ["ENDPOINT"]
sts = boto3.client("sts", endpoint_url=E, region_name="us-east-1")
c = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/OrganizationAccountAccessRole", RoleSessionName="test")["Credentials"]
KW = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
def client(service, region="eu-west-1"):
    return boto3.client(service, endpoint_url=E, region_name=region, **KW)
"#;

const SECRET_VALUE: &str = "https://hooks.slack.com/services/T000/B000/sentinel-webhook-5d2c";

fn manifest(extra: &str) -> String {
    format!(
        r#"version: 1
organization: {{ delegated_admin: "222222222222" }}
accounts: {{ include: {{ all: true }} }}
regions: {{ include: [eu-west-1, us-east-1] }}
responses:
  - name: ssh-to-ds
    when:
      severity: {{ min: 4 }}
      types: ["UnauthorizedAccess:EC2/SSHBruteForce", "Recon:EC2/*"]
      resource_types: [Instance]
    run:
      bundle: deep-security-responder
      env: {{ DS_URL: "https://dsm.example.com:4119", ENABLE_IPS: "true" }}
      secrets:
        DS_API_KEY: "arn:aws:secretsmanager:eu-west-1:222222222222:secret:ds-api-key-AbCdEf"
        SLACK_WEBHOOK_URL: "arn:aws:secretsmanager:eu-west-1:222222222222:secret:slack-webhook-AbCdEf"
  - name: high-to-slack
    when: {{ labels: [HIGH, CRITICAL] }}
    run: {{ bundle: slack-notify, secrets: {{ SLACK_WEBHOOK_URL: "arn:aws:secretsmanager:eu-west-1:222222222222:secret:slack-webhook-AbCdEf" }} }}
  - name: forward-to-soc
    when: {{ severity: {{ min: 7 }} }}
    send_to: {{ sns: "arn:aws:sns:${{region}}:222222222222:soc" }}
{extra}"#
    )
}

fn setup() -> (Emulator, tempfile::TempDir) {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    emulator.boto3(&format!(
        "{PY}\nsm = client('secretsmanager')\nsm.create_secret(Name='slack-webhook', SecretString={SECRET_VALUE:?})\nsm.create_secret(Name='ds-api-key', SecretString='sentinel-ds-key-91e0')"
    ));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &manifest(""));
    (emulator, dir)
}

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("guardform.yaml"), text).unwrap();
}

fn changes(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| {
            ["  + ", "  ~ ", "  - ", "-/+ "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn apply_wires_rules_targets_functions_permissions_and_roles_and_converges() {
    let (emulator, dir) = setup();
    let plan = emulator.guardform(dir.path(), &["plan", "--out", "r.plan"]);
    plan.expect_code(0);
    for address in [
        "+ iam.role[222222222222/guardform-ssh-to-ds]",
        "+ lambda.function[222222222222/eu-west-1/guardform-ssh-to-ds]",
        "+ lambda.permission[222222222222/us-east-1/guardform-high-to-slack]",
        "+ events.rule[222222222222/eu-west-1/guardform-forward-to-soc]",
        "+ events.target[222222222222/us-east-1/guardform-ssh-to-ds]",
        "+ sqs.queue[222222222222/eu-west-1/guardform-ssh-to-ds-dlq]",
    ] {
        assert!(
            plan.stdout.contains(address),
            "{address} missing:\n{}",
            plan.stdout
        );
    }
    assert!(
        !plan
            .stdout
            .contains("iam.role[222222222222/guardform-forward-to-soc]"),
        "no role for an SNS response"
    );
    emulator
        .guardform(dir.path(), &["apply", "r.plan"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);

    let out = emulator.boto3(&format!(
        "{PY}\nfor region in ['eu-west-1', 'us-east-1']:\n    ev = client('events', region)\n    rule = ev.describe_rule(Name='guardform-ssh-to-ds')\n    print(json.dumps(json.loads(rule['EventPattern']), sort_keys=True))\n    t = ev.list_targets_by_rule(Rule='guardform-ssh-to-ds')['Targets'][0]\n    print(t['Id'], t['Arn'], t['RetryPolicy'], t['DeadLetterConfig']['Arn'])\n    fn = client('lambda', region).get_function(FunctionName='guardform-ssh-to-ds')['Configuration']\n    print(fn['Runtime'], fn['Handler'], fn['Role'], sorted(fn['Environment']['Variables'].items()))\n    pol = json.loads(client('lambda', region).get_policy(FunctionName='guardform-ssh-to-ds')['Policy'])['Statement'][0]\n    print(pol['Principal'], pol['Condition']['ArnLike']['AWS:SourceArn'])\niam = client('iam', 'us-east-1')\nr = iam.get_role(RoleName='guardform-ssh-to-ds')['Role']\nprint(r['Path'], r['AssumeRolePolicyDocument']['Statement'][0]['Principal'])\ndoc = iam.get_role_policy(RoleName='guardform-ssh-to-ds', PolicyName='guardform')['PolicyDocument']\nprint([s['Resource'] for s in doc['Statement'] if s['Sid'] == 'Secrets'])"
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"detail": {"resource": {"resourceType": ["Instance"]}, "severity": [{"numeric": [">=", 4.0]}], "type": ["UnauthorizedAccess:EC2/SSHBruteForce", {"prefix": "Recon:EC2/"}]}, "detail-type": ["GuardDuty Finding"], "source": ["aws.guardduty"]}"#
    );
    assert_eq!(
        lines[1],
        "guardform arn:aws:lambda:eu-west-1:222222222222:function:guardform-ssh-to-ds {'MaximumRetryAttempts': 8, 'MaximumEventAgeInSeconds': 3600} arn:aws:sqs:eu-west-1:222222222222:guardform-ssh-to-ds-dlq"
    );
    assert_eq!(
        lines[2],
        "python3.12 handler.lambda_handler arn:aws:iam::222222222222:role/guardform/guardform-ssh-to-ds [('DS_API_KEY_SECRET_ARN', 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:ds-api-key-AbCdEf'), ('DS_URL', 'https://dsm.example.com:4119'), ('ENABLE_IPS', 'true'), ('SLACK_WEBHOOK_URL_SECRET_ARN', 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:slack-webhook-AbCdEf')]"
    );
    assert_eq!(
        lines[3],
        "{'Service': 'events.amazonaws.com'} arn:aws:events:eu-west-1:222222222222:rule/guardform-ssh-to-ds"
    );
    // us-east-1 gets the same wiring, with its own ARNs.
    assert_eq!(lines[4], lines[0], "{out}");
    assert_eq!(
        lines[5],
        lines[1].replace("eu-west-1", "us-east-1"),
        "{out}"
    );
    assert_eq!(
        lines[7],
        "{'Service': 'events.amazonaws.com'} arn:aws:events:us-east-1:222222222222:rule/guardform-ssh-to-ds"
    );
    assert!(
        out.contains("/guardform/ {'Service': 'lambda.amazonaws.com'}"),
        "{out}"
    );
    assert!(out.contains("[['arn:aws:secretsmanager:eu-west-1:222222222222:secret:ds-api-key-AbCdEf', 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:slack-webhook-AbCdEf']]"), "{out}");

    // Secret values never reach plans, saved plans or the functions' environment.
    let saved = std::fs::read_to_string(dir.path().join("r.plan")).unwrap();
    assert!(
        !saved.contains("sentinel")
            && !plan.stdout.contains("sentinel")
            && !plan.stderr.contains("sentinel")
    );
    assert!(
        !out.contains("sentinel"),
        "a secret value reached AWS configuration: {out}"
    );
}

#[test]
fn editing_a_bundle_updates_only_that_function() {
    let (emulator, dir) = setup();
    let bundle = dir.path().join("bundles/echo");
    std::fs::create_dir_all(bundle.join("src")).unwrap();
    std::fs::write(bundle.join("bundle.yaml"), "name: echo\nruntime: python3.12\nhandler: handler.lambda_handler\ntimeout: 10\nmemory: 128\npermissions: []\n").unwrap();
    std::fs::write(
        bundle.join("src/handler.py"),
        "def lambda_handler(event, context):\n    return event\n",
    )
    .unwrap();
    write(
        dir.path(),
        &manifest("  - name: echo\n    when: {}\n    run: { bundle: echo }\n"),
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);

    std::fs::write(
        bundle.join("src/handler.py"),
        "def lambda_handler(event, context):\n    return {'seen': event}\n",
    )
    .unwrap();
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert_eq!(
        changes(&plan),
        vec![
            "  ~ lambda.function[222222222222/eu-west-1/guardform-echo]",
            "  ~ lambda.function[222222222222/us-east-1/guardform-echo]",
        ],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("(the bundle's code changed)"),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let sha = emulator.boto3(&format!("{PY}\nprint(client('lambda').get_function(FunctionName='guardform-echo')['Configuration']['CodeSha256'])"));
    let zip = guardform::kinds::responses::bundles::find("echo", dir.path()).unwrap();
    assert_eq!(
        sha.trim(),
        zip.code_sha256(),
        "the deployed code is the new bundle"
    );
}

#[test]
fn changing_when_changes_only_the_rule_and_drift_is_seen() {
    let (emulator, dir) = setup();
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    write(
        dir.path(),
        &manifest("").replace(
            "when: { severity: { min: 7 } }",
            "when: { severity: { min: 8.5 } }",
        ),
    );
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert_eq!(
        changes(&plan),
        vec![
            "  ~ events.rule[222222222222/eu-west-1/guardform-forward-to-soc]",
            "  ~ events.rule[222222222222/us-east-1/guardform-forward-to-soc]",
        ],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("        -           7.0\n        +           8.5\n"),
        "the pattern is shown as a document diff:\n{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);

    // Someone removes a target and edits a pattern out of band.
    emulator.boto3(&format!(
        "{PY}\nev = client('events')\nev.remove_targets(Rule='guardform-high-to-slack', Ids=['guardform'])\nev.put_rule(Name='guardform-ssh-to-ds', EventPattern=json.dumps({{'source': ['aws.guardduty']}}))"
    ));
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert_eq!(
        changes(&plan),
        vec![
            "  ~ events.rule[222222222222/eu-west-1/guardform-ssh-to-ds]",
            "  + events.target[222222222222/eu-west-1/guardform-high-to-slack]",
        ],
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn removing_a_response_deletes_exactly_its_own_resources() {
    let (emulator, dir) = setup();
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    // A rule with guardform's prefix that guardform did not make.
    emulator.boto3(&format!("{PY}\nclient('events').put_rule(Name='guardform-someone-elses', EventPattern=json.dumps({{'source': ['aws.guardduty']}}))"));
    let without = manifest("").replace(
        "  - name: high-to-slack\n    when: { labels: [HIGH, CRITICAL] }\n    run: { bundle: slack-notify, secrets: { SLACK_WEBHOOK_URL: \"arn:aws:secretsmanager:eu-west-1:222222222222:secret:slack-webhook-AbCdEf\" } }\n",
        "",
    );
    write(dir.path(), &without);
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    let mut removed = changes(&plan);
    removed.sort_unstable();
    assert_eq!(
        removed,
        vec![
            "  - events.rule[222222222222/eu-west-1/guardform-high-to-slack]",
            "  - events.rule[222222222222/us-east-1/guardform-high-to-slack]",
            "  - events.target[222222222222/eu-west-1/guardform-high-to-slack]",
            "  - events.target[222222222222/us-east-1/guardform-high-to-slack]",
            "  - iam.role[222222222222/guardform-high-to-slack]",
            "  - lambda.function[222222222222/eu-west-1/guardform-high-to-slack]",
            "  - lambda.function[222222222222/us-east-1/guardform-high-to-slack]",
            "  - sqs.queue[222222222222/eu-west-1/guardform-high-to-slack-dlq]",
            "  - sqs.queue[222222222222/us-east-1/guardform-high-to-slack-dlq]",
        ],
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(1);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve", "--allow-destroy"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let left = emulator.boto3(&format!(
        "{PY}\nprint(sorted(r['Name'] for r in client('events').list_rules(NamePrefix='guardform-')['Rules']))\nprint(sorted(f['FunctionName'] for f in client('lambda').list_functions()['Functions']))\nprint(sorted(r['RoleName'] for r in client('iam', 'us-east-1').list_roles(PathPrefix='/guardform/')['Roles']))"
    ));
    assert_eq!(
        left.lines().collect::<Vec<_>>(),
        vec![
            "['guardform-forward-to-soc', 'guardform-someone-elses', 'guardform-ssh-to-ds']",
            "['guardform-ssh-to-ds']",
            "['guardform-ssh-to-ds']",
        ]
    );
}

#[test]
fn athena_ddl_uses_the_archive_response() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "version: 1\norganization: { delegated_admin: \"222222222222\" }\naccounts: { include: { all: true } }\nregions: { include: [eu-west-1] }\nresponses:\n  - name: archive-all\n    when: {}\n    run: { bundle: archive-findings, env: { BUCKET: acme-findings-archive, PREFIX: guardduty } }\n",
    );
    let run = common::run_guardform(dir.path(), &["athena-ddl"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("--accounts is needed"),
        "{}",
        run.stderr
    );
    let run = common::run_guardform(
        dir.path(),
        &["athena-ddl", "--accounts", "111111111111,222222222222"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("CREATE EXTERNAL TABLE"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("s3://acme-findings-archive/guardduty/AWSLogs/"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("org.openx.data.jsonserde.JsonSerDe"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("createdat"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("'projection.partition_account.values' = '111111111111,222222222222'"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("'projection.partition_region.values' = 'eu-west-1'"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("{bucket}") && !run.stdout.contains("{accounts}"),
        "{}",
        run.stdout
    );
}

#[test]
fn targets_and_dead_letter_queues_are_placed_where_eventbridge_can_reach_them() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let base = r#"version: 1
organization: { delegated_admin: "222222222222" }
accounts: { include: { all: true } }
regions: { include: [eu-west-1, us-east-1] }
responses:
"#;
    // A topic in one Region cannot serve the rule of another, nor can a dead-letter queue:
    // refused before anything changes, every problem at once, with the way out.
    write(
        dir.path(),
        &format!(
            "{base}  - name: soc\n    when: {{}}\n    send_to: {{ sns: \"arn:aws:sns:eu-west-1:222222222222:soc\" }}\n    dlq: \"arn:aws:sqs:eu-west-1:222222222222:dead\"\n"
        ),
    );
    let refused = emulator.guardform(dir.path(), &["plan"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("response `soc`: arn:aws:sns:eu-west-1:222222222222:soc is in eu-west-1, but an EventBridge rule in us-east-1 can send only to targets in its own Region"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("the dead-letter queue arn:aws:sqs:eu-west-1:222222222222:dead is in eu-west-1, but EventBridge needs it in the rule's Region, us-east-1")
            && refused.stderr.contains("hint: write the ARN with `${region}`"),
        "{}",
        refused.stderr
    );

    // `${region}` gives each rule its own Region's topic and queue; an event bus in another
    // account gets a role that EventBridge delivers with, allowed to put events there only.
    write(
        dir.path(),
        &format!(
            "{base}  - name: soc\n    when: {{}}\n    send_to: {{ sns: \"arn:aws:sns:${{region}}:222222222222:soc\" }}\n    dlq: \"arn:aws:sqs:${{region}}:222222222222:dead\"\n  - name: central\n    when: {{}}\n    send_to: {{ event_bus: \"arn:aws:events:eu-west-1:333333333333:event-bus/security\" }}\n"
        ),
    );
    let applied = emulator.guardform(dir.path(), &["apply", "--auto-approve"]);
    applied.expect_code(0);
    assert!(
        applied
            .stdout
            .contains("+ iam.role[222222222222/guardform-central]")
            && !applied
                .stdout
                .contains("iam.role[222222222222/guardform-soc]"),
        "{}",
        applied.stdout
    );
    let targets = emulator.boto3(&format!(
        "{PY}\nfor region in ['eu-west-1', 'us-east-1']:\n    events = client('events', region)\n    for rule in ['guardform-soc', 'guardform-central']:\n        t = events.list_targets_by_rule(Rule=rule)['Targets'][0]\n        print(region, rule, t['Arn'], t.get('RoleArn', '-'), t['DeadLetterConfig']['Arn'])\nimport json\nrole = client('iam').get_role_policy(RoleName='guardform-central', PolicyName='guardform')['PolicyDocument']\nprint(json.dumps(role['Statement'], sort_keys=True))"
    ));
    let expected = [
        "eu-west-1 guardform-soc arn:aws:sns:eu-west-1:222222222222:soc - arn:aws:sqs:eu-west-1:222222222222:dead",
        "eu-west-1 guardform-central arn:aws:events:eu-west-1:333333333333:event-bus/security arn:aws:iam::222222222222:role/guardform/guardform-central arn:aws:sqs:eu-west-1:222222222222:guardform-central-dlq",
        "us-east-1 guardform-soc arn:aws:sns:us-east-1:222222222222:soc - arn:aws:sqs:us-east-1:222222222222:dead",
        "us-east-1 guardform-central arn:aws:events:eu-west-1:333333333333:event-bus/security arn:aws:iam::222222222222:role/guardform/guardform-central arn:aws:sqs:us-east-1:222222222222:guardform-central-dlq",
        r#"[{"Action": ["events:PutEvents"], "Effect": "Allow", "Resource": ["arn:aws:events:eu-west-1:333333333333:event-bus/security"], "Sid": "Deliver"}]"#,
    ];
    assert_eq!(targets.lines().collect::<Vec<_>>(), expected);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn a_local_bundle_standing_in_for_a_builtin_one_is_named_in_the_plan() {
    let (emulator, dir) = setup();
    let bundle = dir.path().join("bundles/slack-notify");
    std::fs::create_dir_all(bundle.join("src")).unwrap();
    std::fs::write(
        bundle.join("bundle.yaml"),
        "name: slack-notify\nruntime: python3.12\nhandler: handler.lambda_handler\ntimeout: 10\nmemory: 128\npermissions:\n  - { actions: [\"s3:GetObject\", \"iam:PassRole\"], resources: [\"*\"] }\nsecrets:\n  SLACK_WEBHOOK_URL: { required: true, description: webhook }\n",
    )
    .unwrap();
    std::fs::write(
        bundle.join("src/handler.py"),
        "def lambda_handler(event, context):\n    return event\n",
    )
    .unwrap();
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains(
            "response `high-to-slack` runs the local bundle bundles/slack-notify instead of guardform's built-in `slack-notify`; it asks for: iam:PassRole, s3:GetObject"
        ),
        "{}",
        plan.stdout
    );
    // Every responder role denies itself (and guardform's other roles) any IAM change.
    assert!(
        plan.stdout.contains("\"Sid\": \"NeverGuardformsRoles\""),
        "{}",
        plan.stdout
    );
}
