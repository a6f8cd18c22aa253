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

/// The feature that Runtime Monitoring superseded, and the one that superseded it: GuardDuty
/// refuses both in one request.
pub const EKS_RUNTIME: &str = "EKS_RUNTIME_MONITORING";
/// See [`EKS_RUNTIME`].
pub const RUNTIME: &str = "RUNTIME_MONITORING";

/// The migration from EKS Runtime Monitoring to Runtime Monitoring: when the manifest turns
/// RUNTIME_MONITORING on (`ENABLED`, or auto-enable `NEW`/`ALL`) without naming
/// EKS_RUNTIME_MONITORING, and the live state still has the old feature on, the old feature is
/// turned off, as GuardDuty's migration guide asks (otherwise it keeps running, and billing,
/// if Runtime Monitoring is turned off later). Returns the desired value for the old feature.
fn eks_runtime_off(desired: &Attributes, live: Option<&str>) -> Option<Value> {
    let on = |v: &str| matches!(v, "ENABLED" | "NEW" | "ALL");
    let wanted = desired.get(&format!("features.{RUNTIME}"))?.as_str()?;
    if !on(wanted) || desired.contains_key(&format!("features.{EKS_RUNTIME}")) {
        return None;
    }
    let live = live.filter(|v| on(v))?;
    Some(string(if live == "ENABLED" {
        "DISABLED"
    } else {
        "NONE"
    }))
}

/// Splits one feature update into the requests GuardDuty accepts: RUNTIME_MONITORING and
/// EKS_RUNTIME_MONITORING never go together, and the new feature goes first (so migrating
/// leaves no gap in monitoring).
pub fn requests(mut features: FeatureValues) -> Vec<FeatureValues> {
    if features.contains_key(RUNTIME)
        && let Some(old) = features.remove(EKS_RUNTIME)
    {
        return vec![
            features,
            FeatureValues::from([(EKS_RUNTIME.to_string(), old)]),
        ];
    }
    vec![features]
}

/// The desired attributes whose observed value differs, as (before, after). When an additional
/// configuration changes, its feature's status is carried along: GuardDuty updates features as
/// a whole.
pub fn compare(desired: &Attributes, observed: &Attributes) -> (Attributes, Attributes) {
    let mut before = Attributes::new();
    let mut after = Attributes::new();
    let old_key = format!("features.{EKS_RUNTIME}");
    let live_old = observed.get(&old_key);
    if let Some(off) = eks_runtime_off(desired, live_old.and_then(Value::as_str)) {
        before.insert(old_key.clone(), live_old.cloned().unwrap_or(Value::Null));
        after.insert(old_key, off);
    }
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
    let live_old = observed.get(EKS_RUNTIME).map(|f| f.status.as_str());
    if let Some(off) = eks_runtime_off(desired, live_old) {
        differing.insert(format!("features.{EKS_RUNTIME}"), off);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), string(*v)))
            .collect()
    }

    #[test]
    fn turning_runtime_monitoring_on_turns_its_eks_predecessor_off() {
        let live = attributes(&[
            ("features.EKS_RUNTIME_MONITORING", "ENABLED"),
            ("features.RUNTIME_MONITORING", "DISABLED"),
        ]);
        let (before, after) = compare(
            &attributes(&[("features.RUNTIME_MONITORING", "ENABLED")]),
            &live,
        );
        assert_eq!(after["features.EKS_RUNTIME_MONITORING"], "DISABLED");
        assert_eq!(before["features.EKS_RUNTIME_MONITORING"], "ENABLED");
        // Turning it off, or naming the old feature, is not a migration.
        for desired in [
            attributes(&[("features.RUNTIME_MONITORING", "DISABLED")]),
            attributes(&[
                ("features.RUNTIME_MONITORING", "ENABLED"),
                ("features.EKS_RUNTIME_MONITORING", "ENABLED"),
            ]),
        ] {
            let (_, after) = compare(&desired, &live);
            assert_ne!(
                after.get("features.EKS_RUNTIME_MONITORING"),
                Some(&string("DISABLED"))
            );
        }
        // The organization configuration's auto-enable.
        let (_, after) = compare(
            &attributes(&[("features.RUNTIME_MONITORING", "NEW")]),
            &attributes(&[("features.EKS_RUNTIME_MONITORING", "ALL")]),
        );
        assert_eq!(after["features.EKS_RUNTIME_MONITORING"], "NONE");
    }

    #[test]
    fn the_two_runtime_features_go_in_separate_requests_new_first() {
        let features = features_of(&attributes(&[
            ("features.EKS_RUNTIME_MONITORING", "DISABLED"),
            ("features.RUNTIME_MONITORING", "ENABLED"),
            ("features.S3_DATA_EVENTS", "ENABLED"),
        ]));
        let parts = requests(features);
        let names: Vec<Vec<&str>> = parts
            .iter()
            .map(|p| p.keys().map(String::as_str).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["RUNTIME_MONITORING", "S3_DATA_EVENTS"],
                vec!["EKS_RUNTIME_MONITORING"]
            ]
        );
    }
}
