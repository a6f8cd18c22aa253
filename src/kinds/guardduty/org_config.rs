//! `guardduty.org_config[REGION]`: the organization's auto-enable settings, written by the
//! delegated administrator.

use super::features::{
    attribute, compare, feature_attributes, features_of, observed_feature_attributes,
    org_feature_configs, requests,
};
use super::organization_admin;
use super::state::RegionState;
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::{change, string};
use crate::manifest::Manifest;
use aws_sdk_guardduty::types::AutoEnableMembers;

/// The type name.
pub const TYPE: &str = "guardduty.org_config";

/// The address in `region`.
pub fn address(region: &str) -> String {
    format!("{TYPE}[{region}]")
}

/// Desired organization configuration: members auto-enabled as the manifest says; enabled
/// features auto-enabled for new members (all members with `ALL`), disabled ones not.
pub fn desired(manifest: &Manifest) -> Attributes {
    let auto_enable = manifest.organization.auto_enable.clone();
    let for_enabled = if auto_enable == "ALL" { "ALL" } else { "NEW" };
    let mut attributes = feature_attributes(super::section::of(manifest), |enabled| {
        if enabled {
            for_enabled.to_string()
        } else {
            "NONE".to_string()
        }
    });
    // Per-feature settings (`auto_enable: { FEATURE: ... }`) win; a feature's additional
    // configurations not named follow the feature's own value.
    for (name, setting) in &manifest.organization.auto_enable_features {
        let feature = format!("features.{name}");
        let extras: Vec<String> = attributes
            .keys()
            .filter_map(|k| {
                k.strip_prefix(&format!("{feature}.additional."))
                    .map(str::to_string)
            })
            .chain(setting.additional.keys().cloned())
            .collect();
        for extra in extras {
            let value = setting
                .additional
                .get(&extra)
                .unwrap_or(&setting.auto_enable);
            attributes.insert(
                format!("{feature}.additional.{extra}"),
                string(value.clone()),
            );
        }
        attributes.insert(feature, string(setting.auto_enable.clone()));
    }
    attributes.insert(
        "auto_enable_organization_members".into(),
        string(auto_enable),
    );
    attributes
}

/// The change that brings the configuration to the manifest's, if one is needed.
pub fn plan(
    manifest: &Manifest,
    discovery: &Discovery,
    region: &str,
    state: &RegionState,
) -> Option<Change> {
    let desired = desired(manifest);
    let admin = discovery.delegated_admin.as_str();
    let config = match &state.org_config {
        Some(config) if organization_admin::enabled(discovery, state) => config,
        _ => {
            let mut c = change(
                TYPE,
                address(region),
                Action::Create,
                None,
                region,
                format!(
                    "{admin} is not yet the administrator in {region}, so the organization configuration is not set"
                ),
            );
            c.after = desired.into();
            return Some(c);
        }
    };
    let mut observed = observed_feature_attributes(&config.features);
    observed.insert(
        "auto_enable_organization_members".into(),
        string(config.auto_enable_organization_members.clone()),
    );
    let (before, after) = compare(&desired, &observed);
    if after.is_empty() {
        return None;
    }
    let mut c = change(
        TYPE,
        address(region),
        Action::Update,
        None,
        region,
        "organization auto-enable settings differ from the manifest",
    );
    c.before = before.into();
    c.after = after.into();
    Some(c)
}

/// Writes the organization configuration.
pub async fn apply(aws: &Aws, discovery: &Discovery, change: &Change) -> Result<(), AwsError> {
    let admin = discovery.delegated_admin.as_str();
    let Some(detector_id) = aws.current_detector_id(admin, &change.region).await? else {
        return Err(AwsError::message(
            format!("updating {}", change.address),
            format!(
                "the administrator {admin} has no detector in {}",
                change.region
            ),
        ));
    };
    let features = features_of(&change.after);
    // Runtime Monitoring and its EKS predecessor go in separate requests, new one first.
    let mut members =
        attribute(&change.after, "auto_enable_organization_members").map(AutoEnableMembers::from);
    for part in requests(features) {
        aws.guardduty(admin, &change.region)
            .update_organization_configuration()
            .detector_id(&detector_id)
            .set_auto_enable_organization_members(members.take())
            .set_features((!part.is_empty()).then(|| org_feature_configs(&part)))
            .send()
            .await
            .map_err(|e| AwsError::new(format!("updating {}", change.address), e))?;
    }
    Ok(())
}
