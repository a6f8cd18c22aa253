//! `guardduty.publishing_destination[ADMIN/REGION]`: the administrator detector's findings
//! export in one Region, created tagged as guardform's and updated in place. Its status is
//! read: a destination that cannot publish shows in the plan with what GuardDuty says.

use super::key::{self, KNOWN_AFTER_APPLY};
use super::section::ExportSpec;
use super::state::{DestinationState, ExportState};
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, differing, string, text};
use serde_json::Value;

pub const TYPE: &str = "guardduty.publishing_destination";

/// The address of the destination of `admin`'s detector in `region`.
pub fn address(admin: &str, region: &str) -> String {
    format!("{TYPE}[{admin}/{region}]")
}

/// `arn:aws:s3:::BUCKET[/PREFIX]`, what GuardDuty is given.
pub fn destination_arn(spec: &ExportSpec) -> String {
    if spec.prefix.is_empty() {
        format!("arn:aws:s3:::{}", spec.bucket)
    } else {
        format!("arn:aws:s3:::{}/{}", spec.bucket, spec.prefix)
    }
}

fn live_attributes(live: &DestinationState) -> Attributes {
    Attributes::from([
        (
            "destination_arn".to_string(),
            string(live.destination_arn.clone()),
        ),
        ("kms_key_arn".to_string(), string(live.kms_key_arn.clone())),
    ])
}

/// The change of one Region's destination, if any.
pub fn plan(
    spec: Option<&ExportSpec>,
    state: &ExportState,
    admin: &str,
    region: &str,
    conflicts: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Option<Change> {
    let live = state.destinations.get(region);
    if let Some(live) = live
        && live.status != "PUBLISHING"
        && spec.is_some()
    {
        notes.push(format!(
            "{region}: GuardDuty cannot publish findings to {} ({}): it needs the bucket policy and the key policy guardform writes, the bucket and the key in one Region, and the key enabled",
            live.destination_arn, live.status
        ));
    }
    let Some(spec) = spec else {
        let live = live.filter(|l| l.owned)?;
        let mut c = change(
            TYPE,
            address(admin, region),
            Action::Delete,
            Some(admin),
            region,
            "`export` is no longer in the manifest (the bucket, its findings and the key are kept)",
        );
        c.before = live_attributes(live).into();
        c.requires = Some("--allow-destroy".into());
        c.inputs.insert("destination_id".into(), live.id.clone());
        return Some(c);
    };
    let desired = Attributes::from([
        ("destination_arn".to_string(), string(destination_arn(spec))),
        ("kms_key_arn".to_string(), string(key::arn(state))),
    ]);
    let mut c = match live {
        None => {
            let mut c = change(
                TYPE,
                address(admin, region),
                Action::Create,
                Some(admin),
                region,
                "the administrator's detector does not export findings here yet",
            );
            c.after = desired.into();
            c
        }
        Some(live) => {
            if !live.owned && !spec.adopt {
                conflicts.push(format!(
                    "{admin}/{region}: the detector already exports findings to {} and guardform did not set that up\n  hint: add `adopt: true` under `export` to take it over (GuardDuty allows one destination per detector)",
                    live.destination_arn
                ));
                return None;
            }
            let (mut before, mut after) = differing(&desired, &live_attributes(live));
            if !live.owned {
                before.insert(format!("tags.{MANAGED_TAG_KEY}"), Value::Null);
                after.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
            }
            if after.is_empty() {
                return None;
            }
            let mut c = change(
                TYPE,
                address(admin, region),
                Action::Update,
                Some(admin),
                region,
                "differs from the manifest",
            );
            c.before = before.into();
            c.after = after.into();
            c.inputs.insert("destination_id".into(), live.id.clone());
            c
        }
    };
    c.inputs.insert("kms_key_arn".into(), key::arn(state));
    Some(c)
}

/// Creates, updates or deletes the destination.
pub async fn apply(
    aws: &Aws,
    spec: Option<&ExportSpec>,
    admin: &str,
    c: &Change,
) -> Result<(), AwsError> {
    let region = c.region.as_str();
    let context = format!("{admin}/{region}");
    let detector_id = aws
        .required_detector_id(admin, region, &format!("exporting findings in {context}"))
        .await?;
    let client = aws.guardduty(admin, region);
    let id = c.inputs.get("destination_id").cloned().unwrap_or_default();
    if c.action == Action::Delete {
        client
            .delete_publishing_destination()
            .detector_id(&detector_id)
            .destination_id(&id)
            .send()
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("deleting the publishing destination in {context}"),
                    e,
                )
            })?;
        return Ok(());
    }
    let Some(spec) = spec else {
        return Err(AwsError::message(
            format!("exporting findings in {context}"),
            "the manifest has no `export`",
        ));
    };
    let planned = c
        .inputs
        .get("kms_key_arn")
        .map(String::as_str)
        .unwrap_or(KNOWN_AFTER_APPLY);
    let key_arn = key::resolve(aws, &spec.key, &super::export_region(aws, spec), planned).await?;
    let properties = aws_sdk_guardduty::types::DestinationProperties::builder()
        .destination_arn(destination_arn(spec))
        .kms_key_arn(key_arn)
        .build();
    if c.action == Action::Create {
        client
            .create_publishing_destination()
            .detector_id(&detector_id)
            .destination_type(aws_sdk_guardduty::types::DestinationType::S3)
            .destination_properties(properties)
            .tags(MANAGED_TAG_KEY, MANAGED_TAG_VALUE)
            .send()
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("creating the publishing destination in {context}"),
                    e,
                )
            })?;
        return Ok(());
    }
    if c.after.contains_key(&format!("tags.{MANAGED_TAG_KEY}")) {
        client
            .tag_resource()
            .resource_arn(format!("arn:aws:guardduty:{region}:{admin}:detector/{detector_id}/publishingDestination/{id}"))
            .tags(MANAGED_TAG_KEY, MANAGED_TAG_VALUE)
            .send()
            .await
            .map_err(|e| AwsError::new(format!("tagging the publishing destination in {context}"), e))?;
    }
    if !text(&c.after, "destination_arn").is_empty() || !text(&c.after, "kms_key_arn").is_empty() {
        client
            .update_publishing_destination()
            .detector_id(&detector_id)
            .destination_id(&id)
            .destination_properties(properties)
            .send()
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("updating the publishing destination in {context}"),
                    e,
                )
            })?;
    }
    Ok(())
}
