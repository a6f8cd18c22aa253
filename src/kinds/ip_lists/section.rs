//! The `ip_lists:` and `storage:` sections: trusted and threat lists with their sources, and
//! the S3 location their files are uploaded to.

use crate::manifest::diagnostic::Diagnostic;
use crate::manifest::yaml::Node;
use crate::manifest::{Checker, Entries, Manifest, Section, SectionValue, schema};
use serde::Serialize;
use serde_json::json;
use std::sync::{Arc, LazyLock};

/// The section's name.
pub const NAME: &str = "ip_lists";

/// List formats GuardDuty reads (`TXT` is normalised by guardform, the others pass through).
pub const LIST_FORMATS: &[&str] = &[
    "TXT",
    "STIX",
    "OTX_CSV",
    "ALIEN_VAULT",
    "PROOF_POINT",
    "FIRE_EYE",
];

/// The words of `kind:`.
pub const LIST_KINDS: [&str; 4] = ["trusted", "threat", "trusted_entities", "threat_entities"];

/// The lists and where their files go.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IpListsSection {
    /// Trusted and threat IP lists, in manifest order.
    pub lists: Vec<IpListSpec>,
    /// Where list files are stored (required with `ip_lists`).
    pub storage: Option<Storage>,
}

/// The IP list settings of a checked manifest (none when it has none).
pub fn of(manifest: &Manifest) -> &IpListsSection {
    static DEFAULT: LazyLock<IpListsSection> = LazyLock::new(IpListsSection::default);
    manifest
        .sections
        .get::<IpListsSection>(NAME)
        .unwrap_or(&DEFAULT)
}

/// Which GuardDuty list the entries go to; the limits and safety rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// An IPSet: findings for these addresses are silenced.
    Trusted,
    /// A ThreatIntelSet: traffic with these addresses raises findings.
    Threat,
    /// A TrustedEntitySet: addresses and domains, read by GuardDuty straight from S3.
    TrustedEntities,
    /// A ThreatEntitySet: addresses and domains, read by GuardDuty straight from S3.
    ThreatEntities,
}

impl ListKind {
    /// Every kind, in the order the manifest documents them.
    pub const ALL: [ListKind; 4] = [
        ListKind::Trusted,
        ListKind::Threat,
        ListKind::TrustedEntities,
        ListKind::ThreatEntities,
    ];

    /// GuardDuty's entry limit for this kind of list (entity lists are held to the limits of
    /// the IP lists they replace).
    pub fn max_entries(self) -> usize {
        if self.is_trusted() { 2_000 } else { 250_000 }
    }

    /// How many lists of this kind GuardDuty allows per account and Region.
    pub fn max_sets(self) -> usize {
        if self.is_trusted() { 1 } else { 6 }
    }

    /// The word used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            ListKind::Trusted => "trusted",
            ListKind::Threat => "threat",
            ListKind::TrustedEntities => "trusted_entities",
            ListKind::ThreatEntities => "threat_entities",
        }
    }

    /// The kind in a sentence (`new {} list`).
    pub fn words(self) -> &'static str {
        match self {
            ListKind::Trusted => "trusted",
            ListKind::Threat => "threat",
            ListKind::TrustedEntities => "trusted entity",
            ListKind::ThreatEntities => "threat entity",
        }
    }

    /// GuardDuty's name for the set, with its article (`an IPSet`).
    pub fn a_set(self) -> String {
        let name = self.set_name();
        let article = if name.starts_with('I') { "an" } else { "a" };
        format!("{article} {name}")
    }

    /// GuardDuty's name for the set.
    pub fn set_name(self) -> &'static str {
        match self {
            ListKind::Trusted => "IPSet",
            ListKind::Threat => "ThreatIntelSet",
            ListKind::TrustedEntities => "TrustedEntitySet",
            ListKind::ThreatEntities => "ThreatEntitySet",
        }
    }

    /// The kind's limit as people read it (`1 trusted IP list (IPSet)`).
    pub fn describe_limit(self) -> String {
        let (what, set) = match self {
            ListKind::Trusted => ("trusted IP list", "IPSet"),
            ListKind::Threat => ("threat lists", "ThreatIntelSets"),
            ListKind::TrustedEntities => ("trusted entity list", "TrustedEntitySet"),
            ListKind::ThreatEntities => ("threat entity lists", "ThreatEntitySets"),
        };
        format!("{} {what} ({set})", self.max_sets())
    }

    /// Trusted lists silence findings; threat lists raise them.
    pub fn is_trusted(self) -> bool {
        matches!(self, ListKind::Trusted | ListKind::TrustedEntities)
    }

    /// Entity lists take domains as well as addresses.
    pub fn is_entity(self) -> bool {
        matches!(self, ListKind::TrustedEntities | ListKind::ThreatEntities)
    }

    /// The same list as the other family (IP list ⇄ entity list): moving between them replaces
    /// the set.
    pub fn counterpart(self) -> ListKind {
        match self {
            ListKind::Trusted => ListKind::TrustedEntities,
            ListKind::Threat => ListKind::ThreatEntities,
            ListKind::TrustedEntities => ListKind::Trusted,
            ListKind::ThreatEntities => ListKind::Threat,
        }
    }

    fn parse(word: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|k| k.name() == word)
    }
}

/// One `ip_lists` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpListSpec {
    /// The GuardDuty set name.
    pub name: String,
    pub kind: ListKind,
    pub source: ListSource,
    /// `TXT` (normalised by guardform) or a format GuardDuty reads as it is.
    pub format: String,
    /// Allow trusted entries broader than /8 (IPv4) or /32 (IPv6).
    pub allow_broad: bool,
    /// Take over a same-named set guardform did not create.
    pub adopt: bool,
}

/// Where a list's content comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListSource {
    Inline(Vec<String>),
    /// A path, relative to the manifest's folder.
    File(String),
    /// An HTTPS URL (plain HTTP only on loopback).
    Url(String),
    S3 {
        bucket: String,
        key: String,
    },
    DeepSecurity(DeepSecuritySource),
}

/// A Trend Micro Deep Security (or Cloud One Workload Security) IP list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeepSecuritySource {
    /// The manager's base URL, e.g. `https://dsm.example.com:4119`.
    pub url: String,
    /// The IP list's name or numeric id.
    pub ip_list: String,
    /// The environment variable holding the API key (never the key itself).
    pub api_key_env: String,
    /// A PEM file of CA certificates to trust besides the system's, relative to the manifest.
    pub ca_file: Option<String>,
    /// `api-secret-key` (Deep Security) or `authorization` (Cloud One: `Authorization: ApiKey`).
    pub auth_header: String,
}

/// `storage:`: the S3 location list files are uploaded to, in the delegated administrator
/// account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Storage {
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// The bucket's Region (default: the home Region).
    pub region: Option<String>,
}

/// The `ip_lists:` and `storage:` sections.
pub struct IpListsSectionReader;

impl Section for IpListsSectionReader {
    fn name(&self) -> &'static str {
        NAME
    }

    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("", &["ip_lists", "storage"]),
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
        ]
    }

    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue> {
        let lists = match top.get("ip_lists") {
            Some(node) => ip_lists(checker, node),
            None => Some(Vec::new()),
        };
        let storage = match top.get("storage") {
            Some(node) => storage(checker, node).map(Some),
            None => Some(None),
        };
        if let (Some(lists), Some(None)) = (&lists, &storage)
            && !lists.is_empty()
        {
            checker.error(
                Diagnostic::error(top.get("ip_lists").map(|n| n.position), "`ip_lists` needs `storage`")
                    .expected("`storage: { bucket: s3://BUCKET/PREFIX }`")
                    .hint("GuardDuty reads lists from S3: guardform uploads them to this bucket in the delegated administrator account"),
            );
        }
        Some(Arc::new(IpListsSection {
            lists: lists?,
            storage: storage?,
        }))
    }

    fn schema(&self) -> serde_json::Map<String, serde_json::Value> {
        // At most `max_sets` lists of each kind.
        let per_kind: Vec<serde_json::Value> = ListKind::ALL
            .iter()
            .map(|kind| {
                json!({
                    "contains": {"required": ["kind"], "properties": {"kind": {"const": kind.name()}}},
                    "minContains": 0,
                    "maxContains": kind.max_sets()
                })
            })
            .collect();
        let mut properties = serde_json::Map::new();
        properties.insert(
            "ip_lists".into(),
            json!({
                "type": "array",
                "description": "Trusted and threat lists, kept in every targeted Region of the administrator account: IP lists (IPSet, at most one; ThreatIntelSet, at most six) and entity lists of addresses and domains (TrustedEntitySet, at most one; ThreatEntitySet, at most six).",
                "allOf": per_kind,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "kind", "source"],
                    "if": {
                        "required": ["source"],
                        "properties": {"source": {"anyOf": [{"required": ["inline"]}, {"required": ["deep_security"]}]}}
                    },
                    "then": {
                        "description": "Inline entries and Deep Security IP lists are addresses, which guardform writes as TXT.",
                        "properties": {"format": {"const": "TXT"}}
                    },
                    "properties": {
                        "name": {"type": ["string", "number"], "pattern": "^[A-Za-z0-9 _-]{1,300}$"},
                        "kind": {"enum": LIST_KINDS, "description": "trusted / threat: IP lists (IPSet, ThreatIntelSet); trusted_entities / threat_entities: entity lists (addresses and domains)."},
                        "format": {"enum": LIST_FORMATS, "default": "TXT"},
                        "allow_broad": {"type": "boolean", "default": false, "description": "Allow trusted entries broader than /8 (IPv4) or /32 (IPv6)."},
                        "adopt": {"type": "boolean", "default": false, "description": "Take over a same-named set guardform did not create."},
                        "source": {
                            "type": "object",
                            "additionalProperties": false,
                            "minProperties": 1,
                            "maxProperties": 1,
                            "properties": {
                                "inline": {"type": "array", "items": schema::text()},
                                "file": {"type": ["string", "number"], "description": "Relative to the manifest's folder."},
                                "url": schema::url(),
                                "s3": {"type": "string", "pattern": format!("^s3://{}/.*[^/]", schema::BUCKET), "description": "s3://BUCKET/KEY"},
                                "deep_security": {
                                    "type": "object",
                                    "additionalProperties": false,
                                    "required": ["url", "ip_list", "api_key_env"],
                                    "properties": {
                                        "url": schema::url(),
                                        "ip_list": {"type": ["string", "number", "boolean"], "description": "The IP list's name or numeric id."},
                                        "api_key_env": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$", "description": "The environment variable holding the API key (never the key itself)."},
                                        "ca_file": {"type": ["string", "number"]},
                                        "auth_header": {"enum": ["api-secret-key", "authorization"], "default": "api-secret-key"}
                                    }
                                }
                            }
                        }
                    }
                }
            }),
        );
        properties.insert(
            "storage".into(),
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["bucket"],
                "properties": {
                    "bucket": {"type": "string", "pattern": format!("^s3://{}(/.*)?$", schema::BUCKET), "description": "s3://BUCKET or s3://BUCKET/PREFIX, in the delegated administrator account."},
                    "region": schema::region()
                }
            }),
        );
        properties
    }

    fn schema_rules(&self) -> Vec<serde_json::Value> {
        vec![json!({
            "if": {"required": ["ip_lists"], "properties": {"ip_lists": {"type": "array", "minItems": 1}}},
            "then": {"required": ["storage"]}
        })]
    }
}

fn storage(checker: &mut Checker, node: &Node) -> Option<Storage> {
    let entries = checker.mapping(node, "storage", "`storage`")?;
    let bucket = checker
        .required(
            &entries,
            "bucket",
            "`storage`",
            "add `bucket: s3://BUCKET/PREFIX` (a bucket in the delegated administrator account)",
        )
        .and_then(|node| checker.s3_url(node, "`storage.bucket`", false));
    let region = entries
        .get("region")
        .and_then(|node| checker.region(node, "`storage.region`"));
    let (bucket, prefix) = bucket?;
    Some(Storage {
        bucket,
        prefix,
        region,
    })
}

fn ip_lists(checker: &mut Checker, node: &Node) -> Option<Vec<IpListSpec>> {
    let items = checker.list(node, "`ip_lists`");
    let mut lists = Vec::new();
    let mut ok = true;
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut per_kind: Vec<(ListKind, crate::manifest::yaml::Position)> = Vec::new();
    for item in items {
        match ip_list(checker, item) {
            Some(list) => {
                if let Some((_, line)) = names.iter().find(|(n, _)| *n == list.name) {
                    checker.error(
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
                per_kind.push((list.kind, item.position));
                lists.push(list);
            }
            None => ok = false,
        }
    }
    for kind in ListKind::ALL {
        let limit = kind.max_sets();
        if let Some((_, over)) = per_kind.iter().filter(|(k, _)| *k == kind).nth(limit) {
            checker.error(
                Diagnostic::error(
                    Some(*over),
                    format!("one `kind: {}` list too many", kind.name()),
                )
                .expected(format!(
                    "at most {limit} `kind: {}` list{}",
                    kind.name(),
                    if limit == 1 { "" } else { "s" }
                ))
                .hint(format!(
                    "GuardDuty allows {limit} {} per account and Region{}",
                    kind.set_name(),
                    if limit == 1 {
                        ": merge the sources into one list"
                    } else {
                        ""
                    }
                )),
            );
            ok = false;
        }
    }
    ok.then_some(lists)
}

fn ip_list(checker: &mut Checker, node: &Node) -> Option<IpListSpec> {
    let entries = checker.mapping(node, "ip_lists.*", "an IP list")?;
    let name = checker
        .required(
            &entries,
            "name",
            "an IP list",
            "add `name:`, which becomes the GuardDuty set name",
        )
        .and_then(|node| {
            let name = checker.string(node, "`ip_lists.name`")?;
            let valid = !name.is_empty()
                && name.len() <= 300
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " -_".contains(c));
            if valid {
                Some(name)
            } else {
                checker.error(
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
    let kind = checker
        .required(
            &entries,
            "kind",
            &what,
            "add `kind: trusted_entities` or `threat_entities` (entity lists: addresses and domains), or `trusted` / `threat` (IP lists)",
        )
        .and_then(|node| checker.one_of(node, "`ip_lists.kind`", &LIST_KINDS))
        .and_then(|k| ListKind::parse(&k));
    let format = match entries.get("format") {
        Some(node) => checker.one_of(node, "`ip_lists.format`", LIST_FORMATS),
        None => Some("TXT".to_string()),
    };
    let allow_broad = entries
        .get("allow_broad")
        .map(|n| checker.bool(n, "`allow_broad`"))
        .unwrap_or(Some(false));
    let adopt = entries
        .get("adopt")
        .map(|n| checker.bool(n, "`adopt`"))
        .unwrap_or(Some(false));
    let source_node = checker.required(
        &entries,
        "source",
        &what,
        "add `source:` with one of `inline`, `file`, `url`, `s3`, `deep_security`",
    );
    let source = source_node.and_then(|node| list_source(checker, node, &what));
    if let (Some(source), Some(format), Some(node)) = (&source, &format, source_node)
        && format != "TXT"
        && matches!(source, ListSource::Inline(_) | ListSource::DeepSecurity(_))
    {
        checker.error(Diagnostic::error(Some(node.position), format!("{what}: `format: {format}` does not fit this source"))
            .expected("`format: TXT` (the default) for inline and Deep Security lists")
            .hint("inline entries and Deep Security IP lists are addresses, which guardform writes as TXT"));
        return None;
    }
    if kind.is_some_and(|k| !k.is_trusted()) && allow_broad == Some(true) {
        checker.diagnostics.push(Diagnostic::warning(
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

fn list_source(checker: &mut Checker, node: &Node, what: &str) -> Option<ListSource> {
    let entries = checker.mapping(node, "ip_lists.*.source", &format!("the source of {what}"))?;
    if entries.entries.len() != 1 {
        checker.error(
            Diagnostic::error(Some(node.position), format!("the source of {what} must name exactly one of `inline`, `file`, `url`, `s3`, `deep_security`"))
                .hint("a list with several sources is several lists: give each its own entry"),
        );
        return None;
    }
    let (key, _, value) = entries.entries[0];
    match key {
        "inline" => {
            let mut items = Vec::new();
            for item in checker.list(value, "`source.inline`") {
                items.push(checker.string(item, "an inline entry")?);
            }
            Some(ListSource::Inline(items))
        }
        "file" => checker.string(value, "`source.file`").map(ListSource::File),
        "url" => checker.url(value, "`source.url`").map(ListSource::Url),
        "s3" => checker
            .s3_url(value, "`source.s3`", true)
            .map(|(bucket, key)| ListSource::S3 { bucket, key }),
        "deep_security" => {
            let ds =
                checker.mapping(value, "ip_lists.*.source.deep_security", "`deep_security`")?;
            let url = checker
                .required(
                    &ds,
                    "url",
                    "`deep_security`",
                    "the manager's base URL, e.g. `https://dsm.example.com:4119`",
                )
                .and_then(|n| checker.url(n, "`deep_security.url`"));
            let ip_list = checker
                .required(
                    &ds,
                    "ip_list",
                    "`deep_security`",
                    "the IP list's name or numeric id in Deep Security",
                )
                .and_then(|n| checker.string(n, "`deep_security.ip_list`"));
            let api_key_env = checker
                .required(&ds, "api_key_env", "`deep_security`", "name the environment variable that holds the API key, e.g. `api_key_env: DS_API_KEY`")
                .and_then(|n| {
                    let name = checker.string(n, "`deep_security.api_key_env`")?;
                    let valid = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
                        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    if valid {
                        Some(name)
                    } else {
                        checker.error(Diagnostic::error(Some(n.position), format!("`{name}` is not an environment variable name"))
                            .expected("upper-case letters, digits and `_`, e.g. DS_API_KEY")
                            .hint("the manifest names the variable; the API key itself never goes into the manifest"));
                        None
                    }
                });
            let ca_file = ds
                .get("ca_file")
                .and_then(|n| checker.string(n, "`deep_security.ca_file`"));
            let auth_header = match ds.get("auth_header") {
                Some(n) => checker.one_of(
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
