//! Response wiring: for every `responses` entry, in the delegated administrator account in
//! every targeted Region, an EventBridge rule on GuardDuty findings, its target (a Lambda built
//! from a bundle, an SNS topic or another event bus) with a retry policy and a dead-letter
//! queue, and for Lambdas the function, its invoke permission for EventBridge and an IAM role
//! (global) with a least-privilege policy from the bundle's own declaration.
//!
//! Pure parts (event patterns, policies, desired attributes, the diff) are unit-tested; the
//! reading and writing functions are called by `observe`, `diff` and `apply`.

use crate::aws::{Aws, AwsError};
use crate::bundles::{self, Bundle};
use crate::diagnostic::Diagnostic;
use crate::diff::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use crate::manifest::{Manifest, ResponseAction, ResponseSpec, SEVERITY_LABELS, When};
use crate::plan::{Action, Attributes, Change, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The tag naming the response a resource belongs to.
pub const RESPONSE_TAG_KEY: &str = "guardform:response";
/// The IAM path of guardform's roles.
pub const ROLE_PATH: &str = "/guardform/";
/// The target id guardform uses.
pub const TARGET_ID: &str = "guardform";
/// The Lambda permission statement id guardform uses.
pub const STATEMENT_ID: &str = "guardform-events";

/// `guardform-<name>`: the rule, function and role name of a response.
pub fn resource_name(response: &str) -> String {
    format!("guardform-{response}")
}

/// The dead-letter queue guardform creates for a response.
pub fn queue_name(response: &str) -> String {
    format!("guardform-{response}-dlq")
}

/// The EventBridge rule ARN.
pub fn rule_arn(region: &str, account: &str, response: &str) -> String {
    format!(
        "arn:aws:events:{region}:{account}:rule/{}",
        resource_name(response)
    )
}

/// The Lambda function ARN.
pub fn function_arn(region: &str, account: &str, response: &str) -> String {
    format!(
        "arn:aws:lambda:{region}:{account}:function:{}",
        resource_name(response)
    )
}

/// The IAM role ARN.
pub fn role_arn(account: &str, response: &str) -> String {
    format!(
        "arn:aws:iam::{account}:role{ROLE_PATH}{}",
        resource_name(response)
    )
}

/// The dead-letter queue ARN guardform creates.
pub fn queue_arn(region: &str, account: &str, response: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{}", queue_name(response))
}

/// JSON with object keys sorted, for comparing documents whatever their key order.
pub fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
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

/// The role's trust policy: Lambda only.
pub fn trust_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

/// The role's inline policy: the bundle's declared permissions, read access to exactly the
/// referenced secrets, and the function's own log group.
pub fn role_policy(
    bundle: &Bundle,
    env: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    account: &str,
    response: &str,
) -> Value {
    let mut statements = vec![json!({
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [format!("arn:aws:logs:*:{account}:log-group:/aws/lambda/{}:*", resource_name(response))],
    })];
    if !secrets.is_empty() {
        let arns: BTreeSet<&String> = secrets.values().collect();
        statements.push(json!({"Sid": "Secrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arns}));
    }
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
        statements.push(json!({"Sid": format!("Bundle{index}"), "Effect": "Allow", "Action": permission.actions, "Resource": resources}));
    }
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

/// A name the bundle does not declare: what it does declare, and the closest one.
fn unknown_name(
    position: Option<crate::manifest::yaml::Position>,
    message: &str,
    name: &str,
    declared: &BTreeMap<String, bundles::Setting>,
    none: &str,
) -> Diagnostic {
    let known: Vec<&str> = declared.keys().map(String::as_str).collect();
    Diagnostic::error(position, message)
        .expected(if known.is_empty() {
            none.to_string()
        } else {
            format!("one of: {}", known.join(", "))
        })
        .suggest(name, known.iter().copied())
}

/// Checks `run` entries against their bundles' declarations (needs the manifest's folder for
/// local bundles). Every problem is reported, at its position.
pub fn check_bundles(responses: &[ResponseSpec], manifest_dir: &Path) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for response in responses {
        let ResponseAction::Run(run) = &response.action else {
            continue;
        };
        let at = |key: &str| response.positions.get(key).copied();
        let bundle = match bundles::find(&run.bundle, manifest_dir) {
            Ok(bundle) => bundle,
            Err(error) => {
                let names = bundles::builtin_names();
                diagnostics.push(
                    Diagnostic::error(
                        at("bundle"),
                        format!("response `{}`: {error}", response.name),
                    )
                    .expected(format!(
                        "a built-in bundle ({}) or a folder bundles/<name>/ beside the manifest",
                        names.join(", ")
                    ))
                    .suggest(&run.bundle, names.iter().copied()),
                );
                continue;
            }
        };
        let spec = &bundle.spec;
        for name in run.env.keys() {
            if spec.secrets.contains_key(name) {
                diagnostics.push(
                    Diagnostic::error(at(&format!("env_value.{name}")), format!("response `{}`: `{name}` is a secret of bundle `{}`, not a plain setting", response.name, spec.name))
                        .hint(format!("move it under `secrets:` as a Secrets Manager ARN: `{name}: arn:aws:secretsmanager:...`"))
                        .secret(),
                );
            } else if !spec.env.contains_key(name) {
                diagnostics.push(unknown_name(
                    at(&format!("env.{name}")),
                    &format!(
                        "response `{}`: bundle `{}` does not read `{name}`",
                        response.name, spec.name
                    ),
                    name,
                    &spec.env,
                    "no env: the bundle has no settings",
                ));
            }
        }
        for (name, setting) in &spec.env {
            if setting.required && setting.default.is_none() && !run.env.contains_key(name) {
                diagnostics.push(
                    Diagnostic::error(
                        at("bundle"),
                        format!(
                            "response `{}`: bundle `{}` needs `env.{name}`",
                            response.name, spec.name
                        ),
                    )
                    .hint(setting.description.clone()),
                );
            }
        }
        for name in run.secrets.keys() {
            if !spec.secrets.contains_key(name) {
                diagnostics.push(unknown_name(
                    at(&format!("secrets.{name}")),
                    &format!(
                        "response `{}`: bundle `{}` has no secret `{name}`",
                        response.name, spec.name
                    ),
                    name,
                    &spec.secrets,
                    "no secrets",
                ));
            }
        }
        for (name, setting) in &spec.secrets {
            if setting.required && !run.secrets.contains_key(name) {
                diagnostics.push(
                    Diagnostic::error(at("bundle"), format!("response `{}`: bundle `{}` needs the secret `{name}`", response.name, spec.name))
                        .hint(format!("add `secrets: {{ {name}: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME }}` ({})", setting.description)),
                );
            }
        }
    }
    diagnostics
}

/// A rule as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleState {
    pub pattern: String,
    pub state: String,
    pub tags: BTreeMap<String, String>,
    /// The target with guardform's id, if any.
    pub target: Option<TargetState>,
}

/// A rule target as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    pub arn: String,
    pub maximum_retry_attempts: Option<i32>,
    pub maximum_event_age_seconds: Option<i32>,
    pub dead_letter_arn: Option<String>,
}

/// A function as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionState {
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub memory: i32,
    pub timeout: i32,
    pub code_sha256: String,
    pub env: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// guardform's EventBridge statement: (principal, source ARN).
    pub permission: Option<(String, String)>,
}

/// A dead-letter queue as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    pub policy: String,
    pub encrypted: bool,
    pub tags: BTreeMap<String, String>,
}

/// Response resources in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResponsesState {
    pub rules: BTreeMap<String, RuleState>,
    pub functions: BTreeMap<String, FunctionState>,
    pub queues: BTreeMap<String, QueueState>,
}

/// A role as read (IAM is global).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleState {
    pub trust: String,
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// Reads guardform's roles (path `/guardform/`) in `account`.
pub async fn observe_roles(
    aws: &Aws,
    account: &str,
) -> Result<BTreeMap<String, RoleState>, AwsError> {
    let iam = aws.iam(account);
    let mut roles = BTreeMap::new();
    let mut pages = iam
        .list_roles()
        .path_prefix(ROLE_PATH)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| AwsError::new(format!("listing guardform's IAM roles in {account}"), e))?;
        for role in page.roles() {
            let name = role.role_name().to_string();
            let full = iam
                .get_role()
                .role_name(&name)
                .send()
                .await
                .map_err(|e| AwsError::new(format!("reading IAM role {name}"), e))?;
            let tags = full
                .role()
                .map(|r| {
                    r.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let trust = full
                .role()
                .and_then(|r| r.assume_role_policy_document())
                .map(canonical_text)
                .unwrap_or_default();
            let policy = match iam
                .get_role_policy()
                .role_name(&name)
                .policy_name("guardform")
                .send()
                .await
            {
                Ok(output) => Some(canonical_text(output.policy_document())),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_no_such_entity_exception()) =>
                {
                    None
                }
                Err(error) => {
                    return Err(AwsError::new(
                        format!("reading the policy of IAM role {name}"),
                        error,
                    ));
                }
            };
            roles.insert(
                name,
                RoleState {
                    trust,
                    policy,
                    tags,
                },
            );
        }
    }
    Ok(roles)
}

/// Reads guardform's rules (name prefix `guardform-`), their targets, and the functions and
/// queues of every response wanted or found, in one Region.
pub async fn observe_region(
    aws: &Aws,
    account: &str,
    region: &str,
    wanted: &[String],
) -> Result<ResponsesState, AwsError> {
    let context = format!("{account}/{region}");
    let events = aws.eventbridge(account, region);
    let mut state = ResponsesState::default();
    let mut next: Option<String> = None;
    loop {
        let page = events
            .list_rules()
            .name_prefix("guardform-")
            .set_next_token(next.clone())
            .send()
            .await
            .map_err(|e| AwsError::new(format!("listing EventBridge rules in {context}"), e))?;
        for rule in page.rules() {
            let Some(name) = rule.name() else { continue };
            let arn = rule.arn().unwrap_or_default().to_string();
            let tags = events
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(format!("reading the tags of rule {name} in {context}"), e)
                })?
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            let targets = events
                .list_targets_by_rule()
                .rule(name)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        format!("reading the targets of rule {name} in {context}"),
                        e,
                    )
                })?;
            let target = targets
                .targets()
                .iter()
                .find(|t| t.id() == TARGET_ID)
                .map(|t| TargetState {
                    arn: t.arn().to_string(),
                    maximum_retry_attempts: t
                        .retry_policy()
                        .and_then(|r| r.maximum_retry_attempts()),
                    maximum_event_age_seconds: t
                        .retry_policy()
                        .and_then(|r| r.maximum_event_age_in_seconds()),
                    dead_letter_arn: t
                        .dead_letter_config()
                        .and_then(|d| d.arn())
                        .map(str::to_string),
                });
            state.rules.insert(
                name.to_string(),
                RuleState {
                    pattern: rule.event_pattern().map(canonical_text).unwrap_or_default(),
                    state: rule
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    tags,
                    target,
                },
            );
        }
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    let mut responses: BTreeSet<String> = wanted.iter().cloned().collect();
    // Responses guardform made that the manifest may no longer have: found by their rules' tags.
    for rule in state.rules.values() {
        if rule.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
            && let Some(response) = rule.tags.get(RESPONSE_TAG_KEY)
        {
            responses.insert(response.clone());
        }
    }
    let lambda = aws.lambda(account, region);
    let sqs = aws.sqs(account, region);
    for response in &responses {
        let name = resource_name(response);
        match lambda.get_function().function_name(&name).send().await {
            Ok(output) => {
                let config = output.configuration();
                let permission = match lambda.get_policy().function_name(&name).send().await {
                    Ok(policy) => policy.policy().and_then(|text| {
                        let doc: Value = serde_json::from_str(text).ok()?;
                        let statements = doc.get("Statement")?.as_array()?.clone();
                        statements
                            .iter()
                            .find(|s| s.get("Sid").and_then(Value::as_str) == Some(STATEMENT_ID))
                            .map(|s| {
                                let principal = s
                                    .pointer("/Principal/Service")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string();
                                let source = s
                                    .pointer("/Condition/ArnLike/AWS:SourceArn")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string();
                                (principal, source)
                            })
                    }),
                    Err(error)
                        if error
                            .as_service_error()
                            .is_some_and(|e| e.is_resource_not_found_exception()) =>
                    {
                        None
                    }
                    Err(error) => {
                        return Err(AwsError::new(
                            format!("reading the policy of function {name} in {context}"),
                            error,
                        ));
                    }
                };
                state.functions.insert(
                    name.clone(),
                    FunctionState {
                        runtime: config
                            .and_then(|c| c.runtime())
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_default(),
                        handler: config
                            .and_then(|c| c.handler())
                            .unwrap_or_default()
                            .to_string(),
                        role: config
                            .and_then(|c| c.role())
                            .unwrap_or_default()
                            .to_string(),
                        memory: config.and_then(|c| c.memory_size()).unwrap_or_default(),
                        timeout: config.and_then(|c| c.timeout()).unwrap_or_default(),
                        code_sha256: config
                            .and_then(|c| c.code_sha256())
                            .unwrap_or_default()
                            .to_string(),
                        env: config
                            .and_then(|c| c.environment())
                            .and_then(|e| e.variables())
                            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                        tags: output
                            .tags()
                            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                        permission,
                    },
                );
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(error) => {
                return Err(AwsError::new(
                    format!("reading function {name} in {context}"),
                    error,
                ));
            }
        }
        let queue = queue_name(response);
        match sqs.get_queue_url().queue_name(&queue).send().await {
            Ok(output) => {
                let url = output.queue_url().unwrap_or_default().to_string();
                let attributes = sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(format!("reading queue {queue} in {context}"), e))?;
                let get = |name: aws_sdk_sqs::types::QueueAttributeName| {
                    attributes.attributes().and_then(|a| a.get(&name)).cloned()
                };
                let tags = sqs
                    .list_queue_tags()
                    .queue_url(&url)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::new(format!("reading the tags of queue {queue} in {context}"), e)
                    })?
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                state.queues.insert(
                    queue,
                    QueueState {
                        policy: get(aws_sdk_sqs::types::QueueAttributeName::Policy)
                            .map(|p| canonical_text(&p))
                            .unwrap_or_default(),
                        encrypted: get(
                            aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled,
                        )
                        .as_deref()
                            == Some("true")
                            || get(aws_sdk_sqs::types::QueueAttributeName::KmsMasterKeyId)
                                .is_some_and(|k| !k.is_empty()),
                        tags,
                    },
                );
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_queue_does_not_exist()) => {}
            Err(error) => {
                return Err(AwsError::new(
                    format!("reading queue {queue} in {context}"),
                    error,
                ));
            }
        }
    }
    Ok(state)
}

fn string(value: impl Into<String>) -> Value {
    Value::String(value.into())
}

fn ownership(response: &str) -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
    attributes.insert(format!("tags.{RESPONSE_TAG_KEY}"), string(response));
    attributes
}

fn tags_of(tags: &BTreeMap<String, String>) -> Attributes {
    tags.iter()
        .map(|(k, v)| (format!("tags.{k}"), string(v.clone())))
        .collect()
}

fn owned(tags: &BTreeMap<String, String>, response: &str) -> bool {
    tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
        && tags.get(RESPONSE_TAG_KEY).map(String::as_str) == Some(response)
}

/// What a response needs besides its manifest entry: the bundle (for `run`).
pub struct Prepared<'a> {
    pub spec: &'a ResponseSpec,
    pub bundle: Option<Bundle>,
}

/// Loads the bundles of the manifest's responses.
pub fn prepare<'a>(
    manifest: &'a Manifest,
    manifest_dir: &Path,
) -> Result<Vec<Prepared<'a>>, String> {
    manifest
        .responses
        .iter()
        .map(|spec| {
            let bundle = match &spec.action {
                ResponseAction::Run(run) => Some(
                    bundles::find(&run.bundle, manifest_dir)
                        .map_err(|e| format!("response `{}`: {e}", spec.name))?,
                ),
                _ => None,
            };
            Ok(Prepared { spec, bundle })
        })
        .collect()
}

#[expect(
    clippy::too_many_arguments,
    reason = "one place builds every response change; a struct would only rename the arguments"
)]
fn push(
    changes: &mut Vec<Change>,
    kind: ResourceKind,
    address: String,
    region: &str,
    admin: &str,
    response: &str,
    desired: &Attributes,
    live: Option<&Attributes>,
    reasons: (&str, &str),
) {
    let (before, after) = match live {
        None => (Attributes::new(), desired.clone()),
        Some(live) => {
            let mut before = Attributes::new();
            let mut after = Attributes::new();
            for (key, want) in desired {
                let have = live.get(key).cloned().unwrap_or(Value::Null);
                if have != *want {
                    before.insert(key.clone(), have);
                    after.insert(key.clone(), want.clone());
                }
            }
            (before, after)
        }
    };
    if after.is_empty() {
        return;
    }
    let action = if live.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    changes.push(Change {
        address,
        kind,
        action,
        account: Some(admin.to_string()),
        region: region.to_string(),
        before,
        after,
        reason: if live.is_some() {
            reasons.1.to_string()
        } else {
            reasons.0.to_string()
        },
        requires: None,
        inputs: [
            ("response".to_string(), response.to_string()),
            (
                "desired".to_string(),
                serde_json::to_string(desired).unwrap_or_default(),
            ),
        ]
        .into(),
        content: None,
    });
}

/// The changes for the manifest's responses, given what was observed.
pub fn diff(
    prepared: &[Prepared<'_>],
    admin: &str,
    regions: &[String],
    states: &BTreeMap<String, ResponsesState>,
    roles: &BTreeMap<String, RoleState>,
    changes: &mut Vec<Change>,
) {
    let wanted: BTreeSet<&str> = prepared.iter().map(|p| p.spec.name.as_str()).collect();
    for prepared in prepared {
        let response = prepared.spec.name.as_str();
        let name = resource_name(response);
        if let (ResponseAction::Run(run), Some(bundle)) = (&prepared.spec.action, &prepared.bundle)
        {
            let mut desired = ownership(response);
            desired.insert("trust_policy".into(), string(canonical(&trust_policy())));
            desired.insert(
                "policy".into(),
                string(canonical(&role_policy(
                    bundle,
                    &run.env,
                    &run.secrets,
                    admin,
                    response,
                ))),
            );
            let live = roles.get(&name).map(|role| {
                let mut attributes = tags_of(&role.tags);
                attributes.insert("trust_policy".into(), string(role.trust.clone()));
                if let Some(policy) = &role.policy {
                    attributes.insert("policy".into(), string(policy.clone()));
                }
                attributes
            });
            push(
                changes,
                ResourceKind::IamRole,
                format!("iam.role[{admin}/{name}]"),
                "global",
                admin,
                response,
                &desired,
                live.as_ref(),
                (
                    "the response's Lambda needs an execution role",
                    "the role's policy differs from what the bundle declares",
                ),
            );
        }
        for region in regions {
            let empty = ResponsesState::default();
            let state = states.get(region).unwrap_or(&empty);
            let dlq = prepared
                .spec
                .dlq
                .clone()
                .unwrap_or_else(|| queue_arn(region, admin, response));
            if prepared.spec.dlq.is_none() {
                let queue = queue_name(response);
                let mut desired = ownership(response);
                desired.insert(
                    "policy".into(),
                    string(canonical(&queue_policy(region, admin, response))),
                );
                desired.insert("encryption".into(), string("enabled"));
                let live = state.queues.get(&queue).map(|q| {
                    let mut attributes = tags_of(&q.tags);
                    attributes.insert("policy".into(), string(q.policy.clone()));
                    attributes.insert(
                        "encryption".into(),
                        string(if q.encrypted { "enabled" } else { "none" }),
                    );
                    attributes
                });
                push(
                    changes,
                    ResourceKind::SqsQueue,
                    format!("sqs.queue[{admin}/{region}/{queue}]"),
                    region,
                    admin,
                    response,
                    &desired,
                    live.as_ref(),
                    (
                        "dead-letter queue for findings EventBridge could not deliver",
                        "the dead-letter queue's settings differ",
                    ),
                );
            }
            let target_arn = match (&prepared.spec.action, &prepared.bundle) {
                (ResponseAction::Run(run), Some(bundle)) => {
                    let mut desired = ownership(response);
                    desired.insert("runtime".into(), string(bundle.spec.runtime.clone()));
                    desired.insert("handler".into(), string(bundle.spec.handler.clone()));
                    desired.insert("role".into(), string(role_arn(admin, response)));
                    desired.insert(
                        "memory".into(),
                        json!(run.memory.unwrap_or(bundle.spec.memory)),
                    );
                    desired.insert(
                        "timeout".into(),
                        json!(run.timeout.unwrap_or(bundle.spec.timeout)),
                    );
                    desired.insert("code_sha256".into(), string(bundle.code_sha256()));
                    desired.insert(
                        "bundle".into(),
                        string(format!("{} ({})", bundle.spec.name, bundle.origin)),
                    );
                    for (key, value) in &run.env {
                        desired.insert(format!("env.{key}"), string(value.clone()));
                    }
                    for (key, arn) in &run.secrets {
                        desired.insert(format!("env.{key}_SECRET_ARN"), string(arn.clone()));
                    }
                    let live = state.functions.get(&name).map(|f| {
                        let mut attributes = tags_of(&f.tags);
                        attributes.insert("runtime".into(), string(f.runtime.clone()));
                        attributes.insert("handler".into(), string(f.handler.clone()));
                        attributes.insert("role".into(), string(f.role.clone()));
                        attributes.insert("memory".into(), json!(f.memory));
                        attributes.insert("timeout".into(), json!(f.timeout));
                        attributes.insert("code_sha256".into(), string(f.code_sha256.clone()));
                        attributes.insert(
                            "bundle".into(),
                            string(format!("{} ({})", bundle.spec.name, bundle.origin)),
                        );
                        for (key, value) in &f.env {
                            attributes.insert(format!("env.{key}"), string(value.clone()));
                        }
                        attributes
                    });
                    // Variables the function has but the manifest does not set are removed.
                    let mut desired_with_removals = desired.clone();
                    if let Some(f) = state.functions.get(&name) {
                        for key in f.env.keys() {
                            desired_with_removals
                                .entry(format!("env.{key}"))
                                .or_insert(Value::Null);
                        }
                    }
                    let reason_update = match live
                        .as_ref()
                        .map(|l| l.get("code_sha256") != desired.get("code_sha256"))
                    {
                        Some(true) => "the bundle's code changed",
                        _ => "the function's configuration differs from the manifest",
                    };
                    push(
                        changes,
                        ResourceKind::LambdaFunction,
                        format!("lambda.function[{admin}/{region}/{name}]"),
                        region,
                        admin,
                        response,
                        &desired_with_removals,
                        live.as_ref(),
                        ("the response runs this function", reason_update),
                    );
                    let mut desired = Attributes::new();
                    desired.insert("principal".into(), string("events.amazonaws.com"));
                    desired.insert(
                        "source_arn".into(),
                        string(rule_arn(region, admin, response)),
                    );
                    let live = state.functions.get(&name).map(|f| {
                        let mut attributes = Attributes::new();
                        if let Some((principal, source)) = &f.permission {
                            attributes.insert("principal".into(), string(principal.clone()));
                            attributes.insert("source_arn".into(), string(source.clone()));
                        }
                        attributes
                    });
                    let live = live.filter(|l| !l.is_empty());
                    push(
                        changes,
                        ResourceKind::LambdaPermission,
                        format!("lambda.permission[{admin}/{region}/{name}]"),
                        region,
                        admin,
                        response,
                        &desired,
                        live.as_ref(),
                        (
                            "EventBridge may invoke the function for this rule only",
                            "the invoke permission differs",
                        ),
                    );
                    function_arn(region, admin, response)
                }
                (ResponseAction::Sns(arn), _) | (ResponseAction::EventBus(arn), _) => arn.clone(),
                (ResponseAction::Run(_), None) => continue,
            };
            let mut desired = ownership(response);
            desired.insert(
                "event_pattern".into(),
                string(canonical(&event_pattern(&prepared.spec.when))),
            );
            desired.insert("state".into(), string("ENABLED"));
            let rule = state.rules.get(&name);
            let live = rule.map(|r| {
                let mut attributes = tags_of(&r.tags);
                attributes.insert("event_pattern".into(), string(r.pattern.clone()));
                attributes.insert("state".into(), string(r.state.clone()));
                attributes
            });
            push(
                changes,
                ResourceKind::EventsRule,
                format!("events.rule[{admin}/{region}/{name}]"),
                region,
                admin,
                response,
                &desired,
                live.as_ref(),
                (
                    "GuardDuty findings matching `when` go to the response",
                    "the rule differs from the manifest",
                ),
            );
            let mut desired = Attributes::new();
            desired.insert("arn".into(), string(target_arn));
            desired.insert(
                "retry.maximum_attempts".into(),
                json!(prepared.spec.maximum_retry_attempts),
            );
            desired.insert(
                "retry.maximum_event_age".into(),
                json!(prepared.spec.maximum_event_age_seconds),
            );
            desired.insert("dead_letter_arn".into(), string(dlq));
            let live = rule.and_then(|r| r.target.as_ref()).map(|t| {
                let mut attributes = Attributes::new();
                attributes.insert("arn".into(), string(t.arn.clone()));
                attributes.insert(
                    "retry.maximum_attempts".into(),
                    t.maximum_retry_attempts
                        .map(|v| json!(v))
                        .unwrap_or(Value::Null),
                );
                attributes.insert(
                    "retry.maximum_event_age".into(),
                    t.maximum_event_age_seconds
                        .map(|v| json!(v))
                        .unwrap_or(Value::Null),
                );
                attributes.insert(
                    "dead_letter_arn".into(),
                    t.dead_letter_arn.clone().map(string).unwrap_or(Value::Null),
                );
                attributes
            });
            let reasons = if rule.is_some() && rule.and_then(|r| r.target.as_ref()).is_none() {
                ("the rule's target is missing", "")
            } else {
                (
                    "the rule sends findings here",
                    "the target differs from the manifest",
                )
            };
            push(
                changes,
                ResourceKind::EventsTarget,
                format!("events.target[{admin}/{region}/{name}]"),
                region,
                admin,
                response,
                &desired,
                live.as_ref(),
                reasons,
            );
        }
    }

    // Resources guardform made for responses the manifest no longer has.
    let delete = |changes: &mut Vec<Change>,
                  kind: ResourceKind,
                  address: String,
                  region: &str,
                  response: &str,
                  name: &str| {
        changes.push(Change {
            address,
            kind,
            action: Action::Delete,
            account: Some(admin.to_string()),
            region: region.to_string(),
            before: [("name".to_string(), string(name))].into(),
            after: Attributes::new(),
            reason: format!("response `{response}` is no longer in the manifest"),
            requires: Some("--allow-destroy".into()),
            inputs: [("response".to_string(), response.to_string())].into(),
            content: None,
        });
    };
    for region in regions {
        let Some(state) = states.get(region) else {
            continue;
        };
        for (name, rule) in &state.rules {
            let Some(response) = rule
                .tags
                .get(RESPONSE_TAG_KEY)
                .filter(|r| owned(&rule.tags, r))
            else {
                continue;
            };
            if wanted.contains(response.as_str()) {
                continue;
            }
            if rule.target.is_some() {
                delete(
                    changes,
                    ResourceKind::EventsTarget,
                    format!("events.target[{admin}/{region}/{name}]"),
                    region,
                    response,
                    name,
                );
            }
            delete(
                changes,
                ResourceKind::EventsRule,
                format!("events.rule[{admin}/{region}/{name}]"),
                region,
                response,
                name,
            );
        }
        for (name, function) in &state.functions {
            let Some(response) = function
                .tags
                .get(RESPONSE_TAG_KEY)
                .filter(|r| owned(&function.tags, r))
            else {
                continue;
            };
            if !wanted.contains(response.as_str()) {
                delete(
                    changes,
                    ResourceKind::LambdaFunction,
                    format!("lambda.function[{admin}/{region}/{name}]"),
                    region,
                    response,
                    name,
                );
            }
        }
        for (name, queue) in &state.queues {
            let Some(response) = queue
                .tags
                .get(RESPONSE_TAG_KEY)
                .filter(|r| owned(&queue.tags, r))
            else {
                continue;
            };
            if !wanted.contains(response.as_str()) {
                delete(
                    changes,
                    ResourceKind::SqsQueue,
                    format!("sqs.queue[{admin}/{region}/{name}]"),
                    region,
                    response,
                    name,
                );
            }
        }
    }
    for (name, role) in roles {
        let Some(response) = role
            .tags
            .get(RESPONSE_TAG_KEY)
            .filter(|r| owned(&role.tags, r))
        else {
            continue;
        };
        if !wanted.contains(response.as_str()) {
            delete(
                changes,
                ResourceKind::IamRole,
                format!("iam.role[{admin}/{name}]"),
                "global",
                response,
                name,
            );
        }
    }
}

/// The full desired attributes a change was planned with.
fn desired_of(change: &Change) -> Attributes {
    change
        .inputs
        .get("desired")
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

fn text_of<'a>(attributes: &'a Attributes, key: &str) -> &'a str {
    attributes
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn ownership_tags(response: &str) -> Vec<(String, String)> {
    vec![
        (MANAGED_TAG_KEY.to_string(), MANAGED_TAG_VALUE.to_string()),
        (RESPONSE_TAG_KEY.to_string(), response.to_string()),
    ]
}

/// Creates, updates or deletes a response's IAM role.
pub async fn apply_role(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let iam = aws.iam(admin);
    let response = change.inputs.get("response").cloned().unwrap_or_default();
    let name = resource_name(&response);
    let context = |what: &str| format!("{what} {}", change.address);
    if change.action == Action::Delete {
        if let Err(error) = iam
            .delete_role_policy()
            .role_name(&name)
            .policy_name("guardform")
            .send()
            .await
            && !error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception())
        {
            return Err(AwsError::new(context("removing the policy of"), error));
        }
        iam.delete_role()
            .role_name(&name)
            .send()
            .await
            .map_err(|e| AwsError::new(context("deleting"), e))?;
        return Ok(());
    }
    let desired = desired_of(change);
    let tags: Vec<aws_sdk_iam::types::Tag> = ownership_tags(&response)
        .into_iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    if change.action == Action::Create {
        iam.create_role()
            .role_name(&name)
            .path(ROLE_PATH)
            .assume_role_policy_document(text_of(&desired, "trust_policy"))
            .description(format!("guardform: execution role of response {response}"))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::new(context("creating"), e))?;
    } else {
        if change.after.contains_key("trust_policy") {
            iam.update_assume_role_policy()
                .role_name(&name)
                .policy_document(text_of(&desired, "trust_policy"))
                .send()
                .await
                .map_err(|e| AwsError::new(context("updating the trust policy of"), e))?;
        }
        iam.tag_role()
            .role_name(&name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::new(context("tagging"), e))?;
    }
    if change.action == Action::Create || change.after.contains_key("policy") {
        iam.put_role_policy()
            .role_name(&name)
            .policy_name("guardform")
            .policy_document(text_of(&desired, "policy"))
            .send()
            .await
            .map_err(|e| AwsError::new(context("writing the policy of"), e))?;
    }
    Ok(())
}

/// Waits until a function can take the next change (State Active, no update in progress).
async fn wait_for_function(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    context: &str,
) -> Result<(), AwsError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let config = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| AwsError::new(format!("reading {context}"), e))?;
        let state = config
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Active".to_string());
        let update = config
            .last_update_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Successful".to_string());
        if state == "Failed" || update == "Failed" {
            return Err(AwsError::message(
                format!("deploying {context}"),
                config
                    .state_reason()
                    .or(config.last_update_status_reason())
                    .unwrap_or("Lambda reports Failed")
                    .to_string(),
            ));
        }
        if state == "Active" && update != "InProgress" {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AwsError::message(
                format!("deploying {context}"),
                format!("still {state}/{update} after 180 s"),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Creates, updates or deletes a response resource in one Region. `zips` are the bundles'
/// zips by response name.
pub async fn apply_regional(
    aws: &Aws,
    admin: &str,
    region: &str,
    change: &Change,
    zips: &BTreeMap<String, Vec<u8>>,
) -> Result<(), AwsError> {
    let response = change.inputs.get("response").cloned().unwrap_or_default();
    let name = resource_name(&response);
    let desired = desired_of(change);
    let context = |what: &str| format!("{what} {}", change.address);
    match change.kind {
        ResourceKind::SqsQueue => {
            let sqs = aws.sqs(admin, region);
            let queue = queue_name(&response);
            use aws_sdk_sqs::types::QueueAttributeName as Name;
            match change.action {
                Action::Delete => {
                    let url = sqs
                        .get_queue_url()
                        .queue_name(&queue)
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("finding"), e))?;
                    sqs.delete_queue()
                        .queue_url(url.queue_url().unwrap_or_default())
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("deleting"), e))?;
                }
                Action::Create => {
                    let mut create = sqs
                        .create_queue()
                        .queue_name(&queue)
                        .attributes(Name::Policy, text_of(&desired, "policy"))
                        .attributes(Name::SqsManagedSseEnabled, "true")
                        .attributes(Name::MessageRetentionPeriod, "1209600");
                    for (k, v) in ownership_tags(&response) {
                        create = create.tags(k, v);
                    }
                    create
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("creating"), e))?;
                }
                _ => {
                    let url = sqs
                        .get_queue_url()
                        .queue_name(&queue)
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("finding"), e))?;
                    let url = url.queue_url().unwrap_or_default().to_string();
                    sqs.set_queue_attributes()
                        .queue_url(&url)
                        .attributes(Name::Policy, text_of(&desired, "policy"))
                        .attributes(Name::SqsManagedSseEnabled, "true")
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("updating"), e))?;
                    let mut tag = sqs.tag_queue().queue_url(&url);
                    for (k, v) in ownership_tags(&response) {
                        tag = tag.tags(k, v);
                    }
                    tag.send()
                        .await
                        .map_err(|e| AwsError::new(context("tagging"), e))?;
                }
            }
        }
        ResourceKind::LambdaFunction => {
            let lambda = aws.lambda(admin, region);
            if change.action == Action::Delete {
                lambda
                    .delete_function()
                    .function_name(&name)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("deleting"), e))?;
                return Ok(());
            }
            let mut environment = aws_sdk_lambda::types::Environment::builder();
            for (key, value) in &desired {
                if let (Some(variable), Some(value)) = (key.strip_prefix("env."), value.as_str()) {
                    environment = environment.variables(variable, value);
                }
            }
            let environment = environment.build();
            let memory = desired.get("memory").and_then(Value::as_i64).unwrap_or(128) as i32;
            let timeout = desired.get("timeout").and_then(Value::as_i64).unwrap_or(60) as i32;
            let zip = zips.get(&response).cloned().unwrap_or_default();
            if change.action == Action::Create {
                // A role created moments ago may not be assumable by Lambda yet (IAM is
                // eventually consistent): retry that one error for a while.
                let mut attempt = 0;
                loop {
                    let tags: std::collections::HashMap<String, String> =
                        ownership_tags(&response).into_iter().collect();
                    let result = lambda
                        .create_function()
                        .function_name(&name)
                        .runtime(aws_sdk_lambda::types::Runtime::from(text_of(
                            &desired, "runtime",
                        )))
                        .role(text_of(&desired, "role"))
                        .handler(text_of(&desired, "handler"))
                        .code(
                            aws_sdk_lambda::types::FunctionCode::builder()
                                .zip_file(aws_smithy_types::Blob::new(zip.clone()))
                                .build(),
                        )
                        .description(format!("guardform response {response}"))
                        .timeout(timeout)
                        .memory_size(memory)
                        .environment(environment.clone())
                        .set_tags(Some(tags))
                        .send()
                        .await;
                    match result {
                        Ok(_) => break,
                        Err(error)
                            if attempt < 15
                                && error.as_service_error().is_some_and(|e| {
                                    e.is_invalid_parameter_value_exception()
                                        && format!("{e:?}").contains("assume")
                                }) =>
                        {
                            attempt += 1;
                            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        }
                        Err(error) => return Err(AwsError::new(context("creating"), error)),
                    }
                }
                wait_for_function(&lambda, &name, &change.address).await?;
                return Ok(());
            }
            if change.after.contains_key("code_sha256") {
                lambda
                    .update_function_code()
                    .function_name(&name)
                    .zip_file(aws_smithy_types::Blob::new(zip))
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("updating the code of"), e))?;
                wait_for_function(&lambda, &name, &change.address).await?;
            }
            let configuration = change.after.keys().any(|k| {
                matches!(
                    k.as_str(),
                    "runtime" | "handler" | "role" | "memory" | "timeout"
                ) || k.starts_with("env.")
            });
            if configuration {
                lambda
                    .update_function_configuration()
                    .function_name(&name)
                    .runtime(aws_sdk_lambda::types::Runtime::from(text_of(
                        &desired, "runtime",
                    )))
                    .role(text_of(&desired, "role"))
                    .handler(text_of(&desired, "handler"))
                    .timeout(timeout)
                    .memory_size(memory)
                    .environment(environment)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("updating the configuration of"), e))?;
                wait_for_function(&lambda, &name, &change.address).await?;
            }
            if change.after.keys().any(|k| k.starts_with("tags.")) {
                lambda
                    .tag_resource()
                    .resource(function_arn(region, admin, &response))
                    .set_tags(Some(ownership_tags(&response).into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("tagging"), e))?;
            }
        }
        ResourceKind::LambdaPermission => {
            let lambda = aws.lambda(admin, region);
            if change.action == Action::Update {
                let _ = lambda
                    .remove_permission()
                    .function_name(&name)
                    .statement_id(STATEMENT_ID)
                    .send()
                    .await;
            }
            lambda
                .add_permission()
                .function_name(&name)
                .statement_id(STATEMENT_ID)
                .action("lambda:InvokeFunction")
                .principal("events.amazonaws.com")
                .source_arn(text_of(&desired, "source_arn"))
                .source_account(admin)
                .send()
                .await
                .map_err(|e| AwsError::new(context("granting"), e))?;
        }
        ResourceKind::EventsRule => {
            let events = aws.eventbridge(admin, region);
            if change.action == Action::Delete {
                events
                    .delete_rule()
                    .name(&name)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("deleting"), e))?;
                return Ok(());
            }
            let tags: Vec<aws_sdk_eventbridge::types::Tag> = ownership_tags(&response)
                .into_iter()
                .filter_map(|(k, v)| {
                    aws_sdk_eventbridge::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .ok()
                })
                .collect();
            events
                .put_rule()
                .name(&name)
                .event_pattern(text_of(&desired, "event_pattern"))
                .state(aws_sdk_eventbridge::types::RuleState::Enabled)
                .description(format!("guardform response {response}: GuardDuty findings"))
                .set_tags((change.action == Action::Create).then_some(tags.clone()))
                .send()
                .await
                .map_err(|e| AwsError::new(context("writing"), e))?;
            if change.action != Action::Create {
                events
                    .tag_resource()
                    .resource_arn(rule_arn(region, admin, &response))
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("tagging"), e))?;
            }
        }
        ResourceKind::EventsTarget => {
            let events = aws.eventbridge(admin, region);
            if change.action == Action::Delete {
                events
                    .remove_targets()
                    .rule(&name)
                    .ids(TARGET_ID)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("removing"), e))?;
                return Ok(());
            }
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id(TARGET_ID)
                .arn(text_of(&desired, "arn"))
                .retry_policy(
                    aws_sdk_eventbridge::types::RetryPolicy::builder()
                        .maximum_retry_attempts(
                            desired
                                .get("retry.maximum_attempts")
                                .and_then(Value::as_i64)
                                .unwrap_or(8) as i32,
                        )
                        .maximum_event_age_in_seconds(
                            desired
                                .get("retry.maximum_event_age")
                                .and_then(Value::as_i64)
                                .unwrap_or(3600) as i32,
                        )
                        .build(),
                )
                .dead_letter_config(
                    aws_sdk_eventbridge::types::DeadLetterConfig::builder()
                        .arn(text_of(&desired, "dead_letter_arn"))
                        .build(),
                )
                .build()
                .map_err(|e| AwsError::message(context("building"), e.to_string()))?;
            let output = events
                .put_targets()
                .rule(&name)
                .targets(target)
                .send()
                .await
                .map_err(|e| AwsError::new(context("writing"), e))?;
            if output.failed_entry_count() > 0 {
                let reasons: Vec<String> = output
                    .failed_entries()
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.error_code().unwrap_or_default(),
                            f.error_message().unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(AwsError::message(context("writing"), reasons.join("; ")));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(source: &str) -> When {
        let manifest = format!(
            "version: 1\norganization: {{ delegated_admin: \"222222222222\" }}\naccounts: {{ include: {{ all: true }} }}\nregions: {{ include: [eu-west-1] }}\nresponses:\n  - name: r\n    when: {source}\n    send_to: {{ sns: \"arn:aws:sns:eu-west-1:222222222222:soc\" }}\n"
        );
        let (parsed, diagnostics) = crate::manifest::check(&manifest);
        parsed
            .unwrap_or_else(|| panic!("{diagnostics:?}"))
            .responses[0]
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
}
