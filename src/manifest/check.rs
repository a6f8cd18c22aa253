//! Turns the YAML tree into a [`Manifest`], collecting every problem on the way.

use super::yaml::{self, Node, Value, parse_bool};
use super::{
    AccountSelection, AccountSelector, FORMAT_VERSION, Manifest, OrganizationSettings,
    RegionInclude, RegionSelection, Section, Sections,
};
use crate::manifest::catalog;
use crate::manifest::diagnostic::{Diagnostic, did_you_mean};
use std::collections::BTreeMap;
use std::path::Path;

/// Keys one mapping may have: far more than any setting needs (tags have at most 50), far
/// fewer than a generated, hostile manifest can hold.
pub const MAX_MAPPING_KEYS: usize = 10_000;

/// The keys each mapping of the manifest's core accepts, by section path (kinds add their
/// sections' own). The JSON Schema is checked against these tables in tests.
pub const KNOWN_KEYS: &[(&str, &[&str])] = &[
    ("", &["version", "organization", "accounts", "regions"]),
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
    ("organization.auto_enable.*", &["auto_enable", "additional"]),
    ("accounts", &["include", "exclude"]),
    ("accounts.include", &["all", "ids", "ous", "tags"]),
    ("accounts.exclude", &["ids", "ous", "tags"]),
    ("regions", &["include", "exclude"]),
];

/// Sections a later guardform version will add; named so the error can say so.
/// Top-level keys people write for a section guardform names otherwise.
const OTHER_NAMES: &[(&str, &str)] = &[
    ("publishing_destination", "export"),
    ("findings_export", "export"),
    ("suppression_filters", "filters"),
    ("suppression_rules", "filters"),
];

/// Checks manifest text from `folder` with the kinds' `sections`. Returns the manifest when it
/// could be built (possibly with warnings) and every diagnostic found.
pub fn check(
    source: &str,
    folder: &Path,
    sections: &[&dyn Section],
) -> (Option<Manifest>, Vec<Diagnostic>) {
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
            );
        }
        Err(problems) => {
            return (
                None,
                problems
                    .into_iter()
                    .map(|p| Diagnostic::error(Some(p.position), p.message))
                    .collect(),
            );
        }
    };
    let mut known: Vec<(&'static str, Vec<&'static str>)> =
        KNOWN_KEYS.iter().map(|(p, k)| (*p, k.to_vec())).collect();
    for section in sections {
        for (path, keys) in section.known_keys() {
            // Top-level keys: the core's and every section's.
            match known.iter_mut().find(|(p, _)| p == path) {
                Some(entry) => entry.1.extend_from_slice(keys),
                None => known.push((path, keys.to_vec())),
            }
        }
    }
    let mut checker = Checker {
        diagnostics: Vec::new(),
        known,
        folder: folder.to_path_buf(),
        needs: Default::default(),
    };
    let manifest = checker.manifest(&root, sections);
    (manifest, checker.diagnostics)
}

/// Checks values and collects every problem, with positions. Sections use it to read their
/// part of the manifest.
pub struct Checker {
    /// Everything found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// The keys each mapping accepts, by section path (`ip_lists.*.source`).
    known: Vec<(&'static str, Vec<&'static str>)>,
    /// The manifest's folder (for what lies beside it, such as local bundles).
    folder: std::path::PathBuf,
    /// What sections need discovery to read (they add to it while checking).
    pub needs: super::SectionNeeds,
}

/// The entries of a checked mapping, by key.
pub struct Entries<'n> {
    pub node: &'n Node,
    pub entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Entries<'n> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, value)| *value)
    }
}

impl Checker {
    /// The manifest's folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn known_keys(&self, section: &str) -> Vec<&'static str> {
        self.known
            .iter()
            .find(|(name, _)| *name == section)
            .map(|(_, keys)| keys.clone())
            .unwrap_or_default()
    }

    /// Records a problem.
    pub fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn type_error(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            Diagnostic::error(
                Some(node.position),
                format!("{what}: expected {expected}, found {}", node.kind_name()),
            )
            .expected(expected.to_string()),
        );
    }

    /// Checks that `node` is a mapping with only known keys.
    pub fn mapping<'n>(
        &mut self,
        node: &'n Node,
        section: &str,
        what: &str,
    ) -> Option<Entries<'n>> {
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
        if pairs.len() > MAX_MAPPING_KEYS {
            self.error(
                Diagnostic::error(
                    Some(node.position),
                    format!("{what}: {} keys; guardform reads at most {MAX_MAPPING_KEYS} in one mapping", pairs.len()),
                )
                .hint("no setting of a manifest has that many keys: is this file a manifest?"),
            );
            return None;
        }
        let allowed = self.known_keys(section);
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
                if section.is_empty()
                    && let Some((_, ours)) = OTHER_NAMES.iter().find(|(other, _)| *other == name)
                {
                    diagnostic = diagnostic.hint(format!("guardform calls this section `{ours}`"));
                }
                self.error(diagnostic);
                continue;
            }
            entries.push((name, key, value));
        }
        Some(Entries { node, entries })
    }

    pub fn required<'n>(
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

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if node.as_scalar().is_some() => Some(text.clone()),
            _ => {
                self.type_error(node, what, "a string");
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
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

    pub fn one_of(&mut self, node: &Node, what: &str, allowed: &[&str]) -> Option<String> {
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

    pub fn account_id(&mut self, node: &Node, what: &str) -> Option<String> {
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

    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<&'n Node> {
        match &node.value {
            Value::Sequence(items) => items.iter().collect(),
            _ if node.is_null() => Vec::new(),
            _ => {
                self.type_error(node, what, "a list");
                Vec::new()
            }
        }
    }

    pub fn tags(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
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

    fn manifest(&mut self, root: &Node, sections: &[&dyn Section]) -> Option<Manifest> {
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
        let mut values = Sections::default();
        let mut ok = true;
        for section in sections {
            match section.check(self, &top) {
                Some(value) => values.insert(section.name(), value),
                None => ok = false,
            }
        }
        values.1 = std::mem::take(&mut self.needs);
        let manifest = Manifest {
            version: version?,
            organization: organization?,
            accounts: accounts?,
            regions: regions?,
            sections: values,
        };
        if !ok {
            return None;
        }
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
        let (auto_enable, auto_enable_features) = match entries.get("auto_enable") {
            Some(node) if matches!(node.value, Value::Mapping(_)) => {
                match self.auto_enable_per_feature(node) {
                    Some((default, features)) => (Some(default), features),
                    None => (None, BTreeMap::new()),
                }
            }
            Some(node) => (
                self.one_of(node, "`organization.auto_enable`", catalog::AUTO_ENABLE),
                BTreeMap::new(),
            ),
            None => (Some("NEW".to_string()), BTreeMap::new()),
        };
        Some(OrganizationSettings {
            management_account: management_account.flatten(),
            delegated_admin: delegated_admin?,
            member_role: member_role?,
            account_roles,
            auto_enable: auto_enable?,
            auto_enable_features,
        })
    }

    /// `auto_enable: { default: NEW, FEATURE: NONE, FEATURE: { auto_enable: NEW, additional:
    /// { NAME: NONE } } }`: returns the default and the per-feature settings.
    fn auto_enable_per_feature(
        &mut self,
        node: &Node,
    ) -> Option<(String, BTreeMap<String, super::FeatureAutoEnable>)> {
        let Value::Mapping(pairs) = &node.value else {
            return None;
        };
        let what = "`organization.auto_enable`";
        let mut default = None;
        let mut features = BTreeMap::new();
        let mut ok = true;
        for (key, value) in pairs {
            let Some(name) = self.string(key, "a feature name") else {
                ok = false;
                continue;
            };
            if name == "default" {
                default = self.one_of(value, what, catalog::AUTO_ENABLE);
                ok &= default.is_some();
                continue;
            }
            if !catalog::FEATURES.contains(&name.as_str()) {
                let mut known = vec!["default"];
                known.extend_from_slice(catalog::FEATURES);
                self.error(
                    Diagnostic::error(
                        Some(key.position),
                        format!("unknown key `{name}` in {what}"),
                    )
                    .expected(format!(
                        "`default` or a feature: {}",
                        catalog::FEATURES.join(", ")
                    ))
                    .suggest(&name, known),
                );
                ok = false;
                continue;
            }
            let feature_what = format!("the auto-enable of `{name}`");
            let setting = if let Value::Mapping(_) = value.value {
                let Some(entries) =
                    self.mapping(value, "organization.auto_enable.*", &feature_what)
                else {
                    ok = false;
                    continue;
                };
                let auto_enable = self
                    .required(
                        &entries,
                        "auto_enable",
                        &feature_what,
                        "add `auto_enable: NEW`, `ALL` or `NONE`",
                    )
                    .and_then(|n| self.one_of(n, &feature_what, catalog::AUTO_ENABLE));
                let mut additional = BTreeMap::new();
                if let Some(extra) = entries.get("additional") {
                    let allowed = catalog::additional_configurations(&name);
                    for (config, key_node, value_node) in
                        self.string_map(extra, "an additional configuration")
                    {
                        if !allowed.contains(&config.as_str()) {
                            self.error(
                                Diagnostic::error(
                                    Some(key_node.position),
                                    format!(
                                        "unknown additional configuration `{config}` for `{name}`"
                                    ),
                                )
                                .expected(format!("one of: {}", allowed.join(", ")))
                                .suggest(&config, allowed.iter().copied()),
                            );
                            ok = false;
                            continue;
                        }
                        match self.one_of(
                            &value_node,
                            &format!("`{name}.{config}`"),
                            catalog::AUTO_ENABLE,
                        ) {
                            Some(v) => {
                                additional.insert(config, v);
                            }
                            None => ok = false,
                        }
                    }
                }
                auto_enable.map(|auto_enable| super::FeatureAutoEnable {
                    auto_enable,
                    additional,
                })
            } else {
                self.one_of(value, &feature_what, catalog::AUTO_ENABLE)
                    .map(|auto_enable| super::FeatureAutoEnable {
                        auto_enable,
                        additional: BTreeMap::new(),
                    })
            };
            match setting {
                Some(setting) => {
                    features.insert(name, setting);
                }
                None => ok = false,
            }
        }
        if features.contains_key("RUNTIME_MONITORING")
            && features.contains_key("EKS_RUNTIME_MONITORING")
        {
            self.error(
                Diagnostic::error(Some(node.position), "EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot both be configured in `organization.auto_enable`")
                    .hint("GuardDuty rejects both in one request; RUNTIME_MONITORING covers EKS"),
            );
            ok = false;
        }
        let default = default.unwrap_or_else(|| "NEW".to_string());
        ok.then_some((default, features))
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

    pub fn region(&mut self, node: &Node, what: &str) -> Option<String> {
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

    pub fn url(&mut self, node: &Node, what: &str) -> Option<String> {
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

    pub fn s3_url(
        &mut self,
        node: &Node,
        what: &str,
        key_required: bool,
    ) -> Option<(String, String)> {
        let text = self.string(node, what)?;
        let parsed = text.strip_prefix("s3://").map(|rest| {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            (bucket.to_string(), key.trim_matches('/').to_string())
        });
        match parsed {
            Some((bucket, key))
                if catalog::is_bucket_name(&bucket) && (!key_required || !key.is_empty()) =>
            {
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

    pub fn number(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
        self.bounded(node, what, min, max, "a number")
    }

    /// A whole number from `min` to `max` (`60.5` is an error, not 60).
    pub fn whole_number(&mut self, node: &Node, what: &str, min: u32, max: u32) -> Option<u32> {
        self.bounded(node, what, min, max, "a whole number")
    }

    /// A scalar that parses as `T` within `min..=max`; else an error saying `kind` was wanted.
    fn bounded<T>(&mut self, node: &Node, what: &str, min: T, max: T, kind: &str) -> Option<T>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let quoted = matches!(node.value, Value::Scalar { quoted: true, .. });
        let value = node.as_scalar().and_then(|t| t.parse::<T>().ok());
        match value {
            Some(v) if quoted => {
                // YAML reads `"60"` as text; say so rather than guess (the schema agrees).
                self.error(
                    Diagnostic::error(
                        Some(node.position),
                        format!("{what}: expected {kind}, found the text \"{v}\""),
                    )
                    .expected(format!("{kind} from {min} to {max}"))
                    .hint(format!("write {v} without quotes")),
                );
                None
            }
            Some(v) if min <= v && v <= max => Some(v),
            _ => {
                self.error(
                    Diagnostic::error(
                        Some(node.position),
                        format!(
                            "{what}: expected {kind} from {min} to {max}, found `{}`",
                            node.as_scalar().unwrap_or(node.kind_name())
                        ),
                    )
                    .expected(format!("{kind} from {min} to {max}")),
                );
                None
            }
        }
    }

    pub fn arn(&mut self, node: &Node, what: &str, service: &str) -> Option<String> {
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

    pub fn string_map(&mut self, node: &Node, what: &str) -> Vec<(String, Node, Node)> {
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

    fn check(source: &str) -> (Option<Manifest>, Vec<Diagnostic>) {
        super::check(source, Path::new("."), &[])
    }

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
