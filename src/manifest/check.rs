//! Turns the YAML tree into a [`Manifest`], collecting every problem on the way.

use super::yaml::{self, Node, Position, Value, parse_bool};
use super::{
    AccountSelection, AccountSelector, DeepSecuritySource, DetectorSettings, FORMAT_VERSION,
    FeatureSetting, IpListSpec, ListSource, Manifest, OrganizationSettings, RegionInclude,
    RegionSelection, ResponseAction, ResponseSpec, RunSpec, Storage, When,
};
use crate::kinds::ip_lists::normalize::ListKind;
use crate::manifest::catalog;
use crate::manifest::diagnostic::{Diagnostic, did_you_mean};
use std::collections::BTreeMap;

/// The keys each mapping of the manifest accepts, by section path. The JSON Schema is checked
/// against this table in tests.
pub const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "version",
            "organization",
            "accounts",
            "regions",
            "detector",
            "ip_lists",
            "storage",
            "responses",
        ],
    ),
    (
        "organization",
        &[
            "management_account",
            "delegated_admin",
            "member_role",
            "account_roles",
            "auto_enable",
        ],
    ),
    ("accounts", &["include", "exclude"]),
    ("accounts.include", &["all", "ids", "ous", "tags"]),
    ("accounts.exclude", &["ids", "ous", "tags"]),
    ("regions", &["include", "exclude"]),
    (
        "detector",
        &["finding_publishing_frequency", "features", "tags"],
    ),
    ("detector.features.*", &["status", "additional"]),
    (
        "ip_lists.*",
        &["name", "kind", "source", "format", "allow_broad", "adopt"],
    ),
    (
        "ip_lists.*.source",
        &["inline", "file", "url", "s3", "deep_security"],
    ),
    (
        "ip_lists.*.source.deep_security",
        &["url", "ip_list", "api_key_env", "ca_file", "auth_header"],
    ),
    ("storage", &["bucket", "region"]),
    (
        "responses.*",
        &["name", "when", "run", "send_to", "dlq", "retry"],
    ),
    (
        "responses.*.when",
        &["severity", "labels", "types", "resource_types"],
    ),
    ("responses.*.when.severity", &["min", "max"]),
    (
        "responses.*.run",
        &["bundle", "env", "secrets", "timeout", "memory"],
    ),
    ("responses.*.send_to", &["sns", "event_bus"]),
    (
        "responses.*.retry",
        &["maximum_attempts", "maximum_event_age"],
    ),
];

/// GuardDuty severity labels and their ranges (`[low, high)`).
pub const SEVERITY_LABELS: &[(&str, f64, f64)] = &[
    ("LOW", 1.0, 4.0),
    ("MEDIUM", 4.0, 7.0),
    ("HIGH", 7.0, 9.0),
    ("CRITICAL", 9.0, 10.1),
];

/// `detail.resource.resourceType` values of GuardDuty findings.
pub const RESOURCE_TYPES: &[&str] = &[
    "AccessKey",
    "Container",
    "EC2Instance",
    "ECSCluster",
    "EKSCluster",
    "Instance",
    "KubernetesCluster",
    "Lambda",
    "RDSDBInstance",
    "RDSLimitlessDB",
    "S3Bucket",
    "S3Object",
];

/// List formats GuardDuty reads (`TXT` is normalised by guardform, the others pass through).
pub const LIST_FORMATS: &[&str] = &[
    "TXT",
    "STIX",
    "OTX_CSV",
    "ALIEN_VAULT",
    "PROOF_POINT",
    "FIRE_EYE",
];

/// Sections a later guardform version will add; named so the error can say so.
const FUTURE_SECTIONS: &[&str] = &["responses", "suppression_filters", "publishing_destination"];

fn known_keys(section: &str) -> &'static [&'static str] {
    KNOWN_KEYS
        .iter()
        .find(|(name, _)| *name == section)
        .map(|(_, keys)| *keys)
        .unwrap_or(&[])
}

/// Checks manifest text. Returns the manifest when it could be built (possibly with warnings)
/// and every diagnostic found.
pub fn check(source: &str) -> (Option<Manifest>, Vec<Diagnostic>) {
    let (manifest, diagnostics, _) = check_with_responses(source);
    (manifest, diagnostics)
}

/// [`check`], also returning every response entry that parsed.
pub fn check_with_responses(
    source: &str,
) -> (Option<Manifest>, Vec<Diagnostic>, Vec<ResponseSpec>) {
    let root = match yaml::load(source) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return (
                None,
                vec![
                    Diagnostic::error(None, "the manifest is empty")
                        .expected("a mapping with `version: 1`, `organization`, `accounts`, `regions` and `detector`")
                        .hint("run `guardform schema` for the full format, or start from manifests/minimal.yaml"),
                ],
                Vec::new(),
            );
        }
        Err(problems) => {
            return (
                None,
                problems
                    .into_iter()
                    .map(|p| Diagnostic::error(Some(p.position), p.message))
                    .collect(),
                Vec::new(),
            );
        }
    };
    let mut checker = Checker::default();
    let manifest = checker.manifest(&root);
    (manifest, checker.diagnostics, checker.responses)
}

#[derive(Default)]
struct Checker {
    diagnostics: Vec<Diagnostic>,
    /// Responses that parsed, even when other parts of the manifest did not (their bundles are
    /// checked too, so every problem is reported at once).
    responses: Vec<ResponseSpec>,
}

/// The entries of a checked mapping, by key.
struct Entries<'n> {
    node: &'n Node,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Entries<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, value)| *value)
    }
}

fn key_position(node: &Node) -> Option<Position> {
    Some(node.position)
}

impl Checker {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn type_error(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            Diagnostic::error(
                Some(node.position),
                format!("{what}: expected {expected}, found {}", node.kind_name()),
            )
            .expected(expected.to_string()),
        );
    }

    /// Checks that `node` is a mapping with only known keys.
    fn mapping<'n>(&mut self, node: &'n Node, section: &str, what: &str) -> Option<Entries<'n>> {
        let Value::Mapping(pairs) = &node.value else {
            if node.is_null() {
                return Some(Entries {
                    node,
                    entries: Vec::new(),
                });
            }
            self.type_error(node, what, "a mapping");
            return None;
        };
        let allowed = known_keys(section);
        let mut entries = Vec::new();
        for (key, value) in pairs {
            let Some(name) = key.as_scalar() else {
                self.error(Diagnostic::error(
                    Some(key.position),
                    format!("{what}: keys must be plain strings"),
                ));
                continue;
            };
            if !allowed.contains(&name) {
                let secret_key = name == "api_key" || name == "api_secret_key";
                let mut diagnostic = Diagnostic::error(
                    Some(if secret_key && !value.is_null() {
                        value.position
                    } else {
                        key.position
                    }),
                    format!("unknown key `{name}` in {what}"),
                )
                .expected(format!("one of: {}", allowed.join(", ")))
                .suggest(name, allowed.iter().copied());
                if secret_key {
                    diagnostic = diagnostic.secret().hint(
                        "never put the API key in the manifest: keep it in an environment variable (a CI secret) and name the variable with `api_key_env`",
                    );
                }
                if section.is_empty() && FUTURE_SECTIONS.contains(&name) {
                    diagnostic = diagnostic.hint(format!(
                        "`{name}` is not supported by this version of guardform yet"
                    ));
                }
                self.error(diagnostic);
                continue;
            }
            entries.push((name, key, value));
        }
        Some(Entries { node, entries })
    }

    fn required<'n>(
        &mut self,
        entries: &Entries<'n>,
        key: &str,
        what: &str,
        hint: &str,
    ) -> Option<&'n Node> {
        let found = entries.get(key).filter(|node| !node.is_null());
        if found.is_none() {
            let position = entries
                .entries
                .iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, key_node, _)| key_node.position)
                .or((what != "the manifest").then_some(entries.node.position));
            self.error(
                Diagnostic::error(position, format!("missing `{key}` in {what}"))
                    .hint(hint.to_string()),
            );
        }
        found
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if node.as_scalar().is_some() => Some(text.clone()),
            _ => {
                self.type_error(node, what, "a string");
                None
            }
        }
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if parse_bool(text).is_some() => parse_bool(text),
            Value::Scalar {
                text,
                quoted: false,
            } if matches!(
                text.to_ascii_lowercase().as_str(),
                "yes" | "no" | "on" | "off" | "y" | "n"
            ) =>
            {
                let fix = if matches!(text.to_ascii_lowercase().as_str(), "yes" | "on" | "y") {
                    "true"
                } else {
                    "false"
                };
                self.error(
                    Diagnostic::error(
                        Some(node.position),
                        format!("{what}: expected true or false, found `{text}`"),
                    )
                    .expected("true or false")
                    .hint(format!(
                        "YAML 1.2 reads `{text}` as a string; write `{fix}`"
                    )),
                );
                None
            }
            _ => {
                self.type_error(node, what, "true or false");
                None
            }
        }
    }

    fn one_of(&mut self, node: &Node, what: &str, allowed: &[&str]) -> Option<String> {
        let text = self.string(node, what)?;
        if allowed.contains(&text.as_str()) {
            return Some(text);
        }
        self.error(
            Diagnostic::error(Some(node.position), format!("invalid {what} `{text}`"))
                .expected(format!("one of: {}", allowed.join(", ")))
                .suggest(&text, allowed.iter().copied()),
        );
        None
    }

    fn account_id(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.string(node, what)?;
        if catalog::is_account_id(&text) {
            return Some(text);
        }
        let hint = if text.chars().all(|c| c.is_ascii_digit()) && text.len() < 12 {
            "account ids have exactly 12 digits; quote ids with leading zeros (\"012345678901\") so YAML keeps them"
        } else {
            "an AWS account id is 12 digits, e.g. \"111111111111\""
        };
        self.error(
            Diagnostic::error(
                Some(node.position),
                format!("invalid account id `{text}` in {what}"),
            )
            .expected("a 12-digit AWS account id")
            .hint(hint),
        );
        None
    }

    fn list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<&'n Node> {
        match &node.value {
            Value::Sequence(items) => items.iter().collect(),
            _ if node.is_null() => Vec::new(),
            _ => {
                self.type_error(node, what, "a list");
                Vec::new()
            }
        }
    }

    fn tags(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        let Value::Mapping(pairs) = &node.value else {
            if !node.is_null() {
                self.type_error(node, what, "a mapping of tag keys to values");
            }
            return tags;
        };
        for (key, value) in pairs {
            let Some(name) = self.string(key, what) else {
                continue;
            };
            let Some(text) = self.string(value, &format!("tag `{name}`")) else {
                continue;
            };
            if name.is_empty() || name.chars().count() > 128 {
                self.error(Diagnostic::error(
                    Some(key.position),
                    format!("tag key `{name}` must be 1 to 128 characters"),
                ));
            } else if name.to_ascii_lowercase().starts_with("aws:") {
                self.error(
                    Diagnostic::error(
                        Some(key.position),
                        format!("tag key `{name}` uses the reserved `aws:` prefix"),
                    )
                    .hint("AWS reserves tag keys that start with `aws:`"),
                );
            }
            if text.chars().count() > 256 {
                self.error(Diagnostic::error(
                    Some(value.position),
                    format!("tag `{name}`: values are at most 256 characters"),
                ));
            }
            tags.insert(name, text);
        }
        tags
    }

    fn manifest(&mut self, root: &Node) -> Option<Manifest> {
        let top = self.mapping(root, "", "the manifest")?;
        let hint_version = "start the manifest with `version: 1`";
        let version = self
            .required(&top, "version", "the manifest", hint_version)
            .and_then(
                |node| match node.as_scalar().and_then(|t| t.parse::<u64>().ok()) {
                    Some(FORMAT_VERSION) => Some(FORMAT_VERSION),
                    _ => {
                        self.error(
                            Diagnostic::error(
                                Some(node.position),
                                format!(
                                    "unsupported manifest version `{}`",
                                    node.as_scalar().unwrap_or("?")
                                ),
                            )
                            .expected("1")
                            .hint("this guardform reads manifest format version 1"),
                        );
                        None
                    }
                },
            );
        let organization = self
            .required(
                &top,
                "organization",
                "the manifest",
                "add `organization:` with at least `delegated_admin`",
            )
            .and_then(|node| self.organization(node));
        let accounts = self
            .required(
                &top,
                "accounts",
                "the manifest",
                "add `accounts: { include: { all: true } }` or name ids, OUs or tags",
            )
            .and_then(|node| self.accounts(node));
        let regions = self
            .required(
                &top,
                "regions",
                "the manifest",
                "add `regions: { include: all-enabled }` or a list of Regions",
            )
            .and_then(|node| self.regions(node));
        let detector = match top.get("detector") {
            Some(node) => self.detector(node),
            None => Some(DetectorSettings::default()),
        };
        let ip_lists = match top.get("ip_lists") {
            Some(node) => self.ip_lists(node),
            None => Some(Vec::new()),
        };
        let storage = match top.get("storage") {
            Some(node) => self.storage(node).map(Some),
            None => Some(None),
        };
        if let (Some(lists), Some(None)) = (&ip_lists, &storage)
            && !lists.is_empty()
        {
            self.error(
                Diagnostic::error(top.get("ip_lists").map(|n| n.position), "`ip_lists` needs `storage`")
                    .expected("`storage: { bucket: s3://BUCKET/PREFIX }`")
                    .hint("GuardDuty reads lists from S3: guardform uploads them to this bucket in the delegated administrator account"),
            );
        }
        let responses = match top.get("responses") {
            Some(node) => self.responses(node),
            None => Some(Vec::new()),
        };
        let manifest = Manifest {
            responses: responses?,
            version: version?,
            organization: organization?,
            accounts: accounts?,
            regions: regions?,
            detector: detector?,
            ip_lists: ip_lists?,
            storage: storage?,
        };
        self.cross_checks(&manifest, &top);
        Some(manifest)
    }

    fn organization(&mut self, node: &Node) -> Option<OrganizationSettings> {
        let entries = self.mapping(node, "organization", "`organization`")?;
        let management_account = entries
            .get("management_account")
            .map(|node| self.account_id(node, "`organization.management_account`"));
        let delegated_admin = self
            .required(&entries, "delegated_admin", "`organization`", "name the GuardDuty administrator (security) account, e.g. `delegated_admin: \"222222222222\"`")
            .and_then(|node| self.account_id(node, "`organization.delegated_admin`"));
        let member_role = match entries.get("member_role") {
            Some(node) => self.string(node, "`organization.member_role`").and_then(|role| {
                let valid = !role.is_empty()
                    && role.len() <= 64
                    && role.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
                if valid {
                    Some(role)
                } else {
                    self.error(
                        Diagnostic::error(Some(node.position), format!("invalid IAM role name `{role}`"))
                            .expected("1 to 64 letters, digits or +=,.@_-")
                            .hint("give the role's name, not its ARN; per-account ARNs go in `account_roles`"),
                    );
                    None
                }
            }),
            None => Some("OrganizationAccountAccessRole".to_string()),
        };
        let mut account_roles = BTreeMap::new();
        if let Some(roles) = entries.get("account_roles") {
            match &roles.value {
                Value::Mapping(pairs) => {
                    for (key, value) in pairs {
                        let account = self.account_id(key, "`organization.account_roles`");
                        let arn = self.string(value, "a role ARN");
                        if let (Some(account), Some(arn)) = (account, arn) {
                            let prefix = format!("arn:aws:iam::{account}:role/");
                            if !arn.starts_with(&prefix)
                                && !arn.contains(&format!(":iam::{account}:role/"))
                            {
                                self.error(
                                    Diagnostic::error(
                                        Some(value.position),
                                        format!(
                                            "role ARN for {account} is not a role in that account"
                                        ),
                                    )
                                    .expected(format!("{prefix}<name>")),
                                );
                            } else {
                                account_roles.insert(account, arn);
                            }
                        }
                    }
                }
                _ if roles.is_null() => {}
                _ => self.type_error(
                    roles,
                    "`organization.account_roles`",
                    "a mapping of account ids to role ARNs",
                ),
            }
        }
        let auto_enable = match entries.get("auto_enable") {
            Some(node) => self.one_of(node, "`organization.auto_enable`", catalog::AUTO_ENABLE),
            None => Some("NEW".to_string()),
        };
        Some(OrganizationSettings {
            management_account: management_account.flatten(),
            delegated_admin: delegated_admin?,
            member_role: member_role?,
            account_roles,
            auto_enable: auto_enable?,
        })
    }

    fn accounts(&mut self, node: &Node) -> Option<AccountSelection> {
        let entries = self.mapping(node, "accounts", "`accounts`")?;
        let include = self
            .required(
                &entries,
                "include",
                "`accounts`",
                "add `include: { all: true }` or name ids, OUs or tags",
            )
            .and_then(|node| self.selector(node, "accounts.include"));
        let exclude = match entries.get("exclude") {
            Some(node) => self.selector(node, "accounts.exclude"),
            None => Some(AccountSelector::default()),
        };
        let include = include?;
        if include.is_empty() {
            self.error(
                Diagnostic::error(Some(entries.get("include").map_or(node.position, |n| n.position)), "`accounts.include` selects no accounts")
                    .expected("`all: true`, or at least one of `ids`, `ous`, `tags`")
                    .hint("an empty target set would manage nothing; use `all: true` for the whole organization"),
            );
            return None;
        }
        Some(AccountSelection {
            include,
            exclude: exclude?,
        })
    }

    fn selector(&mut self, node: &Node, section: &str) -> Option<AccountSelector> {
        let what = format!("`{section}`");
        let entries = self.mapping(node, section, &what)?;
        let mut selector = AccountSelector::default();
        let mut ok = true;
        for (key, _, value) in &entries.entries {
            match *key {
                "all" => {
                    selector.all = self
                        .bool(value, &format!("`{section}.all`"))
                        .unwrap_or_else(|| {
                            ok = false;
                            false
                        })
                }
                "ids" => {
                    for item in self.list(value, &format!("`{section}.ids`")) {
                        match self.account_id(item, &format!("`{section}.ids`")) {
                            Some(id) => selector.ids.push(id),
                            None => ok = false,
                        }
                    }
                }
                "ous" => {
                    for item in self.list(value, &format!("`{section}.ous`")) {
                        match self.string(item, &format!("`{section}.ous`")) {
                            Some(ou) if !ou.trim().is_empty() => {
                                selector.ous.push(ou.trim_matches('/').to_string())
                            }
                            Some(_) => {
                                self.error(Diagnostic::error(Some(item.position), "empty OU name")
                                    .expected("an OU id (`ou-xxxx-yyyyyyyy`) or a path of OU names from the root (`Workloads/Prod`)"));
                                ok = false;
                            }
                            None => ok = false,
                        }
                    }
                }
                "tags" => selector.tags = self.tags(value, &format!("`{section}.tags`")),
                _ => {}
            }
        }
        ok.then_some(selector)
    }

    fn region(&mut self, node: &Node, what: &str) -> Option<String> {
        let name = self.string(node, what)?;
        if catalog::looks_like_region(&name) {
            if !catalog::known_regions().any(|r| r == name)
                && !name.contains("-gov-")
                && !name.starts_with("cn-")
            {
                self.diagnostics.push(
                    Diagnostic::warning(
                        Some(node.position),
                        format!("`{name}` is not a Region guardform knows"),
                    )
                    .suggest(&name, catalog::known_regions()),
                );
            }
            return Some(name);
        }
        self.error(
            Diagnostic::error(
                Some(node.position),
                format!("invalid Region `{name}` in {what}"),
            )
            .expected("a Region name such as `eu-west-1`")
            .suggest(&name, catalog::known_regions()),
        );
        None
    }

    fn regions(&mut self, node: &Node) -> Option<RegionSelection> {
        let entries = self.mapping(node, "regions", "`regions`")?;
        let include_node = self.required(
            &entries,
            "include",
            "`regions`",
            "add `include: all-enabled` or a list such as `[eu-west-1, us-east-1]`",
        )?;
        let include = match &include_node.value {
            Value::Scalar { text, .. } if text == "all-enabled" => Some(RegionInclude::AllEnabled),
            Value::Sequence(items) if items.is_empty() => {
                self.error(
                    Diagnostic::error(
                        Some(include_node.position),
                        "`regions.include` is an empty list",
                    )
                    .expected("`all-enabled` or at least one Region")
                    .hint("an empty target set would manage nothing"),
                );
                None
            }
            Value::Sequence(items) => {
                let regions: Vec<Option<String>> = items
                    .iter()
                    .map(|item| self.region(item, "`regions.include`"))
                    .collect();
                regions
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(RegionInclude::List)
            }
            _ => {
                let found = include_node.as_scalar().unwrap_or_default().to_string();
                self.error(
                    Diagnostic::error(
                        Some(include_node.position),
                        format!("invalid `regions.include`: `{found}`"),
                    )
                    .expected("`all-enabled` or a list of Regions")
                    .maybe_hint(if catalog::looks_like_region(&found) {
                        Some(format!(
                            "a single Region is still a list: `include: [{found}]`"
                        ))
                    } else {
                        did_you_mean(&found, ["all-enabled"])
                            .map(|s| format!("did you mean `{s}`?"))
                    }),
                );
                None
            }
        };
        let mut exclude = Vec::new();
        if let Some(node) = entries.get("exclude") {
            for item in self.list(node, "`regions.exclude`") {
                if let Some(region) = self.region(item, "`regions.exclude`") {
                    exclude.push(region);
                }
            }
        }
        let include = include?;
        if let RegionInclude::List(list) = &include
            && list.iter().all(|r| exclude.contains(r))
        {
            self.error(
                Diagnostic::error(
                    Some(include_node.position),
                    "every included Region is also excluded",
                )
                .hint("an empty target set would manage nothing"),
            );
            return None;
        }
        Some(RegionSelection { include, exclude })
    }

    fn detector(&mut self, node: &Node) -> Option<DetectorSettings> {
        let entries = self.mapping(node, "detector", "`detector`")?;
        let mut settings = DetectorSettings::default();
        let mut ok = true;
        if let Some(node) = entries.get("finding_publishing_frequency") {
            settings.finding_publishing_frequency = self.one_of(
                node,
                "`detector.finding_publishing_frequency`",
                catalog::PUBLISHING_FREQUENCIES,
            );
            ok &= settings.finding_publishing_frequency.is_some();
        }
        if let Some(node) = entries.get("tags") {
            settings.tags = self.tags(node, "`detector.tags`");
        }
        if let Some(features) = entries.get("features") {
            match &features.value {
                Value::Mapping(pairs) => {
                    for (key, value) in pairs {
                        let Some(name) = self.string(key, "a feature name") else {
                            ok = false;
                            continue;
                        };
                        if !catalog::FEATURES.contains(&name.as_str()) {
                            self.error(
                                Diagnostic::error(
                                    Some(key.position),
                                    format!("unknown GuardDuty feature `{name}`"),
                                )
                                .expected(format!("one of: {}", catalog::FEATURES.join(", ")))
                                .suggest(&name, catalog::FEATURES.iter().copied()),
                            );
                            ok = false;
                            continue;
                        }
                        match self.feature(&name, value) {
                            Some(setting) => {
                                settings.features.insert(name, setting);
                            }
                            None => ok = false,
                        }
                    }
                    let names: Vec<&str> =
                        pairs.iter().filter_map(|(k, _)| k.as_scalar()).collect();
                    if names.contains(&"RUNTIME_MONITORING")
                        && names.contains(&"EKS_RUNTIME_MONITORING")
                    {
                        let position = pairs
                            .iter()
                            .find(|(k, _)| k.as_scalar() == Some("EKS_RUNTIME_MONITORING"))
                            .and_then(|(k, _)| key_position(k));
                        self.error(
                            Diagnostic::error(position, "EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot both be configured")
                                .hint("GuardDuty rejects both in one request; RUNTIME_MONITORING covers EKS: move its settings there and remove EKS_RUNTIME_MONITORING"),
                        );
                        ok = false;
                    }
                }
                _ if features.is_null() => {}
                _ => {
                    self.type_error(
                        features,
                        "`detector.features`",
                        "a mapping of feature names to `enabled`/`disabled`",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(settings)
    }

    fn status(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.as_scalar() {
            Some("enabled") => Some(true),
            Some("disabled") => Some(false),
            Some(other) => {
                let lowered = other.to_ascii_lowercase();
                let hint = match lowered.as_str() {
                    "enabled" | "true" | "on" | "yes" => Some("write `enabled`".to_string()),
                    "disabled" | "false" | "off" | "no" => Some("write `disabled`".to_string()),
                    _ => did_you_mean(other, ["enabled", "disabled"])
                        .map(|s| format!("did you mean `{s}`?")),
                };
                self.error(
                    Diagnostic::error(
                        Some(node.position),
                        format!("invalid status `{other}` for {what}"),
                    )
                    .expected("`enabled` or `disabled`")
                    .maybe_hint(hint),
                );
                None
            }
            None => {
                self.type_error(node, what, "`enabled` or `disabled`");
                None
            }
        }
    }

    fn feature(&mut self, name: &str, node: &Node) -> Option<FeatureSetting> {
        let what = format!("feature `{name}`");
        if !matches!(node.value, Value::Mapping(_)) {
            return self.status(node, &what).map(|enabled| FeatureSetting {
                enabled,
                additional: BTreeMap::new(),
            });
        }
        let entries = self.mapping(node, "detector.features.*", &what)?;
        let enabled = self
            .required(
                &entries,
                "status",
                &what,
                "add `status: enabled` or `status: disabled`",
            )
            .and_then(|node| self.status(node, &what));
        let mut additional = BTreeMap::new();
        let mut ok = true;
        if let Some(extra) = entries.get("additional") {
            let allowed = catalog::additional_configurations(name);
            match &extra.value {
                Value::Mapping(pairs) => {
                    for (key, value) in pairs {
                        let Some(config) = self.string(key, "an additional configuration name")
                        else {
                            ok = false;
                            continue;
                        };
                        if !allowed.contains(&config.as_str()) {
                            let expected = if allowed.is_empty() {
                                format!("no additional configuration: `{name}` has none")
                            } else {
                                format!("one of: {}", allowed.join(", "))
                            };
                            self.error(
                                Diagnostic::error(
                                    Some(key.position),
                                    format!(
                                        "unknown additional configuration `{config}` for `{name}`"
                                    ),
                                )
                                .expected(expected)
                                .suggest(&config, allowed.iter().copied()),
                            );
                            ok = false;
                            continue;
                        }
                        match self.status(value, &format!("`{name}.{config}`")) {
                            Some(status) => {
                                additional.insert(config, status);
                            }
                            None => ok = false,
                        }
                    }
                }
                _ if extra.is_null() => {}
                _ => {
                    self.type_error(
                        extra,
                        &format!("`{name}.additional`"),
                        "a mapping of names to `enabled`/`disabled`",
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        Some(FeatureSetting {
            enabled: enabled?,
            additional,
        })
    }

    fn url(&mut self, node: &Node, what: &str) -> Option<String> {
        let url = self.string(node, what)?;
        let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
            .iter()
            .any(|prefix| {
                url.starts_with(prefix)
                    && url[prefix.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| c == ':' || c == '/')
            });
        if url.starts_with("https://") && url.len() > "https://".len() {
            return Some(url);
        }
        if loopback {
            self.diagnostics.push(
                Diagnostic::warning(Some(node.position), format!("{what} uses plain HTTP"))
                    .hint("plain HTTP is accepted on loopback only (for local tests); use HTTPS anywhere else"),
            );
            return Some(url);
        }
        self.error(
            Diagnostic::error(
                Some(node.position),
                format!("{what} must be an HTTPS URL, not `{url}`"),
            )
            .expected("https://HOST[:PORT]/PATH")
            .hint("lists change what GuardDuty alerts on: they are fetched over verified TLS only"),
        );
        None
    }

    fn s3_url(&mut self, node: &Node, what: &str, key_required: bool) -> Option<(String, String)> {
        let text = self.string(node, what)?;
        let parsed = text.strip_prefix("s3://").map(|rest| {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            (bucket.to_string(), key.trim_matches('/').to_string())
        });
        let valid_bucket = |b: &str| {
            (3..=63).contains(&b.len())
                && b.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && b.starts_with(|c: char| c.is_ascii_alphanumeric())
                && b.ends_with(|c: char| c.is_ascii_alphanumeric())
        };
        match parsed {
            Some((bucket, key)) if valid_bucket(&bucket) && (!key_required || !key.is_empty()) => {
                Some((bucket, key))
            }
            _ => {
                let expected = if key_required {
                    "s3://BUCKET/KEY"
                } else {
                    "s3://BUCKET or s3://BUCKET/PREFIX"
                };
                self.error(
                    Diagnostic::error(
                        Some(node.position),
                        format!("invalid S3 location `{text}` in {what}"),
                    )
                    .expected(expected)
                    .hint("bucket names are 3 to 63 lowercase letters, digits, dots and hyphens"),
                );
                None
            }
        }
    }

    fn storage(&mut self, node: &Node) -> Option<Storage> {
        let entries = self.mapping(node, "storage", "`storage`")?;
        let bucket = self
            .required(&entries, "bucket", "`storage`", "add `bucket: s3://BUCKET/PREFIX` (a bucket in the delegated administrator account)")
            .and_then(|node| self.s3_url(node, "`storage.bucket`", false));
        let region = entries
            .get("region")
            .and_then(|node| self.region(node, "`storage.region`"));
        let (bucket, prefix) = bucket?;
        Some(Storage {
            bucket,
            prefix,
            region,
        })
    }

    fn ip_lists(&mut self, node: &Node) -> Option<Vec<IpListSpec>> {
        let items = self.list(node, "`ip_lists`");
        let mut lists = Vec::new();
        let mut ok = true;
        let mut names: Vec<(String, usize)> = Vec::new();
        let (mut trusted, mut threat) = (Vec::new(), Vec::new());
        for item in items {
            match self.ip_list(item) {
                Some(list) => {
                    if let Some((_, line)) = names.iter().find(|(n, _)| *n == list.name) {
                        self.error(
                            Diagnostic::error(
                                Some(item.position),
                                format!(
                                    "duplicate IP list name `{}` (first used on line {line})",
                                    list.name
                                ),
                            )
                            .hint("GuardDuty set names are unique per account and Region"),
                        );
                        ok = false;
                    }
                    names.push((list.name.clone(), item.position.line));
                    match list.kind {
                        ListKind::Trusted => trusted.push(item.position),
                        ListKind::Threat => threat.push(item.position),
                    }
                    lists.push(list);
                }
                None => ok = false,
            }
        }
        if let Some(second) = trusted.get(1) {
            self.error(
                Diagnostic::error(Some(*second), "a second trusted IP list")
                    .expected("at most one `kind: trusted` list")
                    .hint("GuardDuty allows one trusted IP list (IPSet) per account and Region: merge the sources into one list"),
            );
            ok = false;
        }
        if let Some(seventh) = threat.get(6) {
            self.error(
                Diagnostic::error(Some(*seventh), "a seventh threat list")
                    .expected("at most six `kind: threat` lists")
                    .hint("GuardDuty allows six threat lists (ThreatIntelSets) per account and Region"),
            );
            ok = false;
        }
        ok.then_some(lists)
    }

    fn ip_list(&mut self, node: &Node) -> Option<IpListSpec> {
        let entries = self.mapping(node, "ip_lists.*", "an IP list")?;
        let name = self
            .required(
                &entries,
                "name",
                "an IP list",
                "add `name:`, which becomes the GuardDuty set name",
            )
            .and_then(|node| {
                let name = self.string(node, "`ip_lists.name`")?;
                let valid = !name.is_empty()
                    && name.len() <= 300
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " -_".contains(c));
                if valid {
                    Some(name)
                } else {
                    self.error(
                        Diagnostic::error(
                            Some(node.position),
                            format!("invalid IP list name `{name}`"),
                        )
                        .expected("1 to 300 letters, digits, spaces, `-` and `_`")
                        .hint("the name becomes the GuardDuty set name"),
                    );
                    None
                }
            });
        let what = format!("IP list `{}`", name.as_deref().unwrap_or("?"));
        let kind = self
            .required(
                &entries,
                "kind",
                &what,
                "add `kind: trusted` (an IPSet) or `kind: threat` (a ThreatIntelSet)",
            )
            .and_then(|node| self.one_of(node, "`ip_lists.kind`", &["trusted", "threat"]))
            .map(|k| {
                if k == "trusted" {
                    ListKind::Trusted
                } else {
                    ListKind::Threat
                }
            });
        let format = match entries.get("format") {
            Some(node) => self.one_of(node, "`ip_lists.format`", LIST_FORMATS),
            None => Some("TXT".to_string()),
        };
        let allow_broad = entries
            .get("allow_broad")
            .map(|n| self.bool(n, "`allow_broad`"))
            .unwrap_or(Some(false));
        let adopt = entries
            .get("adopt")
            .map(|n| self.bool(n, "`adopt`"))
            .unwrap_or(Some(false));
        let source_node = self.required(
            &entries,
            "source",
            &what,
            "add `source:` with one of `inline`, `file`, `url`, `s3`, `deep_security`",
        );
        let source = source_node.and_then(|node| self.list_source(node, &what));
        if let (Some(source), Some(format), Some(node)) = (&source, &format, source_node)
            && format != "TXT"
            && matches!(source, ListSource::Inline(_) | ListSource::DeepSecurity(_))
        {
            self.error(Diagnostic::error(Some(node.position), format!("{what}: `format: {format}` does not fit this source"))
                .expected("`format: TXT` (the default) for inline and Deep Security lists")
                .hint("inline entries and Deep Security IP lists are addresses, which guardform writes as TXT"));
            return None;
        }
        if kind == Some(ListKind::Threat) && allow_broad == Some(true) {
            self.diagnostics.push(Diagnostic::warning(
                entries.get("allow_broad").map(|n| n.position),
                format!("{what}: `allow_broad` only matters for trusted lists"),
            ));
        }
        Some(IpListSpec {
            name: name?,
            kind: kind?,
            source: source?,
            format: format?,
            allow_broad: allow_broad?,
            adopt: adopt?,
        })
    }

    fn list_source(&mut self, node: &Node, what: &str) -> Option<ListSource> {
        let entries = self.mapping(node, "ip_lists.*.source", &format!("the source of {what}"))?;
        if entries.entries.len() != 1 {
            self.error(
                Diagnostic::error(Some(node.position), format!("the source of {what} must name exactly one of `inline`, `file`, `url`, `s3`, `deep_security`"))
                    .hint("a list with several sources is several lists: give each its own entry"),
            );
            return None;
        }
        let (key, _, value) = entries.entries[0];
        match key {
            "inline" => {
                let mut items = Vec::new();
                for item in self.list(value, "`source.inline`") {
                    items.push(self.string(item, "an inline entry")?);
                }
                Some(ListSource::Inline(items))
            }
            "file" => self.string(value, "`source.file`").map(ListSource::File),
            "url" => self.url(value, "`source.url`").map(ListSource::Url),
            "s3" => self
                .s3_url(value, "`source.s3`", true)
                .map(|(bucket, key)| ListSource::S3 { bucket, key }),
            "deep_security" => {
                let ds =
                    self.mapping(value, "ip_lists.*.source.deep_security", "`deep_security`")?;
                let url = self
                    .required(
                        &ds,
                        "url",
                        "`deep_security`",
                        "the manager's base URL, e.g. `https://dsm.example.com:4119`",
                    )
                    .and_then(|n| self.url(n, "`deep_security.url`"));
                let ip_list = self
                    .required(
                        &ds,
                        "ip_list",
                        "`deep_security`",
                        "the IP list's name or numeric id in Deep Security",
                    )
                    .and_then(|n| self.string(n, "`deep_security.ip_list`"));
                let api_key_env = self
                    .required(&ds, "api_key_env", "`deep_security`", "name the environment variable that holds the API key, e.g. `api_key_env: DS_API_KEY`")
                    .and_then(|n| {
                        let name = self.string(n, "`deep_security.api_key_env`")?;
                        let valid = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
                            && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                        if valid {
                            Some(name)
                        } else {
                            self.error(Diagnostic::error(Some(n.position), format!("`{name}` is not an environment variable name"))
                                .expected("upper-case letters, digits and `_`, e.g. DS_API_KEY")
                                .hint("the manifest names the variable; the API key itself never goes into the manifest"));
                            None
                        }
                    });
                let ca_file = ds
                    .get("ca_file")
                    .and_then(|n| self.string(n, "`deep_security.ca_file`"));
                let auth_header = match ds.get("auth_header") {
                    Some(n) => self.one_of(
                        n,
                        "`deep_security.auth_header`",
                        &["api-secret-key", "authorization"],
                    ),
                    None => Some("api-secret-key".to_string()),
                };
                Some(ListSource::DeepSecurity(DeepSecuritySource {
                    url: url?.trim_end_matches('/').to_string(),
                    ip_list: ip_list?,
                    api_key_env: api_key_env?,
                    ca_file,
                    auth_header: auth_header?,
                }))
            }
            _ => None,
        }
    }

    fn number(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
        let value = node.as_scalar().and_then(|t| t.parse::<f64>().ok());
        match value {
            Some(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.error(
                    Diagnostic::error(
                        Some(node.position),
                        format!(
                            "{what}: expected a number from {min} to {max}, found `{}`",
                            node.as_scalar().unwrap_or(node.kind_name())
                        ),
                    )
                    .expected(format!("a number from {min} to {max}")),
                );
                None
            }
        }
    }

    fn arn(&mut self, node: &Node, what: &str, service: &str) -> Option<String> {
        let text = self.string(node, what)?;
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == service
            && catalog::is_account_id(parts[4])
            && !parts[5].is_empty();
        if valid {
            return Some(text);
        }
        self.error(
            Diagnostic::error(
                Some(node.position),
                format!("{what} is not an ARN of {service}"),
            )
            .expected(format!("arn:aws:{service}:REGION:ACCOUNT:..."))
            .secret(),
        );
        None
    }

    fn string_map(&mut self, node: &Node, what: &str) -> Vec<(String, Node, Node)> {
        let mut out = Vec::new();
        match &node.value {
            Value::Mapping(pairs) => {
                for (key, value) in pairs {
                    if let Some(name) = self.string(key, what) {
                        out.push((name, key.clone(), value.clone()));
                    }
                }
            }
            _ if node.is_null() => {}
            _ => self.type_error(node, what, "a mapping"),
        }
        out
    }

    fn responses(&mut self, node: &Node) -> Option<Vec<ResponseSpec>> {
        let mut responses: Vec<ResponseSpec> = Vec::new();
        let mut ok = true;
        for item in self.list(node, "`responses`") {
            match self.response(item) {
                Some(response) => {
                    if responses.iter().any(|r| r.name == response.name) {
                        self.error(Diagnostic::error(
                            response.positions.get("name").copied(),
                            format!("duplicate response name `{}`", response.name),
                        ));
                        ok = false;
                    }
                    responses.push(response);
                }
                None => ok = false,
            }
        }
        ok.then_some(responses)
    }

    fn response(&mut self, node: &Node) -> Option<ResponseSpec> {
        let entries = self.mapping(node, "responses.*", "a response")?;
        let mut positions = BTreeMap::new();
        let name = self
            .required(
                &entries,
                "name",
                "a response",
                "add `name:`; guardform names the rule, function and role `guardform-<name>`",
            )
            .and_then(|n| {
                positions.insert("name".to_string(), n.position);
                let name = self.string(n, "`responses.name`")?;
                let valid = !name.is_empty()
                    && name.len() <= 50
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if valid {
                    Some(name)
                } else {
                    self.error(
                        Diagnostic::error(
                            Some(n.position),
                            format!("invalid response name `{name}`"),
                        )
                        .expected("1 to 50 letters, digits, `-` and `_`")
                        .hint("the name becomes part of AWS resource names (guardform-<name>)"),
                    );
                    None
                }
            });
        let what = format!("response `{}`", name.as_deref().unwrap_or("?"));
        let when = match entries.get("when") {
            Some(n) => self.when(n, &what),
            None => {
                self.error(Diagnostic::error(Some(node.position), format!("missing `when` in {what}")).hint("`when: {}` sends every finding; narrow it with `severity`, `labels`, `types` or `resource_types`"));
                None
            }
        };
        let action = match (entries.get("run"), entries.get("send_to")) {
            (Some(run), None) => self
                .run(run, &what, &mut positions)
                .map(ResponseAction::Run),
            (None, Some(send)) => {
                let send_entries = self.mapping(send, "responses.*.send_to", "`send_to`")?;
                match send_entries.entries.as_slice() {
                    [("sns", _, v)] => self.arn(v, "`send_to.sns`", "sns").map(ResponseAction::Sns),
                    [("event_bus", _, v)] => self
                        .arn(v, "`send_to.event_bus`", "events")
                        .map(ResponseAction::EventBus),
                    _ => {
                        self.error(Diagnostic::error(
                            Some(send.position),
                            "`send_to` takes exactly one of `sns`, `event_bus`",
                        ));
                        None
                    }
                }
            }
            _ => {
                self.error(Diagnostic::error(Some(node.position), format!("{what} needs exactly one of `run` (a Lambda from a bundle) or `send_to` (SNS or an event bus)")));
                None
            }
        };
        let dlq = match entries.get("dlq") {
            Some(n) => Some(self.arn(n, "`dlq`", "sqs")?),
            None => None,
        };
        let (mut attempts, mut age) = (Some(8u32), Some(3600u32));
        if let Some(retry) = entries.get("retry") {
            let retry_entries = self.mapping(retry, "responses.*.retry", "`retry`")?;
            if let Some(n) = retry_entries.get("maximum_attempts") {
                attempts = self
                    .number(n, "`retry.maximum_attempts`", 0.0, 185.0)
                    .map(|v| v as u32);
            }
            if let Some(n) = retry_entries.get("maximum_event_age") {
                age = self
                    .number(n, "`retry.maximum_event_age` (seconds)", 60.0, 86400.0)
                    .map(|v| v as u32);
            }
        }
        if let (Some(name), Some(action)) = (&name, &action) {
            self.responses.push(ResponseSpec {
                name: name.clone(),
                when: when.clone().unwrap_or_default(),
                action: action.clone(),
                dlq: dlq.clone(),
                maximum_retry_attempts: 0,
                maximum_event_age_seconds: 0,
                positions: positions.clone(),
            });
        }
        Some(ResponseSpec {
            name: name?,
            when: when?,
            action: action?,
            dlq,
            maximum_retry_attempts: attempts?,
            maximum_event_age_seconds: age?,
            positions,
        })
    }

    fn when(&mut self, node: &Node, what: &str) -> Option<When> {
        let entries = self.mapping(node, "responses.*.when", &format!("`when` of {what}"))?;
        let mut when = When::default();
        let mut ok = true;
        if let Some(severity) = entries.get("severity") {
            let s = self.mapping(severity, "responses.*.when.severity", "`severity`")?;
            when.severity_min = s
                .get("min")
                .and_then(|n| self.number(n, "`severity.min`", 0.0, 10.0));
            when.severity_max = s
                .get("max")
                .and_then(|n| self.number(n, "`severity.max`", 0.0, 10.0));
            ok &= s.get("min").is_none() || when.severity_min.is_some();
            ok &= s.get("max").is_none() || when.severity_max.is_some();
            if let (Some(min), Some(max)) = (when.severity_min, when.severity_max)
                && min > max
            {
                self.error(Diagnostic::error(
                    Some(severity.position),
                    format!("`severity.min` ({min}) is above `severity.max` ({max})"),
                ));
                ok = false;
            }
        }
        if let Some(labels) = entries.get("labels") {
            let names: Vec<&str> = SEVERITY_LABELS.iter().map(|(n, _, _)| *n).collect();
            for item in self.list(labels, "`labels`") {
                match self.one_of(item, "severity label", &names) {
                    Some(label) => when.labels.push(label),
                    None => ok = false,
                }
            }
            if entries.get("severity").is_some() {
                self.error(Diagnostic::error(Some(labels.position), "give `severity` or `labels`, not both").hint("labels are severity ranges: LOW 1-3.9, MEDIUM 4-6.9, HIGH 7-8.9, CRITICAL 9-10"));
                ok = false;
            }
        }
        if let Some(types) = entries.get("types") {
            for item in self.list(types, "`types`") {
                let Some(text) = self.string(item, "a finding type") else {
                    ok = false;
                    continue;
                };
                let stars = text.matches('*').count();
                let shape = text.split_once(':').is_some_and(|(purpose, rest)| {
                    !purpose.is_empty()
                        && purpose.chars().all(|c| c.is_ascii_alphanumeric())
                        && (rest == "*" || rest.contains('/') || rest.ends_with('*'))
                });
                if stars > 1 || (stars == 1 && !text.ends_with('*')) {
                    self.error(
                        Diagnostic::error(Some(item.position), format!("finding type pattern `{text}` cannot be expressed as an EventBridge prefix match"))
                            .expected("an exact type, or a prefix ending in `*` (e.g. `Recon:EC2/*`)")
                            .hint("EventBridge matches `detail.type` exactly or by prefix; list the types you mean, or cut the pattern at its first `*`"),
                    );
                    ok = false;
                } else if !shape {
                    self.error(
                        Diagnostic::error(Some(item.position), format!("`{text}` is not a GuardDuty finding type"))
                            .expected("ThreatPurpose:ResourceType/ThreatFamily, e.g. `UnauthorizedAccess:EC2/SSHBruteForce`"),
                    );
                    ok = false;
                } else {
                    when.types.push(text);
                }
            }
        }
        if let Some(resources) = entries.get("resource_types") {
            for item in self.list(resources, "`resource_types`") {
                match self.one_of(item, "resource type", RESOURCE_TYPES) {
                    Some(t) => when.resource_types.push(t),
                    None => ok = false,
                }
            }
        }
        ok.then_some(when)
    }

    fn run(
        &mut self,
        node: &Node,
        what: &str,
        positions: &mut BTreeMap<String, Position>,
    ) -> Option<RunSpec> {
        let entries = self.mapping(node, "responses.*.run", &format!("`run` of {what}"))?;
        let bundle = self
            .required(
                &entries,
                "bundle",
                &format!("`run` of {what}"),
                "name a bundle from bundles/, e.g. `bundle: slack-notify`",
            )
            .and_then(|n| {
                positions.insert("bundle".to_string(), n.position);
                self.string(n, "`run.bundle`")
            });
        let mut env = BTreeMap::new();
        if let Some(node) = entries.get("env") {
            for (name, key, value) in self.string_map(node, "`run.env`") {
                positions.insert(format!("env.{name}"), key.position);
                positions.insert(format!("env_value.{name}"), value.position);
                if let Some(text) = self.string(&value, &format!("`env.{name}`")) {
                    if text.contains("hooks.slack.com/") || text.starts_with("xox") {
                        self.error(
                            Diagnostic::error(Some(value.position), format!("`env.{name}` holds a secret value"))
                                .hint("secrets never go into the manifest or the Lambda environment: store it in Secrets Manager and reference its ARN under `secrets`")
                                .secret(),
                        );
                        continue;
                    }
                    env.insert(name, text);
                }
            }
        }
        let mut secrets = BTreeMap::new();
        if let Some(node) = entries.get("secrets") {
            for (name, key, value) in self.string_map(node, "`run.secrets`") {
                positions.insert(format!("secrets.{name}"), key.position);
                if let Some(arn) = self.arn(&value, &format!("`secrets.{name}`"), "secretsmanager")
                {
                    secrets.insert(name, arn);
                }
            }
        }
        let timeout = entries
            .get("timeout")
            .and_then(|n| self.number(n, "`run.timeout` (seconds)", 1.0, 900.0))
            .map(|v| v as u32);
        let memory = entries
            .get("memory")
            .and_then(|n| self.number(n, "`run.memory` (MB)", 128.0, 10240.0))
            .map(|v| v as u32);
        Some(RunSpec {
            bundle: bundle?,
            env,
            secrets,
            timeout,
            memory,
        })
    }

    /// Problems that span sections.
    fn cross_checks(&mut self, manifest: &Manifest, top: &Entries<'_>) {
        let admin = &manifest.organization.delegated_admin;
        let admin_position = top.get("organization").and_then(|org| match &org.value {
            Value::Mapping(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_scalar() == Some("delegated_admin"))
                .map(|(_, v)| v.position),
            _ => None,
        });
        if manifest.accounts.exclude.ids.contains(admin) {
            self.error(
                Diagnostic::error(admin_position, format!("the delegated administrator {admin} is excluded from the targets"))
                    .hint("the administrator account runs GuardDuty for the organization; remove it from `accounts.exclude.ids`"),
            );
        }
        if manifest.organization.management_account.as_deref() == Some(admin.as_str()) {
            self.diagnostics.push(
                Diagnostic::warning(admin_position, "the delegated administrator is the management account")
                    .hint("AWS recommends a dedicated security account as GuardDuty administrator, not the management account"),
            );
        }
        let exclusions = !manifest.accounts.exclude.is_empty() || !manifest.accounts.include.all;
        if manifest.organization.auto_enable == "ALL" && exclusions {
            let position = top.get("organization").and_then(|org| match &org.value {
                Value::Mapping(pairs) => pairs
                    .iter()
                    .find(|(k, _)| k.as_scalar() == Some("auto_enable"))
                    .map(|(_, v)| v.position),
                _ => None,
            });
            self.diagnostics.push(
                Diagnostic::warning(position, "`auto_enable: ALL` makes GuardDuty enrol every organization account, including the ones `accounts` leaves out")
                    .hint("use `auto_enable: NEW` or `NONE` if some accounts must stay out of GuardDuty"),
            );
        }
        if let RegionInclude::List(list) = &manifest.regions.include {
            let mut seen = std::collections::BTreeSet::new();
            for region in list {
                if !seen.insert(region) {
                    self.diagnostics.push(Diagnostic::warning(
                        top.get("regions").map(|n| n.position),
                        format!("Region `{region}` is listed twice"),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::diagnostic::Severity;

    const MINIMAL: &str = "version: 1\norganization:\n  delegated_admin: \"222222222222\"\naccounts:\n  include: { all: true }\nregions:\n  include: [eu-west-1]\n";

    fn errors(source: &str) -> Vec<String> {
        check(source)
            .1
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let p = d.position.unwrap_or_default();
                format!("{}:{} {}", p.line, p.column, d.message)
            })
            .collect()
    }

    #[test]
    fn minimal_manifest_is_valid_with_defaults() {
        let (manifest, diagnostics) = check(MINIMAL);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let manifest = manifest.unwrap();
        assert_eq!(
            manifest.organization.member_role,
            "OrganizationAccountAccessRole"
        );
        assert_eq!(manifest.organization.auto_enable, "NEW");
        assert_eq!(
            manifest.regions.include,
            RegionInclude::List(vec!["eu-west-1".into()])
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let source = "version: 1\norganization:\n  delegated_admin: \"2222\"\n  auto_enable: SOME\naccounts:\n  include: { all: true }\n  exclud: {}\nregions:\n  include: [eu-west-9x]\ndetector:\n  features:\n    EKS_AUDIT_LOG: enabled\n";
        let found = errors(source);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].starts_with("3:20 invalid account id `2222`"));
        assert!(found.iter().any(|e| e.contains("unknown key `exclud`")));
        assert!(
            found
                .iter()
                .any(|e| e.contains("invalid `organization.auto_enable` `SOME`"))
        );
        assert!(
            found
                .iter()
                .any(|e| e.contains("unknown GuardDuty feature `EKS_AUDIT_LOG`"))
        );
    }

    #[test]
    fn runtime_monitoring_twice_is_refused() {
        let source = format!(
            "{MINIMAL}detector:\n  features:\n    RUNTIME_MONITORING: enabled\n    EKS_RUNTIME_MONITORING: enabled\n"
        );
        let found = errors(&source);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("11:5 EKS_RUNTIME_MONITORING and RUNTIME_MONITORING"));
    }

    #[test]
    fn excluded_admin_is_an_error() {
        let source = MINIMAL.replace(
            "include: { all: true }",
            "include: { all: true }\n  exclude: { ids: [\"222222222222\"] }",
        );
        let found = errors(&source);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("is excluded from the targets"));
    }

    #[test]
    fn empty_targets_are_errors() {
        let found = errors(&MINIMAL.replace("include: { all: true }", "include: { ids: [] }"));
        assert!(found[0].contains("selects no accounts"), "{found:?}");
        let found = errors(&MINIMAL.replace("include: [eu-west-1]", "include: []"));
        assert!(found[0].contains("empty list"), "{found:?}");
    }

    #[test]
    fn no_input_panics() {
        for source in [
            "",
            "~",
            "[]",
            "- a\n- b",
            "version: [",
            "version: 1\norganization: 5",
            "a: &x [1]\nb: *x",
            "? [a]\n: b",
            "version: 1\n---\nversion: 1",
            "\u{feff}version: 1",
            "version: 99999999999999999999999",
        ] {
            let (manifest, diagnostics) = check(source);
            assert!(manifest.is_none());
            assert!(!diagnostics.is_empty(), "{source:?}");
        }
    }
}
