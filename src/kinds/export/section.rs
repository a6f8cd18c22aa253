//! The `export:` section: GuardDuty's findings export (a publishing destination per
//! administrator detector) to an S3 bucket, encrypted with a KMS key.

use crate::manifest::diagnostic::Diagnostic;
use crate::manifest::yaml::Node;
use crate::manifest::{Checker, Entries, Manifest, Section, SectionValue, schema};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

/// The section's name and key.
pub const NAME: &str = "export";

/// Where findings go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSpec {
    /// The bucket's account (typically the log archive).
    pub bucket_account: String,
    pub bucket: String,
    /// Objects go under `PREFIX/AWSLogs/...`; empty for the bucket's root.
    pub prefix: String,
    /// The bucket's and the key's Region (KMS keys are Regional; GuardDuty needs the key in the
    /// bucket's Region); `None`: the home Region.
    pub region: Option<String>,
    pub key: KeySpec,
    /// Take over publishing destinations guardform did not create.
    pub adopt: bool,
}

/// The KMS key findings are encrypted with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum KeySpec {
    /// `alias/NAME` in `account`: created (with the alias) if missing.
    Alias { account: String, alias: String },
    /// An existing key, by ARN: guardform adds its statement to the key policy.
    Arn(String),
}

impl KeySpec {
    /// The key's account.
    pub fn account(&self) -> &str {
        match self {
            KeySpec::Alias { account, .. } => account,
            KeySpec::Arn(arn) => arn.split(':').nth(4).unwrap_or_default(),
        }
    }
}

/// The export settings of a checked manifest (`None` when there is no `export:`).
pub fn of(manifest: &Manifest) -> Option<&ExportSpec> {
    manifest
        .sections
        .get::<Option<ExportSpec>>(NAME)
        .and_then(Option::as_ref)
}

/// The `export:` section.
pub struct ExportSection;

impl Section for ExportSection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("", &["export"]),
            ("export", &["bucket", "kms_key", "region", "adopt"]),
            ("export.bucket", &["account", "name", "prefix"]),
            ("export.kms_key", &["account", "alias", "arn"]),
        ]
    }

    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue> {
        let Some(node) = top.get(NAME) else {
            return Some(Arc::new(None::<ExportSpec>));
        };
        let spec = export(checker, node)?;
        Some(Arc::new(Some(spec)))
    }

    fn schema(&self) -> serde_json::Map<String, serde_json::Value> {
        let account = schema::account_id();
        let mut properties = serde_json::Map::new();
        properties.insert(
            NAME.into(),
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["bucket", "kms_key"],
                "description": "Export findings from the administrator's detector in every targeted Region to S3, encrypted with KMS.",
                "properties": {
                    "bucket": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["account", "name"],
                        "properties": {
                            "account": account,
                            "name": {"type": "string", "pattern": format!("^{}$", schema::BUCKET)},
                            "prefix": {
                                "type": ["string", "number"],
                                "description": "A folder path without leading or trailing `/`; GuardDuty adds `AWSLogs/ACCOUNT/GuardDuty/REGION/` under it.",
                                "not": {"type": "string", "anyOf": [{"pattern": "^/"}, {"pattern": "/$"}, {"pattern": "//"}, {"pattern": "[aA][wW][sS][lL][oO][gG][sS]"}]}
                            }
                        }
                    },
                    "kms_key": {
                        "type": "object",
                        "additionalProperties": false,
                        "description": "An existing key by `arn`, or a key guardform creates if missing by `account` and `alias`.",
                        "if": {"required": ["arn"]},
                        "then": {"not": {"anyOf": [{"required": ["alias"]}, {"required": ["account"]}]}},
                        "else": {"required": ["account", "alias"]},
                        "properties": {
                            "account": account,
                            "alias": {"type": "string", "pattern": "^(alias/(?!aws/)[A-Za-z0-9/_-]{1,250}|(?!alias/)(?!aws/)[A-Za-z0-9/_-]{1,250})$"},
                            "arn": {"type": "string", "pattern": "^arn:aws[^:]*:kms:[^:]*:[0-9]{12}:key/"}
                        }
                    },
                    "region": schema::region(),
                    "adopt": {"type": "boolean", "default": false, "description": "Take over publishing destinations guardform did not create."}
                }
            }),
        );
        properties
    }
}

fn export(checker: &mut Checker, node: &Node) -> Option<ExportSpec> {
    let entries = checker.mapping(node, "export", "`export`")?;
    let bucket = checker
        .required(
            &entries,
            "bucket",
            "`export`",
            "add `bucket: { account: \"333333333333\", name: my-findings-bucket }`",
        )
        .and_then(|node| bucket(checker, node));
    let key = checker
        .required(&entries, "kms_key", "`export`", "add `kms_key: { account: \"222222222222\", alias: guardform-findings }` (GuardDuty exports only encrypted findings)")
        .and_then(|node| kms_key(checker, node));
    let region = match entries.get("region") {
        Some(node) => checker.region(node, "`export.region`").map(Some),
        None => Some(None),
    };
    let adopt = entries
        .get("adopt")
        .map(|n| checker.bool(n, "`export.adopt`"))
        .unwrap_or(Some(false));
    let (bucket_account, bucket, prefix) = bucket?;
    let key = key?;
    if let (KeySpec::Arn(arn), Some(Some(region))) = (&key, &region)
        && arn.split(':').nth(3) != Some(region.as_str())
    {
        checker.error(
            Diagnostic::error(
                entries.get("kms_key").map(|n| n.position),
                format!("the KMS key `{arn}` is not in the export Region {region}"),
            )
            .hint("GuardDuty needs the key in the bucket's Region"),
        );
        return None;
    }
    Some(ExportSpec {
        bucket_account,
        bucket,
        prefix,
        region: region?,
        key,
        adopt: adopt?,
    })
}

fn bucket(checker: &mut Checker, node: &Node) -> Option<(String, String, String)> {
    let entries = checker.mapping(node, "export.bucket", "`export.bucket`")?;
    let account = checker
        .required(
            &entries,
            "account",
            "`export.bucket`",
            "add the account that owns the bucket (typically the log archive)",
        )
        .and_then(|n| checker.account_id(n, "`export.bucket.account`"));
    let name = checker
        .required(
            &entries,
            "name",
            "`export.bucket`",
            "add `name: my-findings-bucket`",
        )
        .and_then(|n| {
            let name = checker.string(n, "`export.bucket.name`")?;
            if crate::manifest::catalog::is_bucket_name(&name) {
                return Some(name);
            }
            checker.error(
                Diagnostic::error(Some(n.position), format!("invalid bucket name `{name}`"))
                    .expected("3 to 63 lowercase letters, digits, dots and hyphens"),
            );
            None
        });
    let prefix = match entries.get("prefix") {
        Some(n) => checker.string(n, "`export.bucket.prefix`").and_then(|p| {
            let valid = !p.starts_with('/')
                && !p.ends_with('/')
                && !p.contains("//")
                && !p.to_ascii_lowercase().contains("awslogs");
            if valid {
                return Some(p);
            }
            checker.error(
                Diagnostic::error(Some(n.position), format!("invalid prefix `{p}`"))
                    .expected("a folder path without leading or trailing `/` (GuardDuty adds `AWSLogs/ACCOUNT/GuardDuty/REGION/` under it)"),
            );
            None
        }),
        None => Some(String::new()),
    };
    Some((account?, name?, prefix?))
}

fn kms_key(checker: &mut Checker, node: &Node) -> Option<KeySpec> {
    let entries = checker.mapping(node, "export.kms_key", "`export.kms_key`")?;
    if let Some(arn_node) = entries.get("arn") {
        if entries.get("alias").is_some() || entries.get("account").is_some() {
            checker.error(
                Diagnostic::error(Some(node.position), "`export.kms_key` gives both an ARN and an alias or account")
                    .hint("name an existing key by `arn:`, or a key guardform creates if missing by `account:` and `alias:`"),
            );
            return None;
        }
        let arn = checker.arn(arn_node, "`export.kms_key.arn`", "kms")?;
        if !arn.split(':').nth(5).is_some_and(|r| r.starts_with("key/")) {
            checker.error(
                Diagnostic::error(
                    Some(arn_node.position),
                    format!("`{arn}` is not a KMS key ARN"),
                )
                .expected("arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"),
            );
            return None;
        }
        return Some(KeySpec::Arn(arn));
    }
    let account = checker
        .required(&entries, "account", "`export.kms_key`", "add `account:` (the key's account, typically the administrator's) or give the key's `arn:`")
        .and_then(|n| checker.account_id(n, "`export.kms_key.account`"));
    let alias = checker
        .required(
            &entries,
            "alias",
            "`export.kms_key`",
            "add `alias: guardform-findings`",
        )
        .and_then(|n| {
            let alias = checker.string(n, "`export.kms_key.alias`")?;
            let bare = alias.strip_prefix("alias/").unwrap_or(&alias).to_string();
            let valid = (1..=250).contains(&bare.len())
                && !bare.starts_with("aws/")
                && bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
            if valid {
                return Some(bare);
            }
            checker.error(
                Diagnostic::error(Some(n.position), format!("invalid KMS alias `{alias}`"))
                    .expected("letters, digits, `/`, `_` and `-`, not starting with `aws/`"),
            );
            None
        });
    Some(KeySpec::Alias {
        account: account?,
        alias: alias?,
    })
}
