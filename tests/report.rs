//! `guardform report` end to end: an applied organization with drift, findings and runtime
//! coverage seeded into the emulator, the JSON document checked against what was seeded, and
//! the HTML page looked at in a real browser (headless Chromium): it renders (a screenshot that
//! is not blank), makes no network request, and shows the JSON document's numbers.

mod common;

use common::{Emulator, PY_CLIENT, python, root};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const MANIFEST: &str = r#"version: 1
organization: { delegated_admin: "222222222222", auto_enable: NONE }
accounts:
  include: { all: true }
  exclude: { ids: ["400000000004"] }
regions: { include: [eu-west-1, us-east-1] }
detector:
  features: { S3_DATA_EVENTS: enabled, EKS_AUDIT_LOGS: enabled }
storage: { bucket: "s3://acme-guardduty-lists/guardform" }
ip_lists:
  - { name: office, kind: trusted_entities, source: { inline: ["203.0.113.0/24", "vpn.example.com"] } }
responses:
  - name: high-to-slack
    when: { severity: { min: 7 } }
    run: { bundle: slack-notify, secrets: { SLACK_WEBHOOK_URL: "arn:aws:secretsmanager:us-east-1:222222222222:secret:guardform/slack-webhook-AbCdEf" } }
"#;

/// Findings seeded: (account, Region, template, severity, days ago, archived).
const FINDINGS: &[(&str, &str, &str, f64, u32, bool)] = &[
    (
        "400000000001",
        "eu-west-1",
        "01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json",
        2.0,
        1,
        false,
    ),
    (
        "400000000001",
        "eu-west-1",
        "01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json",
        2.0,
        2,
        false,
    ),
    (
        "400000000001",
        "us-east-1",
        "02_Recon_EC2_PortProbeUnprotectedPort.eventbridge.json",
        5.0,
        3,
        false,
    ),
    (
        "400000000002",
        "eu-west-1",
        "03_CryptoCurrency_EC2_BitcoinTool.B_DNS.eventbridge.json",
        8.0,
        3,
        false,
    ),
    (
        "400000000002",
        "eu-west-1",
        "03_CryptoCurrency_EC2_BitcoinTool.B_DNS.eventbridge.json",
        8.0,
        10,
        false,
    ),
    (
        "400000000003",
        "us-east-1",
        "04_Impact_S3_MaliciousIPCaller.sample.finding.json",
        9.5,
        0,
        false,
    ),
    (
        "222222222222",
        "eu-west-1",
        "05_UnauthorizedAccess_IAMUser_MaliciousIPCaller.sample.finding.json",
        5.0,
        5,
        false,
    ),
    (
        "400000000003",
        "eu-west-1",
        "02_Recon_EC2_PortProbeUnprotectedPort.eventbridge.json",
        5.0,
        4,
        true,
    ),
    (
        "400000000003",
        "eu-west-1",
        "02_Recon_EC2_PortProbeUnprotectedPort.eventbridge.json",
        5.0,
        6,
        true,
    ),
    // Outside the 30-day window: not counted.
    (
        "400000000001",
        "eu-west-1",
        "01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json",
        2.0,
        45,
        false,
    ),
];

fn seed_findings(emulator: &Emulator) {
    let items: Vec<String> = FINDINGS
        .iter()
        .map(|(account, region, template, severity, ago, archived)| {
            format!(
                "dict(account='{account}', region='{region}', template='{template}', severity={severity}, updatedAt=(now - timedelta(days={ago}, hours=1)).strftime('%Y-%m-%dT%H:%M:%S.000Z'), archived={})",
                if *archived { "True" } else { "False" }
            )
        })
        .collect();
    let coverage = "[dict(account='400000000001', region='eu-west-1', resourceType='EKS', resourceId='prod-a', status='HEALTHY', clusterName='prod-a'), \
dict(account='400000000001', region='us-east-1', resourceType='EKS', resourceId='prod-b', status='HEALTHY', clusterName='prod-b'), \
dict(account='400000000002', region='eu-west-1', resourceType='EKS', resourceId='dev-a', status='UNHEALTHY', issue='No Agent Reporting', clusterName='dev-a'), \
dict(account='400000000002', region='us-east-1', resourceType='EKS', resourceId='dev-b', status='UNHEALTHY', issue='No Agent Reporting', clusterName='dev-b'), \
dict(account='400000000003', region='eu-west-1', resourceType='ECS', resourceId='svc', status='UNHEALTHY', issue='Addon not installed', clusterName='svc'), \
dict(account='400000000003', region='us-east-1', resourceType='EC2', resourceId='i-0abc', status='HEALTHY')]";
    emulator.boto3(&format!(
        "{PY_CLIENT}\nimport urllib.request\nfrom datetime import datetime, timedelta, timezone\nnow = datetime.now(timezone.utc)\n\
def post(path, body):\n    req = urllib.request.Request(E + path, data=json.dumps(body).encode(), method='POST', headers={{'Content-Type': 'application/json'}})\n    return urllib.request.urlopen(req).read()\n\
post('/moto-api/guardform/findings', dict(findings=[{}]))\n\
post('/moto-api/guardform/coverage', dict(resources={coverage}))\n",
        items.join(", ")
    ));
}

/// The value at a dotted path of the document (`findings.by_type.0.count`).
fn at<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(document, |node, key| match node {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => node.get(key),
    })
}

fn shown(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_f64() => format!("{:.1}", n.as_f64().unwrap_or_default()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Opens the page in headless Chromium; the browser's findings as JSON.
fn look_at(page: &Path, screenshot: &Path) -> Value {
    let output = Command::new(python())
        .arg(root().join("tests/browser/check_page.py"))
        .arg(page)
        .arg(screenshot)
        .output()
        .expect("run tests/browser/check_page.py");
    assert!(
        output.status.success(),
        "the browser check failed (headless Chromium is installed by scripts/setup-browser):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("check_page.py prints JSON")
}

#[test]
fn report_shows_coverage_findings_and_wiring_and_the_page_matches_the_json() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "6"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("guardform.yaml"), MANIFEST).unwrap();
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    // Drift: one member loses a feature in eu-west-1; two dead letters wait in the DLQ.
    emulator.boto3(&format!(
        "{PY_CLIENT}\ng = client('guardduty', region='eu-west-1')\nd = g.list_detectors()['DetectorIds'][0]\n\
g.update_member_detectors(DetectorId=d, AccountIds=['400000000002'], Features=[{{'Name': 'S3_DATA_EVENTS', 'Status': 'DISABLED'}}])\n\
q = client('sqs', region='eu-west-1')\nurl = q.get_queue_url(QueueName='guardform-high-to-slack-dlq')['QueueUrl']\n\
q.send_message(QueueUrl=url, MessageBody='{{}}')\nq.send_message(QueueUrl=url, MessageBody='{{}}')\n"
    ));
    seed_findings(&emulator);

    let page = dir.path().join("report.html");
    let run = emulator.guardform(
        dir.path(),
        &[
            "report",
            "--out",
            page.to_str().unwrap(),
            "--json",
            "--days",
            "30",
        ],
    );
    run.expect_code(0);
    let report: Value = serde_json::from_str(&run.stdout).expect("report --json prints JSON");
    assert_eq!(report["format_version"], "1.0");
    assert!(run.stderr.contains("Wrote the report to"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Findings   7 active in 30 days"),
        "{}",
        run.stderr
    );

    // Coverage in 2 Regions: the administrator and 5 members (the management account among
    // them) targeted, one with drift; 400000000004 not.
    let cells = &report["summary"]["cells"];
    assert_eq!(cells["drift"], 1, "{cells}");
    assert_eq!(cells["not_targeted"], 2, "{cells}");
    assert_eq!(cells["enabled"], 11, "{cells}");
    let member2 = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "400000000002")
        .unwrap();
    assert_eq!(
        member2["cells"]["eu-west-1"]["differing"],
        serde_json::json!(["S3_DATA_EVENTS"])
    );
    assert_eq!(member2["ou"], "Workloads/Dev");
    let s3 = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "S3_DATA_EVENTS")
        .unwrap();
    assert_eq!(
        (s3["enabled"].as_u64(), s3["of"].as_u64()),
        (Some(11), Some(12))
    );

    // Findings over 30 days: 7 active, 2 archived, bands, types, accounts and days.
    let findings = &report["findings"];
    assert_eq!(findings["total"], 7);
    assert_eq!(findings["archived"], 2);
    assert_eq!(
        findings["by_severity"],
        serde_json::json!({"low": 2, "medium": 2, "high": 2, "critical": 1})
    );
    assert_eq!(
        findings["by_account"][0],
        serde_json::json!({"name": "400000000001", "count": 3})
    );
    let per_day: u64 = findings["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_day, 7);
    assert_eq!(findings["by_day"].as_array().unwrap().len(), 30);

    // Runtime coverage and wiring.
    let runtime = &report["runtime"];
    assert_eq!(
        runtime["by_resource_type"]["EKS"],
        serde_json::json!({"healthy": 2, "unhealthy": 2})
    );
    assert_eq!(
        runtime["top_issues"][0],
        serde_json::json!({"name": "No Agent Reporting", "count": 2})
    );
    assert_eq!(report["drift"]["pending"], 1, "{}", report["drift"]);
    assert_eq!(
        report["drift"]["by_type"],
        serde_json::json!([{"name": "guardduty.member", "count": 1}])
    );
    let dlq: Vec<(&str, u64)> = report["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap(),
                r["dead_letters"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(dlq, vec![("eu-west-1", 2), ("us-east-1", 0)]);
    assert!(
        report["lists"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["status"] == "ACTIVE" && l["kind"] == "trusted_entities")
    );

    // The page, as a person sees it.
    let screenshot = dir.path().join("report.png");
    let seen = look_at(&page, &screenshot);
    assert_eq!(
        seen["requests"],
        serde_json::json!([]),
        "the page made requests"
    );
    assert_eq!(seen["errors"], serde_json::json!([]), "the page had errors");
    let shot = &seen["screenshot"];
    assert_eq!(
        (shot["width"].as_u64(), shot["height"].as_u64()),
        (Some(1280), Some(900))
    );
    assert!(
        shot["colours"].as_u64().unwrap() > 20,
        "a blank screenshot: {shot}"
    );
    let metrics = seen["metrics"].as_array().unwrap();
    assert!(metrics.len() > 30, "{metrics:?}");
    for metric in metrics {
        let path = metric["path"].as_str().unwrap();
        let value = at(&report, path).unwrap_or_else(|| panic!("no {path} in the JSON document"));
        assert_eq!(metric["text"].as_str().unwrap(), shown(value), "{path}");
    }
    assert_eq!(seen["filtered_rows"], 1);
    if std::env::var_os("GUARDFORM_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&screenshot, root().join("tests/snapshots/report.png")).unwrap();
    }
}
