//! Reads the export's key and bucket (when the manifest has `export:`) and every targeted
//! Region's publishing destination (always: a removed `export:` still shows what guardform made).
//! "Not configured" answers are answers; any other error is an error, never drift.

use super::section::{ExportSpec, KeySpec};
use super::state::{BucketState, DestinationState, ExportState, KeyState};
use crate::cloud::aws::{Aws, AwsError};
use crate::kinds::{Context, MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// guardform's tag on its key naming the alias it was made for.
pub const ALIAS_TAG_KEY: &str = "guardform:alias";

/// Reads everything the export kinds plan from.
pub async fn read(context: &Context) -> Result<ExportState, AwsError> {
    let aws = context.aws.as_ref();
    let admin = context.discovery.delegated_admin.as_str();
    let spec = super::section::of(&context.manifest);
    let region = spec
        .and_then(|s| s.region.clone())
        .unwrap_or_else(|| aws.home_region());
    let destinations = crate::kinds::each_region(context, |r| read_destination(aws, admin, r));
    let (destinations, key, bucket) = match spec {
        Some(spec) => {
            let (destinations, key, bucket) = tokio::join!(
                destinations,
                read_key(aws, &spec.key, &region),
                read_bucket(aws, spec, &region)
            );
            (destinations?, key?, bucket?)
        }
        None => (destinations.await?, None, None),
    };
    Ok(ExportState {
        key,
        bucket,
        region,
        destinations: destinations
            .into_iter()
            .filter_map(|(region, d)| d.map(|d| (region, d)))
            .collect(),
    })
}

async fn read_destination(
    aws: &Aws,
    admin: &str,
    region: &str,
) -> Result<Option<DestinationState>, AwsError> {
    let Some(detector_id) = aws.detector_id(admin, region).await? else {
        return Ok(None);
    };
    let client = aws.guardduty(admin, region);
    let context = format!("{admin}/{region}");
    let listed = client
        .list_publishing_destinations()
        .detector_id(&detector_id)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("listing publishing destinations in {context}"), e))?;
    let Some(first) = listed.destinations().first() else {
        return Ok(None);
    };
    let id = first.destination_id().unwrap_or_default().to_string();
    let described = client
        .describe_publishing_destination()
        .detector_id(&detector_id)
        .destination_id(&id)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                format!("reading publishing destination {id} in {context}"),
                e,
            )
        })?;
    let properties = described.destination_properties();
    Ok(Some(DestinationState {
        id,
        destination_arn: properties
            .and_then(|p| p.destination_arn())
            .unwrap_or_default()
            .to_string(),
        kms_key_arn: properties
            .and_then(|p| p.kms_key_arn())
            .unwrap_or_default()
            .to_string(),
        status: described
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        owned: described
            .tags()
            .and_then(|t| t.get(MANAGED_TAG_KEY))
            .map(String::as_str)
            == Some(MANAGED_TAG_VALUE),
    }))
}

/// The key, by alias (or, when the alias is missing, guardform's key made for it) or by ARN.
async fn read_key(aws: &Aws, spec: &KeySpec, region: &str) -> Result<Option<KeyState>, AwsError> {
    let account = spec.account();
    let kms = aws.kms(account, region);
    let id = match spec {
        KeySpec::Alias { alias, .. } => format!("alias/{alias}"),
        KeySpec::Arn(arn) => arn.clone(),
    };
    let context = format!("{account}/{region}");
    let (arn, aliased) = match kms.describe_key().key_id(&id).send().await {
        Ok(found) => (
            found
                .key_metadata()
                .and_then(|m| m.arn())
                .unwrap_or_default()
                .to_string(),
            true,
        ),
        Err(error) if error.code() == Some("NotFoundException") => match spec {
            KeySpec::Alias { alias, .. } => match made_for(aws, account, region, alias).await? {
                Some(arn) => (arn, false),
                None => return Ok(None),
            },
            KeySpec::Arn(_) => return Ok(None),
        },
        Err(error) => {
            return Err(AwsError::new(
                format!("reading KMS key {id} in {context}"),
                error,
            ));
        }
    };
    let metadata = kms
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading KMS key {arn}"), e))?;
    let enabled = metadata.key_metadata().is_some_and(|m| {
        m.enabled() && m.key_state() == Some(&aws_sdk_kms::types::KeyState::Enabled)
    });
    let policy = kms
        .get_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading the policy of KMS key {arn}"), e))?
        .policy()
        .unwrap_or_default()
        .to_string();
    let tags = key_tags(aws, account, region, &arn).await?;
    Ok(Some(KeyState {
        arn,
        enabled,
        policy,
        owned: tags
            .iter()
            .any(|(k, v)| k == MANAGED_TAG_KEY && v == MANAGED_TAG_VALUE),
        aliased,
    }))
}

async fn key_tags(
    aws: &Aws,
    account: &str,
    region: &str,
    key: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let output = aws
        .kms(account, region)
        .list_resource_tags()
        .key_id(key)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading the tags of KMS key {key}"), e))?;
    Ok(output
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect())
}

/// guardform's key made for `alias` whose alias was never created (a killed apply), found by
/// its tags. Only looked for when the alias is missing.
async fn made_for(
    aws: &Aws,
    account: &str,
    region: &str,
    alias: &str,
) -> Result<Option<String>, AwsError> {
    let mut pages = aws.kms(account, region).list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::new(format!("listing KMS keys in {account}/{region}"), e))?;
        for key in page.keys() {
            let Some(arn) = key.key_arn() else { continue };
            let tags = key_tags(aws, account, region, arn).await?;
            let wanted = format!("alias/{alias}");
            if tags
                .iter()
                .any(|(k, v)| k == MANAGED_TAG_KEY && v == MANAGED_TAG_VALUE)
                && tags.iter().any(|(k, v)| k == ALIAS_TAG_KEY && *v == wanted)
            {
                return Ok(Some(arn.to_string()));
            }
        }
    }
    Ok(None)
}

async fn read_bucket(
    aws: &Aws,
    spec: &ExportSpec,
    region: &str,
) -> Result<Option<BucketState>, AwsError> {
    let (account, bucket) = (spec.bucket_account.as_str(), spec.bucket.as_str());
    let s3 = aws.s3(account, region);
    let what = |thing: &str| format!("reading the {thing} of bucket {bucket} as {account}");
    if let Err(error) = s3.head_bucket().bucket(bucket).send().await {
        if error.raw_response().map(|r| r.status().as_u16()) == Some(404) {
            return Ok(None);
        }
        return Err(crate::cloud::s3::head_bucket_error(bucket, account, error));
    }
    let owned = match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(output) => output
            .tag_set()
            .iter()
            .any(|t| t.key() == MANAGED_TAG_KEY && t.value() == MANAGED_TAG_VALUE),
        Err(error) if error.code() == Some("NoSuchTagSet") => false,
        Err(error) => return Err(AwsError::new(what("tags"), error)),
    };
    let public_access_blocked = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(output) => output.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(error) if error.code() == Some("NoSuchPublicAccessBlockConfiguration") => false,
        Err(error) => return Err(AwsError::new(what("public access block"), error)),
    };
    let encryption = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(output) => output
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| match d.kms_master_key_id() {
                Some(key) => format!("{} {key}", d.sse_algorithm().as_str()),
                None => d.sse_algorithm().as_str().to_string(),
            })
            .unwrap_or_else(|| "none".into()),
        Err(error) if error.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            "none".into()
        }
        Err(error) => return Err(AwsError::new(what("encryption"), error)),
    };
    let policy = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(output) => output.policy().map(str::to_string),
        Err(error) if error.code() == Some("NoSuchBucketPolicy") => None,
        Err(error) => return Err(AwsError::new(what("policy"), error)),
    };
    Ok(Some(BucketState {
        owned,
        public_access_blocked,
        encryption,
        policy,
    }))
}
