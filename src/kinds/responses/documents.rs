//! The JSON documents of a response, built from the manifest (pure): the EventBridge event
//! pattern, the role's trust and permission policies, the dead-letter queue's policy; and the
//! canonical form documents are compared in.

use super::bundles::Bundle;
use super::names::{queue_arn, resource_name, rule_arn};
use crate::kinds::responses::section::{SEVERITY_LABELS, When};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// JSON with object keys sorted, for comparing documents whatever their key order.
pub fn canonical(value: &Value) -> String {
    crate::kinds::canonical_text(value)
}

/// Canonical form of a JSON document given as text (IAM returns them URL-encoded).
pub fn canonical_text(text: &str) -> String {
    let decoded = if text.starts_with('%') {
        percent_decode(text)
    } else {
        text.to_string()
    };
    serde_json::from_str::<Value>(&decoded)
        .map(|v| canonical(&v))
        .unwrap_or(decoded)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 3 <= bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The EventBridge event pattern of `when`: GuardDuty findings, severity as numeric matching,
/// types exactly or by prefix, resource types on `detail.resource.resourceType`.
pub fn event_pattern(when: &When) -> Value {
    let mut detail = serde_json::Map::new();
    let mut severity = Vec::new();
    if when.severity_min.is_some() || when.severity_max.is_some() {
        let mut range = Vec::new();
        if let Some(min) = when.severity_min {
            range.push(json!(">="));
            range.push(json!(min));
        }
        if let Some(max) = when.severity_max {
            range.push(json!("<="));
            range.push(json!(max));
        }
        severity.push(json!({"numeric": range}));
    }
    // Labels: merge adjacent ranges into as few numeric matchers as possible.
    let mut ranges: Vec<(f64, f64)> = SEVERITY_LABELS
        .iter()
        .filter(|(name, _, _)| when.labels.iter().any(|l| l == name))
        .map(|(_, low, high)| (*low, *high))
        .collect();
    ranges.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (low, high) in ranges {
        match merged.last_mut() {
            Some(last) if (last.1 - low).abs() < f64::EPSILON => last.1 = high,
            _ => merged.push((low, high)),
        }
    }
    for (low, high) in merged {
        severity.push(json!({"numeric": [">=", low, "<", high]}));
    }
    if !severity.is_empty() {
        detail.insert("severity".into(), Value::Array(severity));
    }
    if !when.types.is_empty() {
        let types: Vec<Value> = when
            .types
            .iter()
            .map(|t| match t.strip_suffix('*') {
                Some(prefix) => json!({"prefix": prefix}),
                None => json!(t),
            })
            .collect();
        detail.insert("type".into(), Value::Array(types));
    }
    if !when.resource_types.is_empty() {
        detail.insert(
            "resource".into(),
            json!({"resourceType": when.resource_types}),
        );
    }
    let mut pattern = json!({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]});
    if !detail.is_empty() {
        pattern["detail"] = Value::Object(detail);
    }
    pattern
}

/// The trust policy of the role EventBridge uses to deliver to a target in another account or
/// Region: EventBridge only.
pub fn events_trust_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

/// The policy of that role: deliver to exactly the targets (one per Region at most).
pub fn delivery_policy(targets: &BTreeSet<String>) -> Value {
    let action = |arn: &str| match super::names::arn_parts(arn).map(|(service, _, _)| service) {
        Some("sns") => "sns:Publish",
        Some("sqs") => "sqs:SendMessage",
        Some("lambda") => "lambda:InvokeFunction",
        _ => "events:PutEvents",
    };
    let mut actions: Vec<&str> = targets.iter().map(|arn| action(arn)).collect();
    actions.sort_unstable();
    actions.dedup();
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Deliver", "Effect": "Allow", "Action": actions, "Resource": targets}]})
}

/// The role's trust policy: Lambda only.
pub fn trust_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

/// The IAM resource for a Secrets Manager ARN: a complete ARN as it is; a partial one (without
/// the six random characters Secrets Manager appends to the name) with `-??????`, which is how
/// IAM matches it ("Resource: partial ARN" in the Secrets Manager user guide).
pub fn secret_resource(arn: &str) -> String {
    let name = arn.split_once(":secret:").map(|(_, n)| n).unwrap_or(arn);
    let complete = name.rsplit_once('-').is_some_and(|(_, suffix)| {
        suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if complete {
        arn.to_string()
    } else {
        format!("{arn}-??????")
    }
}

/// What a responder may never do, whatever its bundle asks for: change guardform's own roles
/// (path `/guardform/` or named `guardform-*`), its own among them, in any way.
pub fn never_guardforms_roles() -> Value {
    json!({
        "Sid": "NeverGuardformsRoles",
        "Effect": "Deny",
        "Action": [
            "iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary",
            "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole", "iam:UpdateRoleDescription"
        ],
        "Resource": ["arn:aws:iam::*:role/guardform/*", "arn:aws:iam::*:role/guardform-*"],
    })
}

/// Where the responder runs: its account and its organization.
pub struct Scope<'a> {
    pub account: &'a str,
    pub organization: &'a str,
}

fn substitute(value: &Value, scope: &Scope<'_>) -> Value {
    match value {
        Value::String(text) => Value::String(
            text.replace("${ORGANIZATION_ID}", scope.organization)
                .replace("${ACCOUNT_ID}", scope.account),
        ),
        Value::Array(items) => items.iter().map(|v| substitute(v, scope)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), substitute(v, scope)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// Reading the secrets: GetSecretValue on exactly them, and kms:Decrypt only through Secrets
/// Manager for exactly them (a secret encrypted with a customer managed key needs it; the
/// AWS managed key does not).
fn secret_statements(secrets: &BTreeMap<String, String>, account: &str) -> Vec<Value> {
    if secrets.is_empty() {
        return Vec::new();
    }
    let arns: BTreeSet<&String> = secrets.values().collect();
    let resources: BTreeSet<String> = arns.iter().map(|a| secret_resource(a)).collect();
    let services: BTreeSet<String> = arns
        .iter()
        .filter_map(|arn| arn.split(':').nth(3))
        .map(|region| format!("secretsmanager.{region}.amazonaws.com"))
        .collect();
    let owners: BTreeSet<&str> = arns
        .iter()
        .filter_map(|arn| arn.split(':').nth(4))
        .chain(std::iter::once(account))
        .collect();
    let keys: Vec<String> = owners
        .iter()
        .map(|owner| format!("arn:aws:kms:*:{owner}:key/*"))
        .collect();
    vec![
        json!({"Sid": "Secrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": resources}),
        json!({
            "Sid": "SecretsKeys",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": keys,
            "Condition": {
                "StringEquals": {"kms:ViaService": services},
                "StringLike": {"kms:EncryptionContext:SecretARN": resources},
            },
        }),
    ]
}

/// The role's inline policy: the bundle's declared permissions (with their conditions), read
/// access to exactly the referenced secrets, the function's own log group, and an explicit
/// deny on guardform's own roles.
pub fn role_policy(
    bundle: &Bundle,
    env: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    scope: &Scope<'_>,
    response: &str,
) -> Value {
    let account = scope.account;
    let mut statements = vec![json!({
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [format!("arn:aws:logs:*:{account}:log-group:/aws/lambda/{}:*", resource_name(response))],
    })];
    statements.extend(secret_statements(secrets, account));
    for (index, permission) in bundle.spec.permissions.iter().enumerate() {
        // `${NAME}` in a resource is the response's setting NAME (or the bundle's default).
        let resources: Vec<String> = permission
            .resources
            .iter()
            .map(|resource| {
                let mut resource = resource.clone();
                for (name, setting) in &bundle.spec.env {
                    if let Some(value) = env.get(name).or(setting.default.as_ref()) {
                        resource = resource.replace(&format!("${{{name}}}"), value);
                    }
                }
                resource
            })
            .collect();
        let mut statement = json!({"Sid": format!("Bundle{index}"), "Effect": "Allow", "Action": permission.actions, "Resource": resources});
        if let Some(conditions) = &permission.conditions {
            statement["Condition"] = substitute(conditions, scope);
        }
        statements.push(statement);
    }
    statements.push(never_guardforms_roles());
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The dead-letter queue's policy: EventBridge may send from this rule only.
pub fn queue_policy(region: &str, account: &str, response: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "EventBridgeDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn(region, account, response),
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn(region, account, response)}},
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(source: &str) -> When {
        let manifest = format!(
            "version: 1\norganization: {{ delegated_admin: \"222222222222\" }}\naccounts: {{ include: {{ all: true }} }}\nregions: {{ include: [eu-west-1] }}\nresponses:\n  - name: r\n    when: {source}\n    send_to: {{ sns: \"arn:aws:sns:eu-west-1:222222222222:soc\" }}\n"
        );
        let (parsed, diagnostics) = crate::kinds::check(&manifest, std::path::Path::new("."));
        let parsed = parsed.unwrap_or_else(|| panic!("{diagnostics:?}"));
        crate::kinds::responses::section::of(&parsed)[0]
            .when
            .clone()
    }

    #[test]
    fn patterns_use_numeric_and_prefix_matching() {
        let pattern = event_pattern(&when(
            "{ severity: { min: 4 }, types: [\"UnauthorizedAccess:EC2/SSHBruteForce\", \"Recon:EC2/*\"], resource_types: [Instance] }",
        ));
        assert_eq!(
            canonical(&pattern),
            r#"{"detail":{"resource":{"resourceType":["Instance"]},"severity":[{"numeric":[">=",4.0]}],"type":["UnauthorizedAccess:EC2/SSHBruteForce",{"prefix":"Recon:EC2/"}]},"detail-type":["GuardDuty Finding"],"source":["aws.guardduty"]}"#
        );
        assert_eq!(
            canonical(&event_pattern(&when("{}"))),
            r#"{"detail-type":["GuardDuty Finding"],"source":["aws.guardduty"]}"#
        );
    }

    #[test]
    fn adjacent_labels_merge_into_one_range() {
        let pattern = event_pattern(&when("{ labels: [CRITICAL, HIGH, LOW] }"));
        assert_eq!(
            pattern["detail"]["severity"],
            json!([{"numeric": [">=", 1.0, "<", 4.0]}, {"numeric": [">=", 7.0, "<", 10.1]}])
        );
    }

    #[test]
    fn canonical_json_ignores_key_order_and_url_encoding() {
        assert_eq!(
            canonical_text(r#"{"b":1,"a":{"d":2,"c":3}}"#),
            canonical_text("%7B%22a%22%3A%7B%22c%22%3A3%2C%22d%22%3A2%7D%2C%22b%22%3A1%7D")
        );
    }

    /// Actions AWS does not let a policy scope to a resource, so `"Resource": "*"` is the only
    /// way to grant them (the Service Authorization Reference lists no resource type for them).
    const UNSCOPABLE: &[(&str, &str)] = &[
        ("iam:ListRoles", "a list call: no resource type"),
        (
            "ec2:DescribeInstances",
            "Describe* calls support no resource-level permissions",
        ),
        (
            "ec2:DescribeSecurityGroups",
            "Describe* calls support no resource-level permissions",
        ),
        (
            "ec2:DescribeSnapshots",
            "Describe* calls support no resource-level permissions",
        ),
    ];

    fn statements(policy: &Value) -> Vec<Value> {
        policy["Statement"].as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn responder_policies_scope_every_action_and_never_touch_guardforms_roles() {
        let scope = Scope {
            account: "222222222222",
            organization: "o-abc123",
        };
        let secrets = BTreeMap::from([
            (
                "SLACK_WEBHOOK_URL".to_string(),
                "arn:aws:secretsmanager:us-east-1:222222222222:secret:guardform/slack".to_string(),
            ),
            (
                "DS_API_KEY".to_string(),
                "arn:aws:secretsmanager:us-east-1:222222222222:secret:guardform/ds-key-AbCdEf"
                    .to_string(),
            ),
        ]);
        for name in crate::kinds::responses::bundles::builtin_names() {
            let bundle =
                crate::kinds::responses::bundles::find(name, std::path::Path::new("/nonexistent"))
                    .unwrap();
            let env: BTreeMap<String, String> = bundle
                .spec
                .env
                .keys()
                .map(|k| (k.clone(), "value".to_string()))
                .collect();
            let policy = role_policy(&bundle, &env, &secrets, &scope, "r");
            let all = statements(&policy);
            for statement in &all {
                if statement["Resource"] == json!(["*"]) || statement["Resource"] == json!("*") {
                    for action in statement["Action"].as_array().unwrap() {
                        assert!(
                            UNSCOPABLE.iter().any(|(a, _)| action == a),
                            "{name}: {action} on Resource * ({statement})"
                        );
                    }
                }
                if statement["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "sts:AssumeRole")
                {
                    assert_eq!(
                        statement["Condition"],
                        json!({"StringEquals": {"aws:ResourceOrgID": "o-abc123"}}),
                        "{name}"
                    );
                }
            }
            let deny = all.last().unwrap();
            assert_eq!(deny["Effect"], "Deny", "{name}");
            assert!(
                deny["Action"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("iam:PutRolePolicy"))
            );
            let secrets_statement = all.iter().find(|s| s["Sid"] == "Secrets").unwrap();
            assert_eq!(
                secrets_statement["Resource"],
                json!([
                    "arn:aws:secretsmanager:us-east-1:222222222222:secret:guardform/ds-key-AbCdEf",
                    "arn:aws:secretsmanager:us-east-1:222222222222:secret:guardform/slack-??????"
                ])
            );
            let keys = all.iter().find(|s| s["Sid"] == "SecretsKeys").unwrap();
            assert_eq!(
                keys["Condition"]["StringEquals"]["kms:ViaService"],
                json!(["secretsmanager.us-east-1.amazonaws.com"])
            );
        }
    }
}
