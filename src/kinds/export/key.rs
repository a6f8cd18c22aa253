//! `kms.key[...]`: the key GuardDuty encrypts exported findings with. A key named by alias is
//! created (tagged in the call) when missing; guardform adds its statement to the key policy of
//! any key and never removes another.

use super::documents::{canonical, key_owner_statement, key_statements, merged};
use super::read::ALIAS_TAG_KEY;
use super::section::{ExportSpec, KeySpec};
use super::state::ExportState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, differing, string, text};
use serde_json::{Value, json};

pub const TYPE: &str = "kms.key";

/// What the plan shows for a value only known once apply has made the key.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// The address of the export's key.
pub fn address(spec: &KeySpec, region: &str) -> String {
    match spec {
        KeySpec::Alias { account, alias } => format!("{TYPE}[{account}/{region}/alias/{alias}]"),
        KeySpec::Arn(arn) => format!("{TYPE}[{arn}]"),
    }
}

/// The key's ARN, or [`KNOWN_AFTER_APPLY`] when apply creates it.
pub fn arn(state: &ExportState) -> String {
    state
        .key
        .as_ref()
        .map(|k| k.arn.clone())
        .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string())
}

/// The key's change, if any; what no plan resolves goes to `conflicts`, what people should
/// know to `notes`.
pub fn plan(
    spec: &ExportSpec,
    state: &ExportState,
    admin: &str,
    regions: &[String],
    conflicts: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Option<Change> {
    let region = state.region.as_str();
    let ours = key_statements(admin, regions);
    let account = spec.key.account();
    let mut c = match (&state.key, &spec.key) {
        (None, KeySpec::Arn(arn)) => {
            conflicts.push(format!(
                "the KMS key {arn} named by `export.kms_key` does not exist (or cannot be read)"
            ));
            return None;
        }
        (None, KeySpec::Alias { alias, .. }) => {
            let mut statements = vec![key_owner_statement(account)];
            statements.extend(ours);
            let policy = json!({"Version": "2012-10-17", "Statement": statements});
            let mut c = change(
                TYPE,
                address(&spec.key, region),
                Action::Create,
                Some(account),
                region,
                "the export's KMS key does not exist",
            );
            c.after = Attributes::from([
                ("alias".to_string(), string(format!("alias/{alias}"))),
                ("policy".to_string(), string(canonical(&policy))),
            ])
            .into();
            c
        }
        (Some(key), _) => {
            if !key.enabled {
                notes.push(format!("the export's KMS key {} is not enabled: GuardDuty cannot encrypt findings with it\n  hint: enable the key (guardform does not turn keys on or off)", key.arn));
            }
            let live_policy = serde_json::from_str::<Value>(&key.policy)
                .map(|p| canonical(&p))
                .unwrap_or_else(|_| key.policy.clone());
            let desired = Attributes::from([(
                "policy".to_string(),
                string(canonical(&merged(Some(&key.policy), &ours))),
            )]);
            let live = Attributes::from([("policy".to_string(), string(live_policy))]);
            let (mut before, mut after) = differing(&desired, &live);
            if let (false, KeySpec::Alias { alias, .. }) = (key.aliased, &spec.key) {
                before.insert("alias".into(), Value::Null);
                after.insert("alias".into(), string(format!("alias/{alias}")));
            }
            if after.is_empty() {
                return None;
            }
            let reason = if key.owned {
                "differs from the manifest"
            } else {
                "guardform adds its statement to this key's policy (others are kept)"
            };
            let mut c = change(
                TYPE,
                address(&spec.key, region),
                Action::Update,
                Some(account),
                region,
                reason,
            );
            c.before = before.into();
            c.after = after.into();
            c.inputs.insert("key_arn".into(), key.arn.clone());
            c
        }
    };
    c.inputs.insert("account".into(), account.to_string());
    Some(c)
}

/// The key's ARN now: what the plan knew, or the alias's target (made earlier in this apply).
pub async fn resolve(
    aws: &Aws,
    spec: &KeySpec,
    region: &str,
    planned: &str,
) -> Result<String, AwsError> {
    if planned != KNOWN_AFTER_APPLY {
        return Ok(planned.to_string());
    }
    let id = match spec {
        KeySpec::Alias { alias, .. } => format!("alias/{alias}"),
        KeySpec::Arn(arn) => return Ok(arn.clone()),
    };
    let found = aws
        .kms(spec.account(), region)
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                format!("reading KMS key {id} in {}/{region}", spec.account()),
                e,
            )
        })?;
    Ok(found
        .key_metadata()
        .and_then(|m| m.arn())
        .unwrap_or_default()
        .to_string())
}

/// Creates the key (tagged as guardform's, with the alias it is for, in the call) and its
/// alias, or puts its policy and makes a missing alias.
pub async fn apply(aws: &Aws, c: &Change) -> Result<(), AwsError> {
    let account = c
        .inputs
        .get("account")
        .map(String::as_str)
        .unwrap_or_default();
    let region = c.region.as_str();
    let kms = aws.kms(account, region);
    let alias = text(&c.after, "alias");
    let policy = c.after.get("policy").and_then(Value::as_str);
    let tag = |key: &str, value: &str| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(key)
            .tag_value(value)
            .build()
            .map_err(|e| AwsError::message("tagging the KMS key", e.to_string()))
    };
    let key = if c.action == Action::Create {
        let created = kms
            .create_key()
            .description(format!("guardform: GuardDuty findings export ({alias})"))
            .set_policy(policy.map(str::to_string))
            .tags(tag(MANAGED_TAG_KEY, MANAGED_TAG_VALUE)?)
            .tags(tag(ALIAS_TAG_KEY, alias)?)
            .send()
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("creating the export's KMS key in {account}/{region}"),
                    e,
                )
            })?;
        created
            .key_metadata()
            .and_then(|m| m.arn())
            .unwrap_or_default()
            .to_string()
    } else {
        let key = c.inputs.get("key_arn").cloned().unwrap_or_default();
        if let Some(policy) = policy {
            kms.put_key_policy()
                .key_id(&key)
                .policy_name("default")
                .policy(policy)
                .send()
                .await
                .map_err(|e| AwsError::new(format!("putting the policy of KMS key {key}"), e))?;
        }
        key
    };
    if !alias.is_empty() {
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&key)
            .send()
            .await
            .map_err(|e| AwsError::new(format!("creating {alias} for KMS key {key}"), e))?;
    }
    Ok(())
}
