//! `s3.bucket[NAME]`: the bucket IP list files are stored in, in the delegated administrator
//! account: public access blocked, encrypted at rest.

use super::state::StorageState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::ip_lists::section::Storage;
use crate::kinds::{change, differing, string};

/// The type name.
pub const TYPE: &str = "s3.bucket";

/// The address of `bucket`.
pub fn address(bucket: &str) -> String {
    format!("{TYPE}[{bucket}]")
}

/// The bucket, created or fixed when it is not as guardform wants it.
/// `region` is the bucket's (the manifest's, or the home Region).
pub fn plan(storage: &Storage, region: &str, admin: &str, state: &StorageState) -> Option<Change> {
    let mut desired = Attributes::new();
    desired.insert("public_access_block".into(), string("all blocked"));
    desired.insert("encryption".into(), string("enabled"));
    let mut live = Attributes::new();
    if state.bucket_exists {
        live.insert(
            "public_access_block".into(),
            string(if state.public_access_blocked {
                "all blocked"
            } else {
                "not fully blocked"
            }),
        );
        live.insert(
            "encryption".into(),
            string(if state.encrypted { "enabled" } else { "none" }),
        );
    }
    let (before, after) = differing(&desired, &live);
    if after.is_empty() {
        return None;
    }
    let (action, reason) = if state.bucket_exists {
        (
            Action::Update,
            "the list bucket must block public access and encrypt at rest",
        )
    } else {
        (Action::Create, "the list bucket does not exist")
    };
    let mut c = change(
        TYPE,
        address(&storage.bucket),
        action,
        Some(admin),
        region,
        reason,
    );
    c.before = before.into();
    c.after = after.into();
    c.inputs.insert("bucket".into(), storage.bucket.clone());
    Some(c)
}

/// Creates the bucket if needed, blocks public access and turns on encryption.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let bucket = change.inputs.get("bucket").cloned().unwrap_or_default();
    let s3 = aws.s3(admin, &change.region);
    if change.action == Action::Create {
        crate::cloud::s3::create_bucket(&s3, &bucket, &change.region)
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("creating bucket {bucket} in {admin}/{}", change.region),
                    e,
                )
            })?;
    }
    crate::cloud::s3::block_public_access(&s3, &bucket)
        .await
        .map_err(|e| AwsError::new(format!("blocking public access to bucket {bucket}"), e))?;
    let rule = aws_sdk_s3::types::ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| AwsError::message("configuring bucket encryption", e.to_string()))?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| AwsError::message("configuring bucket encryption", e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::new(format!("turning on encryption of bucket {bucket}"), e))?;
    Ok(())
}
