//! What the response resources share: their ownership tags, the way a change is built from
//! desired and live attributes, and the desired attributes a change carries to apply.

use super::bundles::Bundle;
use super::names::RESPONSE_TAG_KEY;
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::responses::section::ResponseSpec;
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, differing, string};
use serde_json::Value;
use std::collections::BTreeMap;

/// A response entry of the manifest with its bundle (for `run`).
pub struct Prepared<'a> {
    pub spec: &'a ResponseSpec,
    pub bundle: Option<&'a Bundle>,
}

/// The ownership attributes of a response's resources.
pub fn ownership(response: &str) -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
    attributes.insert(format!("tags.{RESPONSE_TAG_KEY}"), string(response));
    attributes
}

/// The ownership tags, for create calls.
pub fn ownership_tags(response: &str) -> Vec<(String, String)> {
    vec![
        (MANAGED_TAG_KEY.to_string(), MANAGED_TAG_VALUE.to_string()),
        (RESPONSE_TAG_KEY.to_string(), response.to_string()),
    ]
}

/// Live tags as attributes.
pub fn tags_of(tags: &BTreeMap<String, String>) -> Attributes {
    tags.iter()
        .map(|(k, v)| (format!("tags.{k}"), string(v.clone())))
        .collect()
}

/// The response guardform made a resource with these tags for, if it did.
pub fn owner(tags: &BTreeMap<String, String>) -> Option<&str> {
    let response = tags.get(RESPONSE_TAG_KEY)?;
    (tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE))
        .then_some(response.as_str())
}

/// Where a response resource is and why it would change.
pub struct Target<'a> {
    pub kind: &'static str,
    pub address: String,
    pub region: &'a str,
    pub admin: &'a str,
    pub response: &'a str,
    /// Why to create it, and why to update it.
    pub reasons: (&'a str, &'a str),
}

/// The change that brings a resource from `live` (absent: create) to `desired`, if any. The
/// full desired attributes travel in the `desired` input: apply writes whole resources.
pub fn push(
    changes: &mut Vec<Change>,
    target: Target<'_>,
    desired: &Attributes,
    live: Option<&Attributes>,
) {
    let (before, after) = match live {
        None => (Attributes::new(), desired.clone()),
        Some(live) => differing(desired, live),
    };
    if after.is_empty() {
        return;
    }
    let (action, reason) = match live {
        Some(_) => (Action::Update, target.reasons.1),
        None => (Action::Create, target.reasons.0),
    };
    changes.push(Change {
        address: target.address,
        kind: target.kind.to_string(),
        action,
        account: Some(target.admin.to_string()),
        region: target.region.to_string(),
        before: before.into(),
        after: after.into(),
        reason: reason.to_string(),
        requires: None,
        inputs: [
            ("response".to_string(), target.response.to_string()),
            (
                "desired".to_string(),
                serde_json::to_string(desired).unwrap_or_default(),
            ),
        ]
        .into(),
        content: None,
    });
}

/// The removal of a resource guardform made for a response the manifest no longer has.
pub fn removal(
    kind: &str,
    address: String,
    admin: &str,
    region: &str,
    response: &str,
    name: &str,
) -> Change {
    Change {
        address,
        kind: kind.to_string(),
        action: Action::Delete,
        account: Some(admin.to_string()),
        region: region.to_string(),
        before: Attributes::from([("name".to_string(), string(name))]).into(),
        after: Default::default(),
        reason: format!("response `{response}` is no longer in the manifest"),
        requires: Some("--allow-destroy".into()),
        inputs: [("response".to_string(), response.to_string())].into(),
        content: None,
    }
}

/// The result of a delete: done, also when the resource is already gone (`gone` says which
/// service error means that: another run removed it).
pub fn deleted<T, E, R>(
    result: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    gone: impl Fn(&E) -> bool,
    context: String,
) -> Result<(), crate::cloud::aws::AwsError>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.as_service_error().is_some_and(&gone) => Ok(()),
        Err(error) => Err(crate::cloud::aws::AwsError::new(context, error)),
    }
}

/// The full desired attributes a change was planned with.
pub fn desired_of(change: &Change) -> Attributes {
    change
        .inputs
        .get("desired")
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

/// The response a change belongs to.
pub fn response_of(change: &Change) -> String {
    change.inputs.get("response").cloned().unwrap_or_default()
}

/// A number attribute.
pub fn number(attributes: &Attributes, key: &str, default: i64) -> i32 {
    attributes
        .get(key)
        .and_then(Value::as_i64)
        .unwrap_or(default) as i32
}
