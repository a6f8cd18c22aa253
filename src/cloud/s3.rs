//! S3 calls more than one kind makes the same way.

use crate::cloud::aws::AwsError;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
};

type Failed<E> = SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>;

/// Creates `bucket` in `region` (us-east-1 takes no location constraint).
pub async fn create_bucket(
    s3: &Client,
    bucket: &str,
    region: &str,
) -> Result<(), Failed<CreateBucketError>> {
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.map(|_| ())
}

/// Blocks every kind of public access to `bucket`.
pub async fn block_public_access(
    s3: &Client,
    bucket: &str,
) -> Result<(), Failed<PutPublicAccessBlockError>> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
}

/// The error of a HeadBucket that did not answer 404. A HEAD response has no body, so a
/// refusal reaches the SDK without an error code: say what it means (HeadBucket is authorized
/// as `s3:ListBucket`).
pub fn head_bucket_error<E>(bucket: &str, account: &str, error: Failed<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let context = format!("reading bucket {bucket} as {account}");
    match error.raw_response().map(|r| r.status().as_u16()) {
        Some(403) => AwsError::message(
            context,
            format!(
                "AccessDenied (HTTP 403 to HeadBucket): {account} may not s3:ListBucket on arn:aws:s3:::{bucket}"
            ),
        ),
        _ => AwsError::new(context, error),
    }
}
