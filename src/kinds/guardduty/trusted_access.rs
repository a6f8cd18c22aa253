//! `organizations.trusted_access[malware-protection.guardduty.amazonaws.com]`: the
//! organization's trusted access for GuardDuty's malware protection. When the delegated
//! administrator is not the management account, it can enable EBS malware protection
//! (GuardDuty-initiated scans) for members only once the management account has enabled this
//! trusted access ("Enabling GuardDuty-initiated malware scan in multiple-account
//! environments"): read during the plan, enabled by apply before the members' features.

use super::state::GuardDutyState;
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use crate::engine::plan::{Action, Change};
use crate::kinds::{change, string};
use crate::manifest::Manifest;

/// The type name.
pub const TYPE: &str = "organizations.trusted_access";
/// The service principal.
pub const PRINCIPAL: &str = "malware-protection.guardduty.amazonaws.com";
/// The feature that needs it.
const FEATURE: &str = "EBS_MALWARE_PROTECTION";

/// The address of the trusted access.
pub fn address() -> String {
    format!("{TYPE}[{PRINCIPAL}]")
}

/// True when the manifest enables EBS malware protection for members (in `detector:`, a
/// profile or the organization's auto-enable) and the administrator is not the management
/// account: only then does the trusted access matter (and is it read).
pub fn needed(manifest: &Manifest, discovery: &Discovery) -> bool {
    if discovery.delegated_admin == discovery.organization.management_account {
        return false;
    }
    let enabled = |features: &std::collections::BTreeMap<
        String,
        super::section::FeatureSetting,
    >| { features.get(FEATURE).is_some_and(|f| f.enabled) };
    enabled(&super::section::of(manifest).features)
        || super::profiles::of(manifest)
            .profiles
            .values()
            .any(|p| enabled(&p.features))
        || manifest
            .organization
            .auto_enable_features
            .get(FEATURE)
            .is_some_and(|f| f.auto_enable != "NONE")
}

/// Whether the organization has the trusted access (read in the management account).
pub async fn read(aws: &Aws, management: &str) -> Result<bool, AwsError> {
    let mut pages = aws
        .organizations(management)
        .list_aws_service_access_for_organization()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new(
                format!("reading the organization's trusted services as {management}"),
                e,
            )
        })?;
        if page
            .enabled_service_principals()
            .iter()
            .any(|p| p.service_principal() == Some(PRINCIPAL))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The trusted access to enable, if it is needed and missing.
pub fn plan(discovery: &Discovery, state: &GuardDutyState) -> Option<Change> {
    if state.malware_trusted_access != Some(false) {
        return None;
    }
    let management = discovery.organization.management_account.as_str();
    let mut c = change(
        TYPE,
        address(),
        Action::Create,
        Some(management),
        "global",
        format!(
            "the delegated administrator {} can enable EBS malware protection for members only with the organization's trusted access for {PRINCIPAL}",
            discovery.delegated_admin
        ),
    );
    c.after
        .insert("service_principal".into(), string(PRINCIPAL));
    Some(c)
}

/// Enables the trusted access from the management account.
pub async fn apply(aws: &Aws, change: &Change) -> Result<(), AwsError> {
    let management = change.account.as_deref().unwrap_or_default();
    aws.organizations(management)
        .enable_aws_service_access()
        .service_principal(PRINCIPAL)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                format!(
                    "enabling the organization's trusted access for {PRINCIPAL} as {management}"
                ),
                e,
            )
        })?;
    Ok(())
}
