//! `iam.role[ADMIN/NAME]`: a `run` response's execution role (IAM is global), under the path
//! `/guardform/`, trusted by Lambda only, with the bundle's declared permissions.

use super::common::{
    Prepared, Target, desired_of, owner, ownership, ownership_tags, push, removal, response_of,
    tags_of,
};
use super::documents::{
    Scope, canonical, delivery_policy, events_trust_policy, role_policy, trust_policy,
};
use super::names::{ROLE_PATH, resource_name};
use super::state::RoleState;
use super::target;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Change};
use crate::kinds::responses::section::ResponseAction;
use crate::kinds::{string, text};
use std::collections::{BTreeMap, BTreeSet};

/// The type name.
pub const TYPE: &str = "iam.role";

/// The address of a response's role.
pub fn address(admin: &str, response: &str) -> String {
    format!("{TYPE}[{admin}/{}]", resource_name(response))
}

/// The address of the role named `name` (as IAM names it).
pub fn address_of_name(admin: &str, name: &str) -> String {
    format!("{TYPE}[{admin}/{name}]")
}

/// The role of a response: a `run` response's execution role, or the role EventBridge
/// delivers with to a `send_to` target in another account or Region.
pub fn plan(
    prepared: &Prepared<'_>,
    admin: &str,
    organization: &str,
    regions: &[String],
    roles: &BTreeMap<String, RoleState>,
    changes: &mut Vec<Change>,
) {
    let response = prepared.spec.name.as_str();
    let (trust, policy) = match (&prepared.spec.action, prepared.bundle) {
        (ResponseAction::Run(run), Some(bundle)) => (
            trust_policy(),
            role_policy(
                bundle,
                &run.env,
                &run.secrets,
                &Scope {
                    account: admin,
                    organization,
                },
                response,
            ),
        ),
        (ResponseAction::Run(_), None) => return,
        _ => {
            let targets: BTreeSet<String> = regions
                .iter()
                .filter_map(|region| {
                    let target = target::send_to(prepared, region)?;
                    (target::delivery(&target, admin, region) == target::Delivery::WithRole)
                        .then_some(target)
                })
                .collect();
            if targets.is_empty() {
                return;
            }
            (events_trust_policy(), delivery_policy(&targets))
        }
    };
    let mut desired = ownership(response);
    desired.insert("trust_policy".into(), string(canonical(&trust)));
    desired.insert("policy".into(), string(canonical(&policy)));
    desired.insert(
        "permissions_boundary".into(),
        string(super::boundary::arn(admin)),
    );
    let live = roles.get(&resource_name(response)).map(|role| {
        let mut attributes = tags_of(&role.tags);
        attributes.insert("trust_policy".into(), string(role.trust.clone()));
        if let Some(boundary) = &role.boundary {
            attributes.insert("permissions_boundary".into(), string(boundary.clone()));
        }
        if let Some(policy) = &role.policy {
            attributes.insert("policy".into(), string(policy.clone()));
        }
        attributes
    });
    push(
        changes,
        Target {
            kind: TYPE,
            address: address(admin, response),
            region: "global",
            admin,
            response,
            reasons: (
                "the response's Lambda needs an execution role",
                "the role's policy differs from what the bundle declares",
            ),
        },
        &desired,
        live.as_ref(),
    );
}

/// Roles guardform made for responses the manifest no longer has.
pub fn plan_removals(
    wanted: &BTreeSet<&str>,
    admin: &str,
    roles: &BTreeMap<String, RoleState>,
    changes: &mut Vec<Change>,
) {
    for (name, role) in roles {
        if let Some(response) = owner(&role.tags).filter(|r| !wanted.contains(r)) {
            changes.push(removal(
                TYPE,
                format!("{TYPE}[{admin}/{name}]"),
                admin,
                "global",
                response,
                name,
            ));
        }
    }
}

/// Creates, updates or deletes a response's IAM role.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let iam = aws.iam(admin);
    let response = response_of(change);
    let name = resource_name(&response);
    let context = |what: &str| format!("{what} {}", change.address);
    if change.action == Action::Delete {
        if let Err(error) = iam
            .delete_role_policy()
            .role_name(&name)
            .policy_name("guardform")
            .send()
            .await
            && !error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception())
        {
            return Err(AwsError::new(context("removing the policy of"), error));
        }
        match iam.delete_role().role_name(&name).send().await {
            // Already gone (another run removed it): the change is made.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) => {}
            other => {
                other.map_err(|e| AwsError::new(context("deleting"), e))?;
            }
        }
        return Ok(());
    }
    let desired = desired_of(change);
    let tags: Vec<aws_sdk_iam::types::Tag> = ownership_tags(&response)
        .into_iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    let mut created = false;
    if change.action == Action::Create {
        match iam
            .create_role()
            .role_name(&name)
            .path(ROLE_PATH)
            .assume_role_policy_document(text(&desired, "trust_policy"))
            .permissions_boundary(text(&desired, "permissions_boundary"))
            .description(format!("guardform: role of response {response}"))
            .set_tags(Some(tags.clone()))
            .send()
            .await
        {
            Ok(_) => created = true,
            // Another run created it a moment ago: take it only if it is guardform's own.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_entity_already_exists_exception()) =>
            {
                let existing = iam
                    .get_role()
                    .role_name(&name)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("reading"), e))?;
                let existing_tags: BTreeMap<String, String> = existing
                    .role()
                    .map(|r| {
                        r.tags()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                if owner(&existing_tags) != Some(response.as_str()) {
                    return Err(AwsError::new(context("creating"), error));
                }
            }
            Err(error) => return Err(AwsError::new(context("creating"), error)),
        }
    }
    if !created {
        if change.after.contains_key("trust_policy") {
            iam.update_assume_role_policy()
                .role_name(&name)
                .policy_document(text(&desired, "trust_policy"))
                .send()
                .await
                .map_err(|e| AwsError::new(context("updating the trust policy of"), e))?;
        }
        if change.after.contains_key("permissions_boundary") {
            iam.put_role_permissions_boundary()
                .role_name(&name)
                .permissions_boundary(text(&desired, "permissions_boundary"))
                .send()
                .await
                .map_err(|e| AwsError::new(context("setting the permissions boundary of"), e))?;
        }
        iam.tag_role()
            .role_name(&name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::new(context("tagging"), e))?;
    }
    if change.action == Action::Create || change.after.contains_key("policy") {
        // Always written on create (also when another run created the role).
        iam.put_role_policy()
            .role_name(&name)
            .policy_name("guardform")
            .policy_document(text(&desired, "policy"))
            .send()
            .await
            .map_err(|e| AwsError::new(context("writing the policy of"), e))?;
    }
    Ok(())
}
