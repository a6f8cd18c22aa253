//! Features as flat attributes (`features.X`, `features.X.additional.Y`), compared and turned
//! into the GuardDuty API's shapes for detectors, members and the organization configuration.

use super::state::FeatureState;
use crate::engine::plan::Attributes;
use crate::kinds::guardduty::section::DetectorSettings;
use crate::kinds::string;
use aws_sdk_guardduty::types::{
    DetectorAdditionalConfiguration, DetectorFeature, DetectorFeatureConfiguration,
    FeatureAdditionalConfiguration, FeatureStatus, MemberAdditionalConfiguration,
    MemberFeaturesConfiguration, OrgFeature, OrgFeatureAdditionalConfiguration, OrgFeatureStatus,
    OrganizationAdditionalConfiguration, OrganizationFeatureConfiguration,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// `ENABLED` or `DISABLED`.
pub fn status(enabled: bool) -> &'static str {
    if enabled { "ENABLED" } else { "DISABLED" }
}

/// Feature attributes (`features.X`, `features.X.additional.Y`) from the manifest, with the
/// value each enabled/disabled maps to.
pub fn feature_attributes(
    settings: &DetectorSettings,
    value_of: impl Fn(bool) -> String,
) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, feature) in &settings.features {
        attributes.insert(
            format!("features.{name}"),
            string(value_of(feature.enabled)),
        );
        for (extra, enabled) in &feature.additional {
            attributes.insert(
                format!("features.{name}.additional.{extra}"),
                string(value_of(*enabled)),
            );
        }
    }
    attributes
}

pub fn observed_feature_attributes(features: &BTreeMap<String, FeatureState>) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, feature) in features {
        attributes.insert(format!("features.{name}"), string(feature.status.clone()));
        for (extra, value) in &feature.additional {
            attributes.insert(
                format!("features.{name}.additional.{extra}"),
                string(value.clone()),
            );
        }
    }
    attributes
}

/// The desired attributes whose observed value differs, as (before, after). When an additional
/// configuration changes, its feature's status is carried along: GuardDuty updates features as
/// a whole.
pub fn compare(desired: &Attributes, observed: &Attributes) -> (Attributes, Attributes) {
    let mut before = Attributes::new();
    let mut after = Attributes::new();
    for (key, want) in desired {
        let have = observed.get(key).cloned().unwrap_or(Value::Null);
        if have != *want {
            before.insert(key.clone(), have);
            after.insert(key.clone(), want.clone());
        }
    }
    let parents: Vec<String> = after
        .keys()
        .filter_map(|key| {
            key.split_once(".additional.")
                .map(|(parent, _)| parent.to_string())
        })
        .collect();
    for parent in parents {
        if let Some(want) = desired.get(&parent) {
            after.entry(parent.clone()).or_insert_with(|| want.clone());
            before
                .entry(parent.clone())
                .or_insert_with(|| observed.get(&parent).cloned().unwrap_or(Value::Null));
        }
    }
    (before, after)
}

/// Features in flat attributes: name → (value, additional name → value).
pub type FeatureValues = BTreeMap<String, (Option<String>, BTreeMap<String, String>)>;

pub fn features_of(attributes: &Attributes) -> FeatureValues {
    let mut features = FeatureValues::new();
    for (key, value) in attributes {
        let Some(rest) = key.strip_prefix("features.") else {
            continue;
        };
        let Some(text) = value.as_str() else {
            continue;
        };
        match rest.split_once(".additional.") {
            Some((name, extra)) => {
                features
                    .entry(name.to_string())
                    .or_default()
                    .1
                    .insert(extra.to_string(), text.to_string());
            }
            None => features.entry(rest.to_string()).or_default().0 = Some(text.to_string()),
        }
    }
    features
}

pub fn attribute<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a str> {
    attributes.get(key).and_then(Value::as_str)
}

pub fn detector_features(features: &FeatureValues) -> Vec<DetectorFeatureConfiguration> {
    features
        .iter()
        .map(|(name, (status, additional))| {
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::from(name.as_str()))
                .set_status(status.as_deref().map(FeatureStatus::from))
                .set_additional_configuration((!additional.is_empty()).then(|| {
                    additional
                        .iter()
                        .map(|(n, s)| {
                            DetectorAdditionalConfiguration::builder()
                                .name(FeatureAdditionalConfiguration::from(n.as_str()))
                                .status(FeatureStatus::from(s.as_str()))
                                .build()
                        })
                        .collect()
                }))
                .build()
        })
        .collect()
}

pub fn member_feature_configs(features: &FeatureValues) -> Vec<MemberFeaturesConfiguration> {
    features
        .iter()
        .map(|(name, (status, additional))| {
            MemberFeaturesConfiguration::builder()
                .name(OrgFeature::from(name.as_str()))
                .set_status(status.as_deref().map(FeatureStatus::from))
                .set_additional_configuration((!additional.is_empty()).then(|| {
                    additional
                        .iter()
                        .map(|(n, s)| {
                            MemberAdditionalConfiguration::builder()
                                .name(OrgFeatureAdditionalConfiguration::from(n.as_str()))
                                .status(FeatureStatus::from(s.as_str()))
                                .build()
                        })
                        .collect()
                }))
                .build()
        })
        .collect()
}

pub fn org_feature_configs(features: &FeatureValues) -> Vec<OrganizationFeatureConfiguration> {
    features
        .iter()
        .map(|(name, (auto, additional))| {
            OrganizationFeatureConfiguration::builder()
                .name(OrgFeature::from(name.as_str()))
                .set_auto_enable(auto.as_deref().map(OrgFeatureStatus::from))
                .set_additional_configuration((!additional.is_empty()).then(|| {
                    additional
                        .iter()
                        .map(|(n, s)| {
                            OrganizationAdditionalConfiguration::builder()
                                .name(OrgFeatureAdditionalConfiguration::from(n.as_str()))
                                .auto_enable(OrgFeatureStatus::from(s.as_str()))
                                .build()
                        })
                        .collect()
                }))
                .build()
        })
        .collect()
}

/// The feature attributes of `desired` that `observed` does not match.
pub fn missing_features(
    desired: &Attributes,
    observed: &BTreeMap<String, FeatureState>,
) -> Attributes {
    let mut differing = Attributes::new();
    for (key, want) in desired.iter().filter(|(k, _)| k.starts_with("features.")) {
        let rest = &key["features.".len()..];
        let have = match rest.split_once(".additional.") {
            Some((name, extra)) => observed.get(name).and_then(|f| f.additional.get(extra)),
            None => observed.get(rest).map(|f| &f.status),
        };
        if have.map(String::as_str) != want.as_str() {
            differing.insert(key.clone(), want.clone());
        }
    }
    // Carry a feature's status with its additional configurations.
    let parents: Vec<String> = differing
        .keys()
        .filter_map(|k| k.split_once(".additional.").map(|(p, _)| p.to_string()))
        .collect();
    for parent in parents {
        if let Some(want) = desired.get(&parent) {
            differing.entry(parent).or_insert_with(|| want.clone());
        }
    }
    differing
}
