//! `guardduty.detector[ACCOUNT/REGION]`: the administrator's detector (its features, finding
//! frequency and tags). An existing detector is adopted, never created again.

use super::features::{
    attribute, compare, detector_features, feature_attributes, features_of,
    observed_feature_attributes, requests, status,
};
use super::state::RegionState;
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::guardduty::section::DetectorSettings;
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, string};
use aws_sdk_guardduty::types::FindingPublishingFrequency;
use std::collections::BTreeMap;

/// The type name.
pub const TYPE: &str = "guardduty.detector";

/// The address of `account`'s detector in `region`.
pub fn address(account: &str, region: &str) -> String {
    format!("{TYPE}[{account}/{region}]")
}

/// Desired attributes of the administrator's detector.
pub fn desired(settings: &DetectorSettings) -> Attributes {
    let mut attributes = feature_attributes(settings, |enabled| status(enabled).to_string());
    attributes.insert("status".into(), string("ENABLED"));
    if let Some(frequency) = &settings.finding_publishing_frequency {
        attributes.insert(
            "finding_publishing_frequency".into(),
            string(frequency.clone()),
        );
    }
    for (key, value) in &settings.tags {
        attributes.insert(format!("tags.{key}"), string(value.clone()));
    }
    attributes.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
    attributes
}

/// The administrator's detector: created, or brought to the manifest's settings.
pub fn plan_admin(
    settings: &DetectorSettings,
    discovery: &Discovery,
    region: &str,
    state: &RegionState,
) -> Option<Change> {
    let admin = discovery.delegated_admin.as_str();
    let desired = desired(settings);
    let Some(detector) = &state.detector else {
        let mut c = change(
            TYPE,
            address(admin, region),
            Action::Create,
            Some(admin),
            region,
            format!("the administrator {admin} has no detector in {region}"),
        );
        c.after = desired.into();
        return Some(c);
    };
    let mut observed = observed_feature_attributes(&detector.features);
    observed.insert("status".into(), string(detector.status.clone()));
    observed.insert(
        "finding_publishing_frequency".into(),
        string(detector.finding_publishing_frequency.clone()),
    );
    for (key, value) in &detector.tags {
        observed.insert(format!("tags.{key}"), string(value.clone()));
    }
    let (before, after) = compare(&desired, &observed);
    if after.is_empty() {
        return None;
    }
    let adopting = !detector.tags.contains_key(MANAGED_TAG_KEY);
    let mut c = change(
        TYPE,
        address(admin, region),
        Action::Update,
        Some(admin),
        region,
        if adopting {
            format!(
                "adopting the existing detector {} and bringing it to the manifest's settings",
                detector.id
            )
        } else {
            "detector settings differ from the manifest".to_string()
        },
    );
    c.before = before.into();
    c.after = after.into();
    c.inputs.insert("detector_id".into(), detector.id.clone());
    Some(c)
}

/// Creates or updates the detector of the change's account; an existing one is adopted (also
/// one another run, or EnableOrganizationAdminAccount, created a moment ago).
pub async fn apply(aws: &Aws, change: &Change) -> Result<(), AwsError> {
    let account = change.account.clone().unwrap_or_default();
    let region = change.region.as_str();
    let client = aws.guardduty(&account, region);
    let existing = match change.inputs.get("detector_id") {
        Some(id) => Some(id.clone()),
        None => aws.current_detector_id(&account, region).await?,
    };
    let features = features_of(&change.after);
    let frequency = attribute(&change.after, "finding_publishing_frequency")
        .map(FindingPublishingFrequency::from);
    let tags: BTreeMap<String, String> = change
        .after
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("tags.")?.to_string(),
                v.as_str()?.to_string(),
            ))
        })
        .collect();
    let id = match existing {
        Some(id) => id,
        None => {
            let created = client
                .create_detector()
                .enable(true)
                .set_finding_publishing_frequency(frequency.clone())
                .set_features((!features.is_empty()).then(|| detector_features(&features)))
                .set_tags((!tags.is_empty()).then(|| tags.clone().into_iter().collect()))
                .send()
                .await;
            match created {
                Ok(output) => {
                    let id = output.detector_id().ok_or_else(|| {
                        AwsError::message(
                            format!("creating {}", change.address),
                            "CreateDetector returned no detector id",
                        )
                    })?;
                    aws.remember_detector(&account, region, id);
                    return Ok(());
                }
                Err(error) => {
                    let error = AwsError::new(format!("creating {}", change.address), error);
                    if !error.detail.contains("already exists") {
                        return Err(error);
                    }
                    aws.current_detector_id(&account, region)
                        .await?
                        .ok_or(error)?
                }
            }
        }
    };
    let enable = attribute(&change.after, "status").map(|s| s == "ENABLED");
    if enable.is_some() || frequency.is_some() || !features.is_empty() {
        // Runtime Monitoring and its EKS predecessor go in separate requests, new one first.
        let mut settings = (enable, frequency);
        for part in requests(features) {
            let (enable, frequency) = std::mem::take(&mut settings);
            client
                .update_detector()
                .detector_id(&id)
                .set_enable(enable)
                .set_finding_publishing_frequency(frequency)
                .set_features((!part.is_empty()).then(|| detector_features(&part)))
                .send()
                .await
                .map_err(|e| AwsError::new(format!("updating {}", change.address), e))?;
        }
    }
    if !tags.is_empty() {
        client
            .tag_resource()
            .resource_arn(format!(
                "arn:aws:guardduty:{region}:{account}:detector/{id}"
            ))
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::new(format!("tagging {}", change.address), e))?;
    }
    Ok(())
}
