//! `guardduty.organization_admin[REGION]`: the organization's delegated GuardDuty administrator
//! in a Region, enabled from the management account.

use super::state::RegionState;
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use crate::engine::plan::{Action, Change};
use crate::kinds::{change, string};

/// The type name.
pub const TYPE: &str = "guardduty.organization_admin";

/// The address in `region`.
pub fn address(region: &str) -> String {
    format!("{TYPE}[{region}]")
}

/// True when the manifest's administrator is the enabled administrator in this Region.
pub fn enabled(discovery: &Discovery, state: &RegionState) -> bool {
    state
        .admin_accounts
        .get(&discovery.delegated_admin)
        .map(String::as_str)
        == Some("ENABLED")
}

/// The change that makes the manifest's account the administrator, if one is needed.
pub fn plan(discovery: &Discovery, region: &str, state: &RegionState) -> Option<Change> {
    let admin = discovery.delegated_admin.as_str();
    if enabled(discovery, state) {
        return None;
    }
    let other = state.admin_accounts.keys().find(|id| id.as_str() != admin);
    let mut c = match other {
        Some(other) => {
            let mut c = change(
                TYPE,
                address(region),
                Action::Replace,
                None,
                region,
                format!(
                    "{other} is the delegated administrator in {region}; the manifest names {admin}"
                ),
            );
            c.before.insert("account_id".into(), string(other.as_str()));
            c.requires = Some("--allow-admin-change".into());
            c.inputs.insert("previous_admin".into(), other.to_string());
            c
        }
        None => change(
            TYPE,
            address(region),
            Action::Create,
            None,
            region,
            format!("GuardDuty has no delegated administrator in {region}"),
        ),
    };
    c.after.insert("account_id".into(), string(admin));
    c.inputs.insert(
        "management_account".into(),
        discovery.organization.management_account.clone(),
    );
    c.inputs.insert("admin_account".into(), admin.to_string());
    Some(c)
}

/// Enables the administrator (after disabling the previous one, for a replacement).
pub async fn apply(aws: &Aws, discovery: &Discovery, change: &Change) -> Result<(), AwsError> {
    let management = discovery.organization.management_account.as_str();
    let admin = discovery.delegated_admin.as_str();
    let client = aws.guardduty(management, &change.region);
    let context = format!("{} (as management account {management})", change.address);
    if change.action == Action::Replace
        && let Some(previous) = change.inputs.get("previous_admin")
    {
        client
            .disable_organization_admin_account()
            .admin_account_id(previous)
            .send()
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("removing the previous administrator {previous}: {context}"),
                    e,
                )
            })?;
    }
    let enabled = client
        .enable_organization_admin_account()
        .admin_account_id(admin)
        .send()
        .await;
    if let Err(error) = enabled {
        // Someone (or an earlier run) may have done it already: re-read before failing.
        let admins = client.list_organization_admin_accounts().send().await.ok();
        let already = admins.is_some_and(|out| {
            out.admin_accounts().iter().any(|a| {
                a.admin_account_id() == Some(admin)
                    && a.admin_status().map(|s| s.as_str()) == Some("ENABLED")
            })
        });
        if !already {
            return Err(AwsError::new(context, error));
        }
    }
    Ok(())
}
