//! The manifest the ownership tests (killed applies, concurrent applies) run, and what it
//! declares: every kind of resource guardform owns, with content that can change and parts
//! that can be removed.

use super::Declared;
use std::path::Path;

pub const ADMIN: &str = "222222222222";
pub const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
pub const BUCKET: &str = "acme-guardduty-lists";
pub const PREFIX: &str = "guardform";
/// The trusted list's content cycles through these, so list files are uploaded, sets updated
/// and old files removed while applies are being killed or raced.
pub const TRUSTED_VARIANTS: [&str; 3] = [
    r#"["203.0.113.0/26", "198.51.100.7"]"#,
    r#"["203.0.113.0/26", "198.51.100.8"]"#,
    r#"["203.0.113.64/26", "198.51.100.7"]"#,
];

/// The manifest: `full` has the threat list `bad-actors`, the threat entity list
/// `bad-domains` and the response `archive-all`, which the other rounds remove; and its
/// trusted list is an entity list, which the other rounds move back to an IP set.
pub fn manifest(full: bool, variant: usize) -> String {
    let threat = if full {
        "  - name: bad-actors\n    kind: threat\n    source: { inline: [\"192.0.2.10\", \"192.0.2.20\", \"198.51.100.128/25\", \"2001:db8:1::/48\"] }\n  - name: bad-domains\n    kind: threat_entities\n    source: { inline: [\"evil.example\", \"*.phish.example\", \"192.0.2.30\"] }\n"
    } else {
        ""
    };
    let trusted_kind = trusted_kind(full);
    let archive = if full {
        "  - name: archive-all\n    when: {}\n    run: { bundle: archive-findings, env: { BUCKET: acme-findings-archive, PREFIX: guardduty } }\n"
    } else {
        ""
    };
    format!(
        r#"version: 1
organization: {{ delegated_admin: "{ADMIN}", auto_enable: NEW }}
accounts: {{ include: {{ all: true }} }}
regions: {{ include: [eu-west-1, us-east-1] }}
detector:
  finding_publishing_frequency: FIFTEEN_MINUTES
  features:
    S3_DATA_EVENTS: enabled
    EKS_AUDIT_LOGS: enabled
    RDS_LOGIN_EVENTS: disabled
  tags: {{ owner: security }}
storage: {{ bucket: "s3://{BUCKET}/{PREFIX}" }}
ip_lists:
  - name: office-egress
    kind: {trusted_kind}
    source: {{ inline: {trusted} }}
{threat}responses:
  - name: high-to-slack
    when: {{ labels: [HIGH, CRITICAL] }}
    run: {{ bundle: slack-notify, secrets: {{ SLACK_WEBHOOK_URL: "arn:aws:secretsmanager:us-east-1:{ADMIN}:secret:guardform/slack-webhook-AbCdEf" }} }}
{archive}"#,
        trusted = TRUSTED_VARIANTS[variant % TRUSTED_VARIANTS.len()],
    )
}

fn trusted_kind(full: bool) -> &'static str {
    if full { "trusted_entities" } else { "trusted" }
}

/// What `manifest(full, _)` declares.
pub fn declared(full: bool, members: &[String]) -> Declared {
    let mut lists = vec![("office-egress".to_string(), trusted_kind(full).to_string())];
    let mut responses = vec![("high-to-slack".to_string(), true)];
    if full {
        lists.push(("bad-actors".to_string(), "threat".to_string()));
        lists.push(("bad-domains".to_string(), "threat_entities".to_string()));
        responses.push(("archive-all".to_string(), true));
    }
    Declared {
        admin: ADMIN.to_string(),
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        members: members.to_vec(),
        lists,
        responses,
        bucket: BUCKET.to_string(),
        prefix: PREFIX.to_string(),
    }
}

pub fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("guardform.yaml"), text).unwrap();
}

/// Accounts that must end up members: every organization account but the administrator.
pub fn members(seed: &serde_json::Value) -> Vec<String> {
    let mut accounts: Vec<String> = seed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .chain(std::iter::once(
            seed["management_account"].as_str().unwrap().to_string(),
        ))
        .filter(|a| a != ADMIN)
        .collect();
    accounts.sort();
    accounts
}
