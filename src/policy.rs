//! `guardform policy`: the IAM policies each principal needs to run guardform with a manifest:
//! the caller in the management account, the role assumed in the delegated administrator, and
//! the roles in the accounts other parts of the manifest reach (the export's bucket and key,
//! the buckets Malware Protection scans). `plan` needs read-only actions only.
//!
//! [`iam_actions`] is the one table from the SDK operations guardform calls to IAM actions;
//! the tests record every call of real runs (by account, `--stats-out`) and check that each
//! one is allowed by the policy printed for that account, so the policy cannot drift from what
//! guardform calls.

use crate::kinds::export::section as export;
use crate::kinds::ip_lists::section as ip_lists;
use crate::kinds::malware_s3::section as malware_s3;
use crate::kinds::responses::section as responses;
use crate::manifest::Manifest;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// What the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum For {
    /// `guardform plan` (and `report`): reads only.
    Plan,
    /// `guardform apply`.
    Apply,
    /// `guardform sync ip-lists`.
    Sync,
}

/// The IAM actions an SDK operation needs (the service as the SDK names it). Most are the
/// service's prefix and the operation's name; the exceptions are listed.
pub fn iam_actions(service: &str, operation: &str) -> Vec<String> {
    let special: &[(&str, &str, &[&str])] = &[
        ("STS", "GetCallerIdentity", &[]),
        ("S3", "HeadBucket", &["s3:ListBucket"]),
        ("S3", "ListObjectsV2", &["s3:ListBucket"]),
        (
            "S3",
            "GetBucketEncryption",
            &["s3:GetEncryptionConfiguration"],
        ),
        (
            "S3",
            "PutBucketEncryption",
            &["s3:PutEncryptionConfiguration"],
        ),
        (
            "S3",
            "GetPublicAccessBlock",
            &["s3:GetBucketPublicAccessBlock"],
        ),
        (
            "S3",
            "PutPublicAccessBlock",
            &["s3:PutBucketPublicAccessBlock"],
        ),
        ("S3", "HeadObject", &["s3:GetObject"]),
        ("S3", "DeleteObjects", &["s3:DeleteObject"]),
        ("S3", "PutObject", &["s3:PutObject", "s3:PutObjectTagging"]),
        (
            "Lambda",
            "CreateFunction",
            &["lambda:CreateFunction", "iam:PassRole"],
        ),
        (
            "Lambda",
            "UpdateFunctionConfiguration",
            &["lambda:UpdateFunctionConfiguration", "iam:PassRole"],
        ),
        (
            "EventBridge",
            "PutTargets",
            &["events:PutTargets", "iam:PassRole"],
        ),
        (
            "GuardDuty",
            "CreateMalwareProtectionPlan",
            &["guardduty:CreateMalwareProtectionPlan", "iam:PassRole"],
        ),
        (
            "GuardDuty",
            "UpdateMalwareProtectionPlan",
            &["guardduty:UpdateMalwareProtectionPlan", "iam:PassRole"],
        ),
    ];
    if let Some((_, _, actions)) = special
        .iter()
        .find(|(s, o, _)| *s == service && *o == operation)
    {
        return actions.iter().map(|a| a.to_string()).collect();
    }
    let prefix = match service {
        "GuardDuty" => "guardduty",
        "Organizations" => "organizations",
        "STS" => "sts",
        "EventBridge" => "events",
        "IAM" => "iam",
        "Lambda" => "lambda",
        "SQS" => "sqs",
        "S3" => "s3",
        "KMS" => "kms",
        "Account" => "account",
        other => return vec![format!("{}:{operation}", other.to_ascii_lowercase())],
    };
    vec![format!("{prefix}:{operation}")]
}

/// True for actions that only read.
pub fn is_read(action: &str) -> bool {
    let name = action.split(':').nth(1).unwrap_or_default();
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| name.starts_with(p))
        || action == "sts:AssumeRole"
}

/// One statement of a printed policy.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Action")]
    pub actions: BTreeSet<String>,
    #[serde(rename = "Resource")]
    pub resources: BTreeSet<String>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// The policy one principal needs.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// `caller`, `administrator`, or what the account is used for.
    pub name: String,
    /// The account (`None`: the caller's, whichever it is).
    pub account: Option<String>,
    /// The role guardform assumes there (`None` for the caller).
    pub role: Option<String>,
    pub why: String,
    pub statements: Vec<Statement>,
}

struct Builder {
    wanted: For,
    statements: Vec<Statement>,
}

impl Builder {
    fn new(wanted: For) -> Self {
        Builder {
            wanted,
            statements: Vec::new(),
        }
    }

    /// Grants `actions` (those the command needs: reads always, writes for apply and sync) on
    /// `resources`.
    fn grant(&mut self, sid: &str, actions: &[&str], resources: &[String]) -> &mut Self {
        self.grant_if(sid, actions, resources, None)
    }

    fn grant_if(
        &mut self,
        sid: &str,
        actions: &[&str],
        resources: &[String],
        condition: Option<Value>,
    ) -> &mut Self {
        // `sync ip-lists` reads what `plan` reads and writes the lists only.
        let writes = match self.wanted {
            For::Plan => false,
            For::Apply => true,
            For::Sync => LIST_STATEMENTS.contains(&sid),
        };
        let actions: BTreeSet<String> = actions
            .iter()
            .filter(|a| writes || is_read(a))
            .map(|a| a.to_string())
            .collect();
        if !actions.is_empty() {
            self.statements.push(Statement {
                sid: sid.to_string(),
                effect: "Allow",
                actions,
                resources: resources.iter().cloned().collect(),
                condition,
            });
        }
        self
    }
}

/// The statements `sync ip-lists` may write through.
const LIST_STATEMENTS: &[&str] = &[
    "GuardDutyListsAccountLevel",
    "GuardDutyLists",
    "ListBucket",
    "ListFiles",
];

fn all() -> Vec<String> {
    vec!["*".to_string()]
}

/// GuardDuty actions the Service Authorization Reference gives no resource type: IAM matches
/// them only with `"Resource": "*"`.
const GUARDDUTY_UNSCOPED: &[&str] = &[
    "guardduty:ListDetectors",
    "guardduty:CreateDetector",
    "guardduty:ListOrganizationAdminAccounts",
    "guardduty:DescribeOrganizationConfiguration",
    "guardduty:UpdateOrganizationConfiguration",
    "guardduty:ListMembers",
    "guardduty:GetMemberDetectors",
    "guardduty:CreateMembers",
    "guardduty:UpdateMemberDetectors",
    "guardduty:DisassociateMembers",
    "guardduty:DeleteMembers",
    "guardduty:GetMalwareScanSettings",
    "guardduty:UpdateMalwareScanSettings",
    "guardduty:ListFilters",
    "guardduty:CreateFilter",
    "guardduty:ListPublishingDestinations",
    "guardduty:CreatePublishingDestination",
    "guardduty:GetFindingsStatistics",
    "guardduty:GetCoverageStatistics",
    "guardduty:ListCoverage",
];

/// The same for the lists (what `sync ip-lists` writes through).
const GUARDDUTY_LISTS_UNSCOPED: &[&str] = &[
    "guardduty:ListIPSets",
    "guardduty:CreateIPSet",
    "guardduty:ListThreatIntelSets",
    "guardduty:CreateThreatIntelSet",
    "guardduty:ListThreatEntitySets",
    "guardduty:CreateThreatEntitySet",
    "guardduty:ListTrustedEntitySets",
    "guardduty:CreateTrustedEntitySet",
];

/// GuardDuty actions on a resource of the administrator's detectors (the detector, its
/// filters and publishing destinations): scoped to `detector/*`.
const GUARDDUTY_DETECTOR: &[&str] = &[
    "guardduty:GetDetector",
    "guardduty:UpdateDetector",
    "guardduty:GetFilter",
    "guardduty:UpdateFilter",
    "guardduty:DeleteFilter",
    "guardduty:DescribePublishingDestination",
    "guardduty:UpdatePublishingDestination",
    "guardduty:DeletePublishingDestination",
];

/// The same for the lists' sets.
const GUARDDUTY_LISTS_DETECTOR: &[&str] = &[
    "guardduty:GetIPSet",
    "guardduty:UpdateIPSet",
    "guardduty:DeleteIPSet",
    "guardduty:GetThreatIntelSet",
    "guardduty:UpdateThreatIntelSet",
    "guardduty:DeleteThreatIntelSet",
    "guardduty:GetThreatEntitySet",
    "guardduty:UpdateThreatEntitySet",
    "guardduty:DeleteThreatEntitySet",
    "guardduty:GetTrustedEntitySet",
    "guardduty:UpdateTrustedEntitySet",
    "guardduty:DeleteTrustedEntitySet",
    "guardduty:TagResource",
];

/// The administrator's role: GuardDuty on its detectors, the list bucket, responses, the key.
fn administrator(manifest: &Manifest, wanted: For) -> Vec<Statement> {
    let admin = &manifest.organization.delegated_admin;
    let mut b = Builder::new(wanted);
    let detector = [format!("arn:aws:guardduty:*:{admin}:detector/*")];
    b.grant("GuardDutyAccountLevel", GUARDDUTY_UNSCOPED, &all())
        .grant("GuardDutyDetectors", GUARDDUTY_DETECTOR, &detector)
        .grant(
            "GuardDutyListsAccountLevel",
            GUARDDUTY_LISTS_UNSCOPED,
            &all(),
        )
        .grant("GuardDutyLists", GUARDDUTY_LISTS_DETECTOR, &detector)
        .grant("Regions", &["account:ListRegions"], &all());
    if let Some(storage) = &ip_lists::of(manifest).storage {
        let bucket = format!("arn:aws:s3:::{}", storage.bucket);
        b.grant(
            "ListBucket",
            &[
                "s3:ListBucket",
                "s3:CreateBucket",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
            ],
            std::slice::from_ref(&bucket),
        )
        .grant(
            "ListFiles",
            &[
                "s3:GetObject",
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:DeleteObject",
            ],
            &[format!("{bucket}/*")],
        );
    }
    responses_statements(&mut b, admin, !responses::of(manifest).is_empty());
    b.statements
}

/// Responses: reading what guardform made (always, so removed responses are found), and
/// making it (only when the manifest has responses or removes some).
fn responses_statements(b: &mut Builder, admin: &str, any: bool) {
    let role = format!("arn:aws:iam::{admin}:role/guardform/*");
    b.grant(
        "ResponsesReadAll",
        &[
            "events:ListRules",
            "lambda:ListFunctions",
            "sqs:ListQueues",
            "iam:ListRoles",
        ],
        &all(),
    )
    .grant(
        "ResponsesRules",
        &[
            "events:DescribeRule",
            "events:ListTargetsByRule",
            "events:ListTagsForResource",
            "events:PutRule",
            "events:DeleteRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:TagResource",
        ],
        &[format!("arn:aws:events:*:{admin}:rule/guardform-*")],
    )
    .grant(
        "ResponsesFunctions",
        &[
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:GetPolicy",
            "lambda:ListTags",
            "lambda:CreateFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:DeleteFunction",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:TagResource",
            "lambda:PutFunctionEventInvokeConfig",
        ],
        &[format!("arn:aws:lambda:*:{admin}:function:guardform-*")],
    )
    .grant(
        "ResponsesQueues",
        &[
            "sqs:GetQueueUrl",
            "sqs:GetQueueAttributes",
            "sqs:ListQueueTags",
            "sqs:CreateQueue",
            "sqs:DeleteQueue",
            "sqs:SetQueueAttributes",
            "sqs:TagQueue",
        ],
        &[format!("arn:aws:sqs:*:{admin}:guardform-*")],
    )
    .grant(
        "ResponsesRoles",
        &[
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:PutRolePermissionsBoundary",
        ],
        &[
            role.clone(),
            format!("arn:aws:iam::{admin}:role/guardform-*"),
        ],
    )
    .grant(
        "ResponsesBoundary",
        &[
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:ListPolicyVersions",
            "iam:CreatePolicy",
            "iam:CreatePolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:DeletePolicy",
            "iam:TagPolicy",
        ],
        &[format!("arn:aws:iam::{admin}:policy/guardform/*")],
    );
    if any {
        b.grant_if(
            "ResponsesPassRole",
            &["iam:PassRole"],
            &[role],
            Some(json!({"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "events.amazonaws.com"]}})),
        );
    }
}

/// The caller: the organization, the delegated administrator, and the roles it assumes.
fn caller(wanted: For, assumed: &BTreeSet<String>) -> Vec<Statement> {
    let mut b = Builder::new(wanted);
    b.grant(
        "Organization",
        &[
            "organizations:DescribeOrganization",
            "organizations:ListAccounts",
            "organizations:ListRoots",
            "organizations:ListOrganizationalUnitsForParent",
            "organizations:ListAccountsForParent",
            "organizations:ListTagsForResource",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:ListDelegatedAdministrators",
            "guardduty:ListOrganizationAdminAccounts",
            // `guardform init`: the Regions of the caller's account, where it looks.
            "account:ListRegions",
            "guardduty:EnableOrganizationAdminAccount",
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
        ],
        &all(),
    )
    .grant(
        "ReadGuardDutyServiceLinkedRoles",
        &["iam:GetRole"],
        // By path once made, by name while missing (the ARN of a missing role has no path).
        &[
            "arn:aws:iam::*:role/aws-service-role/*guardduty.amazonaws.com/*".to_string(),
            "arn:aws:iam::*:role/AWSServiceRoleForAmazonGuardDuty*".to_string(),
        ],
    )
    .grant_if(
        "GuardDutyServiceLinkedRoles",
        &["iam:CreateServiceLinkedRole"],
        &["arn:aws:iam::*:role/aws-service-role/*guardduty.amazonaws.com/*".to_string()],
        Some(json!({"StringLike": {"iam:AWSServiceName": ["guardduty.amazonaws.com", "malware-protection.guardduty.amazonaws.com"]}})),
    );
    b.grant(
        "AssumeGuardformRoles",
        &["sts:AssumeRole"],
        &assumed.iter().cloned().collect::<Vec<_>>(),
    );
    b.statements
}

/// The role ARN guardform assumes in `account`.
fn role_arn(manifest: &Manifest, account: &str) -> String {
    crate::cloud::aws::RoleSettings {
        member_role: manifest.organization.member_role.clone(),
        account_roles: manifest.organization.account_roles.clone(),
    }
    .role_arn(account)
}

/// Every principal's policy for `manifest`.
pub fn policies(manifest: &Manifest, wanted: For) -> Vec<Principal> {
    let admin = manifest.organization.delegated_admin.clone();
    let mut others: BTreeMap<String, (Vec<String>, Builder)> = BTreeMap::new();
    let mut add = |account: &str, why: String, grants: &dyn Fn(&mut Builder)| {
        let entry = others
            .entry(account.to_string())
            .or_insert_with(|| (Vec::new(), Builder::new(wanted)));
        entry.0.push(why);
        grants(&mut entry.1);
    };
    if let Some(section) = export::of(manifest) {
        let bucket = format!("arn:aws:s3:::{}", section.bucket);
        add(
            &section.bucket_account,
            format!("the findings export's bucket {}", section.bucket),
            &|b| {
                b.grant(
                    "ExportBucket",
                    &[
                        "s3:ListBucket",
                        "s3:CreateBucket",
                        "s3:GetBucketPolicy",
                        "s3:PutBucketPolicy",
                        "s3:GetBucketTagging",
                        "s3:PutBucketTagging",
                        "s3:GetEncryptionConfiguration",
                        "s3:PutEncryptionConfiguration",
                        "s3:GetBucketPublicAccessBlock",
                        "s3:PutBucketPublicAccessBlock",
                    ],
                    std::slice::from_ref(&bucket),
                );
            },
        );
        let key_account = section.key.account().to_string();
        let (why, mut keys) = match &section.key {
            export::KeySpec::Alias { account, alias } => (
                format!("the findings export's key alias/{alias}"),
                vec![
                    format!("arn:aws:kms:*:{account}:key/*"),
                    format!("arn:aws:kms:*:{account}:alias/{alias}"),
                ],
            ),
            export::KeySpec::Arn(arn) => (
                format!("the findings export's key {arn}"),
                vec![arn.clone()],
            ),
        };
        keys.sort();
        add(&key_account, why, &|b| {
            b.grant(
                "ExportKeyAccountLevel",
                &["kms:ListKeys", "kms:ListAliases", "kms:CreateKey"],
                &all(),
            )
            .grant(
                "ExportKey",
                &[
                    "kms:DescribeKey",
                    "kms:GetKeyPolicy",
                    "kms:PutKeyPolicy",
                    "kms:ListResourceTags",
                    "kms:TagResource",
                    "kms:CreateAlias",
                ],
                &keys,
            );
        });
    }
    for plan in malware_s3::of(manifest) {
        let account = plan.account.clone();
        add(
            &account,
            format!("Malware Protection for bucket {}", plan.bucket),
            &|b| {
                let roles = format!("arn:aws:iam::{account}:role/guardform-malware/*");
                // A role not made yet has no path in its ARN: reads name it by name.
                let by_name = format!("arn:aws:iam::{account}:role/guardform-mp-*");
                b.grant("MalwarePlansAccountLevel", &["guardduty:ListMalwareProtectionPlans", "guardduty:CreateMalwareProtectionPlan"], &all())
                .grant("MalwarePlans", &["guardduty:GetMalwareProtectionPlan", "guardduty:UpdateMalwareProtectionPlan", "guardduty:DeleteMalwareProtectionPlan", "guardduty:TagResource"], &[format!("arn:aws:guardduty:*:{account}:malware-protection-plan/*")])
                .grant("MalwareRoles", &["iam:GetRole", "iam:GetRolePolicy", "iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:TagRole"], &[roles.clone(), by_name])
                .grant_if("MalwarePassRole", &["iam:PassRole"], std::slice::from_ref(&roles), Some(json!({"StringEquals": {"iam:PassedToService": "malware-protection-plan.guardduty.amazonaws.com"}})));
            },
        );
    }
    // An account that is also the administrator gets its statements in the administrator's
    // policy.
    let mut admin_statements = administrator(manifest, wanted);
    if let Some((_, b)) = others.remove(&admin) {
        admin_statements.extend(b.statements);
    }
    let mut assumed: BTreeSet<String> = BTreeSet::from([role_arn(manifest, &admin)]);
    assumed.extend(others.keys().map(|a| role_arn(manifest, a)));
    let mut out = vec![
        Principal {
            name: "caller".into(),
            account: manifest.organization.management_account.clone(),
            role: None,
            why: "the credentials guardform runs with, in the organization's management account"
                .into(),
            statements: caller(wanted, &assumed),
        },
        Principal {
            name: "administrator".into(),
            account: Some(admin.clone()),
            role: Some(role_arn(manifest, &admin)),
            why: "the delegated GuardDuty administrator".into(),
            statements: admin_statements,
        },
    ];
    for (account, (why, b)) in others {
        if b.statements.is_empty() {
            continue;
        }
        out.push(Principal {
            name: format!("account {account}"),
            account: Some(account.clone()),
            role: Some(role_arn(manifest, &account)),
            why: why.join("; "),
            statements: b.statements,
        });
    }
    out
}

/// An IAM policy document of a principal's statements.
pub fn document(principal: &Principal) -> Value {
    json!({"Version": "2012-10-17", "Statement": principal.statements})
}

/// Whether `principal` allows `action` (the actions only; resources are for IAM to check).
pub fn allows(principal: &Principal, action: &str) -> bool {
    principal
        .statements
        .iter()
        .any(|s| s.actions.contains(action))
}

/// The policies as JSON: one document per principal, with where it goes.
pub fn render_json(principals: &[Principal]) -> String {
    let list: Vec<Value> = principals
        .iter()
        .map(|p| json!({"principal": p.name, "account": p.account, "role": p.role, "why": p.why, "policy": document(p)}))
        .collect();
    serde_json::to_string_pretty(&json!({"policies": list})).unwrap_or_default() + "\n"
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The policies as Terraform `aws_iam_policy` resources (attach them to the roles named).
pub fn render_terraform(principals: &[Principal]) -> String {
    let mut out = String::from("# Generated by `guardform policy --format terraform`.\n");
    for p in principals {
        let document = serde_json::to_string_pretty(&document(p)).unwrap_or_default();
        out.push_str(&format!(
            "\n# {} ({}){}\nresource \"aws_iam_policy\" \"guardform_{}\" {{\n  name   = \"guardform-{}\"\n  policy = <<-EOT\n{}\n  EOT\n}}\n",
            p.name,
            p.why,
            p.role.as_ref().map(|r| format!(": attach to {r}")).unwrap_or_default(),
            slug(&p.name),
            slug(&p.name).replace('_', "-"),
            document
                .lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    out
}

/// The policies as a CloudFormation template of `AWS::IAM::ManagedPolicy` resources.
pub fn render_cloudformation(principals: &[Principal]) -> String {
    let resources: serde_json::Map<String, Value> = principals
        .iter()
        .map(|p| {
            let id: String = format!("Guardform{}", slug(&p.name).replace('_', ""));
            (
                id,
                json!({
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "ManagedPolicyName": format!("guardform-{}", slug(&p.name).replace('_', "-")),
                        "Description": format!("{}: {}", p.name, p.why),
                        "PolicyDocument": document(p),
                    }
                }),
            )
        })
        .collect();
    serde_json::to_string_pretty(&json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "IAM policies guardform needs (guardform policy --format cloudformation)",
        "Resources": resources,
    }))
    .unwrap_or_default()
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/full.yaml"),
        )
        .unwrap();
        let (manifest, diagnostics) =
            crate::kinds::check(&source, std::path::Path::new("manifests"));
        manifest.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    #[test]
    fn operations_map_to_the_actions_iam_checks() {
        assert_eq!(iam_actions("S3", "HeadBucket"), vec!["s3:ListBucket"]);
        assert_eq!(
            iam_actions("S3", "PutPublicAccessBlock"),
            vec!["s3:PutBucketPublicAccessBlock"]
        );
        assert_eq!(
            iam_actions("GuardDuty", "ListMembers"),
            vec!["guardduty:ListMembers"]
        );
        assert_eq!(
            iam_actions("EventBridge", "PutRule"),
            vec!["events:PutRule"]
        );
        assert!(iam_actions("STS", "GetCallerIdentity").is_empty());
        assert!(iam_actions("Lambda", "CreateFunction").contains(&"iam:PassRole".to_string()));
    }

    #[test]
    fn every_format_carries_every_principal() {
        let principals = policies(&manifest(), For::Apply);
        let names: Vec<&str> = principals.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "caller",
                "administrator",
                "account 333333333333",
                "account 400000000001"
            ]
        );
        let cloudformation: Value =
            serde_json::from_str(&render_cloudformation(&principals)).unwrap();
        assert_eq!(cloudformation["Resources"].as_object().unwrap().len(), 4);
        let terraform = render_terraform(&principals);
        assert_eq!(terraform.matches("resource \"aws_iam_policy\"").count(), 4);
        let json: Value = serde_json::from_str(&render_json(&principals)).unwrap();
        assert_eq!(
            json["policies"][1]["role"],
            "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
        );
        // PassRole only to the services that take guardform's roles.
        let admin = &principals[1];
        let pass = admin
            .statements
            .iter()
            .find(|s| s.actions.contains("iam:PassRole"))
            .unwrap();
        assert!(pass.condition.is_some());
        assert!(allows(admin, "lambda:CreateFunction"));
        assert!(!allows(
            &policies(&manifest(), For::Plan)[1],
            "lambda:CreateFunction"
        ));
    }
}
