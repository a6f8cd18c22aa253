//! `s3.export_bucket[NAME]`: the bucket GuardDuty exports findings to, typically in the log
//! archive account. One guardform creates gets public access blocked, default encryption with
//! the export's key, a tag saying it is guardform's, and the policy; on one it did not create,
//! guardform only adds its statements (by `Sid`) to the policy and keeps every other.

use super::documents::{bucket_statements, canonical, merged};
use super::key::{self, KNOWN_AFTER_APPLY};
use super::section::ExportSpec;
use super::state::ExportState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, differing, string};
use serde_json::Value;

pub const TYPE: &str = "s3.export_bucket";

/// The address of the export bucket.
pub fn address(bucket: &str) -> String {
    format!("{TYPE}[{bucket}]")
}

fn encryption(key_arn: &str) -> String {
    format!("aws:kms {key_arn}")
}

/// The bucket's change, if any; gaps on a bucket guardform did not create go to `notes`.
pub fn plan(
    spec: &ExportSpec,
    state: &ExportState,
    admin: &str,
    regions: &[String],
    notes: &mut Vec<String>,
) -> Option<Change> {
    let ours = bucket_statements(&spec.bucket, &spec.prefix, admin, regions);
    let live_policy = state.bucket.as_ref().and_then(|b| b.policy.as_deref());
    let policy = string(canonical(&merged(live_policy, &ours)));
    let key_arn = key::arn(state);
    let mut desired = Attributes::from([("policy".to_string(), policy)]);
    let (action, reason, live) = match &state.bucket {
        None => (
            Action::Create,
            "the export bucket does not exist",
            Attributes::new(),
        ),
        Some(bucket) => {
            let mut live = Attributes::new();
            if let Some(text) = &bucket.policy {
                let shown = serde_json::from_str::<Value>(text)
                    .map(|p| canonical(&p))
                    .unwrap_or_else(|_| text.clone());
                live.insert("policy".into(), string(shown));
            }
            if bucket.owned {
                live.insert(
                    "public_access_block".into(),
                    string(if bucket.public_access_blocked {
                        "all blocked"
                    } else {
                        "not fully blocked"
                    }),
                );
                live.insert("encryption".into(), string(bucket.encryption.clone()));
            } else {
                if !bucket.public_access_blocked {
                    notes.push(format!("the export bucket {} does not block all public access; guardform did not create it and leaves that to its owner", spec.bucket));
                }
                if bucket.encryption == "none" {
                    notes.push(format!("the export bucket {} has no default encryption; GuardDuty encrypts what it writes with the export's key", spec.bucket));
                }
            }
            let reason = if bucket.owned {
                "differs from the manifest"
            } else {
                "guardform adds its statements to this bucket's policy (others are kept)"
            };
            (Action::Update, reason, live)
        }
    };
    if state.bucket.as_ref().is_none_or(|b| b.owned) {
        desired.insert("public_access_block".into(), string("all blocked"));
        desired.insert("encryption".into(), string(encryption(&key_arn)));
    }
    let (before, after) = differing(&desired, &live);
    if after.is_empty() {
        return None;
    }
    let mut c = change(
        TYPE,
        address(&spec.bucket),
        action,
        Some(&spec.bucket_account),
        &state.region,
        reason,
    );
    c.before = before.into();
    c.after = after.into();
    c.inputs.insert("bucket".into(), spec.bucket.clone());
    c.inputs
        .insert("account".into(), spec.bucket_account.clone());
    c.inputs.insert("key_arn".into(), key_arn);
    Some(c)
}

/// Creates the bucket (tagged right away) and sets what the change says.
pub async fn apply(aws: &Aws, spec: &ExportSpec, c: &Change) -> Result<(), AwsError> {
    let (bucket, account) = (spec.bucket.as_str(), spec.bucket_account.as_str());
    let region = c.region.as_str();
    let s3 = aws.s3(account, region);
    let failed = |what: &str| format!("{what} bucket {bucket} in {account}/{region}");
    if c.action == Action::Create {
        crate::cloud::s3::create_bucket(&s3, bucket, region)
            .await
            .map_err(|e| AwsError::new(failed("creating"), e))?;
        let tag = aws_sdk_s3::types::Tag::builder()
            .key(MANAGED_TAG_KEY)
            .value(MANAGED_TAG_VALUE)
            .build()
            .map_err(|e| AwsError::message(failed("tagging"), e.to_string()))?;
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .tag_set(tag)
            .build()
            .map_err(|e| AwsError::message(failed("tagging"), e.to_string()))?;
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| AwsError::new(failed("tagging"), e))?;
    }
    if c.after.contains_key("public_access_block") {
        crate::cloud::s3::block_public_access(&s3, bucket)
            .await
            .map_err(|e| AwsError::new(failed("blocking public access to"), e))?;
    }
    if c.after.contains_key("encryption") {
        let planned = c
            .inputs
            .get("key_arn")
            .map(String::as_str)
            .unwrap_or(KNOWN_AFTER_APPLY);
        let key_arn = key::resolve(aws, &spec.key, region, planned).await?;
        let by_default = aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .kms_master_key_id(key_arn)
            .build()
            .map_err(|e| AwsError::message(failed("encrypting"), e.to_string()))?;
        let rule = aws_sdk_s3::types::ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(true)
            .build();
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| AwsError::message(failed("encrypting"), e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| AwsError::new(failed("turning on default encryption of"), e))?;
    }
    if let Some(policy) = c.after.get("policy").and_then(Value::as_str) {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map_err(|e| AwsError::new(failed("putting the policy of"), e))?;
    }
    Ok(())
}
