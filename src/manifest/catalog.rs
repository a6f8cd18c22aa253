//! What AWS accepts: GuardDuty feature names, publishing frequencies, Regions. One place, used by
//! manifest validation, the JSON Schema and the diff.

/// GuardDuty detector features the manifest may configure (AWS `DetectorFeature`).
pub const FEATURES: &[&str] = &[
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "EKS_RUNTIME_MONITORING",
    "LAMBDA_NETWORK_LOGS",
    "RUNTIME_MONITORING",
];

/// Additional configuration names allowed under a feature (AWS `FeatureAdditionalConfiguration`).
pub fn additional_configurations(feature: &str) -> &'static [&'static str] {
    match feature {
        "RUNTIME_MONITORING" => &[
            "EKS_ADDON_MANAGEMENT",
            "ECS_FARGATE_AGENT_MANAGEMENT",
            "EC2_AGENT_MANAGEMENT",
        ],
        "EKS_RUNTIME_MONITORING" => &["EKS_ADDON_MANAGEMENT"],
        _ => &[],
    }
}

/// `finding_publishing_frequency` values (AWS `FindingPublishingFrequency`).
pub const PUBLISHING_FREQUENCIES: &[&str] = &["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"];

/// Organization auto-enable values (AWS `AutoEnableMembers`).
pub const AUTO_ENABLE: &[&str] = &["NEW", "ALL", "NONE"];

/// Commercial Regions enabled by default in every account.
pub const DEFAULT_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// Opt-in commercial Regions: usable only after the account enables them.
pub const OPT_IN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
];

/// Every Region name guardform knows.
pub fn known_regions() -> impl Iterator<Item = &'static str> {
    DEFAULT_REGIONS.iter().chain(OPT_IN_REGIONS).copied()
}

/// True for a string shaped like an AWS Region name (`eu-west-1`, `us-gov-west-1`).
pub fn looks_like_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

/// Whether `name` is a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens).
pub fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// True for a 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        assert!(looks_like_region("eu-west-1"));
        assert!(looks_like_region("us-gov-west-1"));
        assert!(!looks_like_region("eu-west"));
        assert!(!looks_like_region("EU-west-1"));
        assert!(!looks_like_region("eu-west-1a"));
    }

    #[test]
    fn account_ids() {
        assert!(is_account_id("012345678901"));
        assert!(!is_account_id("12345678901"));
        assert!(!is_account_id("12345678901a"));
    }
}
