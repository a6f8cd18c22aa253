//! `iam.boundary_policy[ADMIN/guardform-responder-boundary]`: the permissions boundary of every
//! role guardform makes for responses, a managed policy under `/guardform/`. Whatever a role's
//! own policy says (or anyone later writes into it), the role can never change guardform's
//! roles or this boundary, create IAM users, roles or keys, or attach managed policies: the
//! ways a responder could make itself or anyone an administrator.

use super::documents::{canonical, canonical_text, never_guardforms_roles};
use super::names::ROLE_PATH;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Change};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, string, text};
use serde_json::{Value, json};

/// The type name.
pub const TYPE: &str = "iam.boundary_policy";

/// The policy's name.
pub const NAME: &str = "guardform-responder-boundary";

/// The boundary's ARN in the administrator account.
pub fn arn(admin: &str) -> String {
    format!("arn:aws:iam::{admin}:policy{ROLE_PATH}{NAME}")
}

/// Its address.
pub fn address(admin: &str) -> String {
    format!("{TYPE}[{admin}/{NAME}]")
}

/// The boundary: everything a role's own policy grants, except what would let it escalate.
pub fn document() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "WhatTheRoleItselfGrants", "Effect": "Allow", "Action": "*", "Resource": "*"},
            never_guardforms_roles(),
            {
                "Sid": "NeverTheBoundary",
                "Effect": "Deny",
                "Action": [
                    "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion", "iam:DeleteRolePermissionsBoundary",
                    "iam:PutRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
                    "iam:PutUserPermissionsBoundary"
                ],
                "Resource": "*",
            },
            {
                "Sid": "NoNewPrincipalsOrManagedPolicies",
                "Effect": "Deny",
                "Action": [
                    "iam:CreateRole", "iam:CreateUser", "iam:CreateAccessKey",
                    "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:AddUserToGroup",
                    "iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy",
                    "iam:PutGroupPolicy", "iam:CreatePolicy", "iam:PassRole"
                ],
                "Resource": "*",
            },
        ],
    })
}

/// The boundary as read: its default version's document (canonical), or `None`.
pub type BoundaryState = Option<String>;

/// Creates the boundary when roles need it, brings it back when edited, and deletes it (with
/// `--allow-destroy`) once no role of guardform's is left or wanted.
pub fn plan(admin: &str, needed: bool, live: &BoundaryState) -> Option<Change> {
    let desired = canonical(&document());
    match (needed, live) {
        (true, None) => {
            let mut c = change(
                TYPE,
                address(admin),
                Action::Create,
                Some(admin),
                "global",
                "the permissions boundary of guardform's response roles",
            );
            c.after.insert("policy".into(), string(desired));
            c.after
                .insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
            Some(c)
        }
        (true, Some(text)) if *text != desired => {
            let mut c = change(
                TYPE,
                address(admin),
                Action::Update,
                Some(admin),
                "global",
                "the boundary differs from guardform's: a new default version",
            );
            c.before.insert("policy".into(), string(text.clone()));
            c.after.insert("policy".into(), string(desired));
            Some(c)
        }
        (false, Some(text)) => {
            let mut c = change(
                TYPE,
                address(admin),
                Action::Delete,
                Some(admin),
                "global",
                "no role of guardform's is left or wanted",
            );
            c.before.insert("policy".into(), string(text.clone()));
            c.requires = Some("--allow-destroy".into());
            Some(c)
        }
        _ => None,
    }
}

/// Reads the boundary's default version.
pub async fn read(aws: &Aws, admin: &str) -> Result<BoundaryState, AwsError> {
    let iam = aws.iam(admin);
    let arn = arn(admin);
    let policy = match iam.get_policy().policy_arn(&arn).send().await {
        Ok(out) => out,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(AwsError::new(format!("reading IAM policy {arn}"), error)),
    };
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_string();
    let out = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(&version)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading IAM policy {arn} {version}"), e))?;
    Ok(Some(canonical_text(
        out.policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default(),
    )))
}

/// Versions other than the default (IAM keeps at most five).
async fn old_versions(iam: &aws_sdk_iam::Client, arn: &str) -> Result<Vec<String>, AwsError> {
    let out = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("listing the versions of {arn}"), e))?;
    Ok(out
        .versions()
        .iter()
        .filter(|v| !v.is_default_version())
        .filter_map(|v| v.version_id().map(str::to_string))
        .collect())
}

/// Creates, updates (a new default version) or deletes the boundary.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let iam = aws.iam(admin);
    let arn = arn(admin);
    let document = text(&change.after, "policy");
    match change.action {
        Action::Create => {
            let tag = aws_sdk_iam::types::Tag::builder()
                .key(MANAGED_TAG_KEY)
                .value(MANAGED_TAG_VALUE)
                .build()
                .map_err(|e| AwsError::message(format!("creating {arn}"), e.to_string()))?;
            match iam
                .create_policy()
                .policy_name(NAME)
                .path(ROLE_PATH)
                .policy_document(document)
                .description("guardform: permissions boundary of its response roles")
                .tags(tag)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                // Another run created it a moment ago.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_entity_already_exists_exception()) =>
                {
                    Ok(())
                }
                Err(error) => Err(AwsError::new(format!("creating IAM policy {arn}"), error)),
            }
        }
        Action::Delete => {
            for version in old_versions(&iam, &arn).await? {
                iam.delete_policy_version()
                    .policy_arn(&arn)
                    .version_id(version)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(format!("deleting a version of {arn}"), e))?;
            }
            match iam.delete_policy().policy_arn(&arn).send().await {
                Err(error)
                    if !error
                        .as_service_error()
                        .is_some_and(|e| e.is_no_such_entity_exception()) =>
                {
                    Err(AwsError::new(format!("deleting IAM policy {arn}"), error))
                }
                _ => Ok(()),
            }
        }
        _ => {
            if let Some(oldest) = old_versions(&iam, &arn).await?.into_iter().min() {
                iam.delete_policy_version()
                    .policy_arn(&arn)
                    .version_id(oldest)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(format!("deleting a version of {arn}"), e))?;
            }
            iam.create_policy_version()
                .policy_arn(&arn)
                .policy_document(document)
                .set_as_default(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::new(format!("updating IAM policy {arn}"), e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_follows_the_roles() {
        let current = Some(canonical(&document()));
        assert_eq!(plan("222", true, &None).unwrap().action, Action::Create);
        assert!(plan("222", true, &current).is_none());
        let edited = Some("{}".to_string());
        assert_eq!(plan("222", true, &edited).unwrap().action, Action::Update);
        let gone = plan("222", false, &current).unwrap();
        assert_eq!(gone.action, Action::Delete);
        assert_eq!(gone.requires.as_deref(), Some("--allow-destroy"));
        assert!(plan("222", false, &None).is_none());
        // It never lets a role change guardform's roles, the boundary itself, or make
        // principals.
        let denied: Vec<String> = document()["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        for action in [
            "iam:PutRolePolicy",
            "iam:DeletePolicyVersion",
            "iam:CreatePolicyVersion",
            "iam:DeleteRolePermissionsBoundary",
            "iam:CreateUser",
            "iam:AttachRolePolicy",
            "iam:CreateAccessKey",
        ] {
            assert!(denied.iter().any(|a| a == action), "{action}");
        }
    }
}
