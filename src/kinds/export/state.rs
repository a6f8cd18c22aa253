//! What the export kinds read: the key, the bucket and each Region's publishing destination.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The export's KMS key, when it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    pub arn: String,
    pub enabled: bool,
    /// The `default` key policy, as KMS returns it.
    pub policy: String,
    /// guardform made it (its tag).
    pub owned: bool,
    /// The alias points at it (false: guardform's key, found by its tag, whose alias was never
    /// made, as when an apply was killed between CreateKey and CreateAlias).
    pub aliased: bool,
}

/// The export's bucket, when it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketState {
    /// guardform made it (its tag).
    pub owned: bool,
    pub public_access_blocked: bool,
    /// `none`, `AES256`, or `aws:kms KEY-ARN`.
    pub encryption: String,
    /// The bucket policy, when there is one.
    pub policy: Option<String>,
}

/// One Region's publishing destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationState {
    pub id: String,
    pub destination_arn: String,
    pub kms_key_arn: String,
    /// `PUBLISHING`, `UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY`, `STOPPED`, ...
    pub status: String,
    pub owned: bool,
}

/// Everything the export kinds read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExportState {
    pub key: Option<KeyState>,
    pub bucket: Option<BucketState>,
    /// The bucket's Region (the manifest's, or the home Region).
    pub region: String,
    /// Each targeted Region's destination, where the administrator has one.
    pub destinations: BTreeMap<String, DestinationState>,
}
