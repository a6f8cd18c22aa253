//! `iam.service_linked_role[MANAGEMENT/guardduty.amazonaws.com]`: GuardDuty's service-linked
//! role in the management account. The delegated administrator adds the management account as
//! a member (and so enables GuardDuty there) only once that role exists; it is created when
//! GuardDuty is first enabled in the account, or by `iam:CreateServiceLinkedRole`. guardform
//! creates the role rather than a detector outside the membership.

use super::state::GuardDutyState;
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use crate::engine::plan::{Action, Change};
use crate::kinds::{change, string};

/// The type name.
pub const TYPE: &str = "iam.service_linked_role";
/// The service the role is GuardDuty's for.
pub const SERVICE: &str = "guardduty.amazonaws.com";
/// The role's name, as AWS gives it.
pub const ROLE_NAME: &str = "AWSServiceRoleForAmazonGuardDuty";

/// The address of the role in `account`.
pub fn address(account: &str) -> String {
    format!("{TYPE}[{account}/{SERVICE}]")
}

/// True when the management account is targeted but not yet a member in some Region: only
/// then does the role matter (and is it read).
pub fn needed(discovery: &Discovery, state: &GuardDutyState) -> bool {
    let management = &discovery.organization.management_account;
    discovery.members.contains(management)
        && discovery.regions.iter().any(|region| {
            state
                .regions
                .get(region)
                .and_then(|r| r.members.get(management))
                .is_none_or(|m| m.relationship_status != "Enabled")
        })
}

/// Whether the role exists in `account`.
pub async fn read(aws: &Aws, account: &str) -> Result<bool, AwsError> {
    match aws
        .iam(account)
        .get_role()
        .role_name(ROLE_NAME)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(AwsError::new(
            format!("reading GuardDuty's service-linked role in {account}"),
            error,
        )),
    }
}

/// The role, when the management account needs it and lacks it.
pub fn plan(discovery: &Discovery, state: &GuardDutyState) -> Option<Change> {
    let management = discovery.organization.management_account.as_str();
    if state.management_service_role != Some(false) {
        return None;
    }
    let mut c = change(
        TYPE,
        address(management),
        Action::Create,
        Some(management),
        "global",
        format!(
            "GuardDuty adds the management account {management} as a member only once it has GuardDuty's service-linked role"
        ),
    );
    c.after.insert("role_name".into(), string(ROLE_NAME));
    Some(c)
}

/// Creates the role; one that exists already (another run made it) is fine.
pub async fn apply(aws: &Aws, change: &Change) -> Result<(), AwsError> {
    let account = change.account.clone().unwrap_or_default();
    match aws
        .iam(&account)
        .create_service_linked_role()
        .aws_service_name(SERVICE)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = AwsError::new(format!("creating {}", change.address), error);
            if error.detail.contains("has been taken") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}
