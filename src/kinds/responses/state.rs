//! Response wiring as read: rules with their targets, functions with their permission, queues
//! (per Region), roles (IAM is global), and the bundles' code as it is now.

use super::bundles::Bundle;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// The role EventBridge delivers with (targets in another account or Region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
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
    /// The ARN of the role's permissions boundary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
}

/// Everything the response kinds read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResponsesKindState {
    /// Per targeted Region.
    pub regions: BTreeMap<String, ResponsesState>,
    /// guardform's IAM roles in the administrator account.
    pub roles: BTreeMap<String, RoleState>,
    /// The roles' permissions boundary (its document, canonical), when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// Code SHA-256 of each response's bundle now (bundles are part of the world a saved plan
    /// was built from).
    pub bundles: BTreeMap<String, String>,
    /// The bundle of each `run` response, by response name.
    #[serde(skip)]
    pub loaded: BTreeMap<String, Bundle>,
    /// What could not be read and did not matter.
    #[serde(skip)]
    pub notes: Vec<String>,
}
