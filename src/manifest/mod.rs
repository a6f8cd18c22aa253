//! The manifest: what the user declares. `load` reads and checks a file and returns either a
//! [`Manifest`] or every problem found, with positions.

pub mod catalog;
mod check;
pub mod diagnostic;
pub mod schema;
pub mod yaml;

use diagnostic::{Diagnostic, Severity, Source};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

pub use check::{KNOWN_KEYS, LIST_FORMATS, RESOURCE_TYPES, SEVERITY_LABELS, check};

/// Which GuardDuty list the entries go to; the limits and safety rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// An IPSet: findings for these addresses are silenced.
    Trusted,
    /// A ThreatIntelSet: traffic with these addresses raises findings.
    Threat,
}

impl ListKind {
    /// GuardDuty's entry limit for this kind of list.
    pub fn max_entries(self) -> usize {
        match self {
            ListKind::Trusted => 2_000,
            ListKind::Threat => 250_000,
        }
    }

    /// The word used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            ListKind::Trusted => "trusted",
            ListKind::Threat => "threat",
        }
    }
}

/// The manifest format version this build understands.
pub const FORMAT_VERSION: u64 = 1;

/// A checked manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub version: u64,
    pub organization: OrganizationSettings,
    pub accounts: AccountSelection,
    pub regions: RegionSelection,
    pub detector: DetectorSettings,
    /// Trusted and threat IP lists, in manifest order.
    pub ip_lists: Vec<IpListSpec>,
    /// Where list files are stored (required with `ip_lists`).
    pub storage: Option<Storage>,
    /// Response wiring: EventBridge rules on findings and what they trigger.
    pub responses: Vec<ResponseSpec>,
}

/// One `responses` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseSpec {
    pub name: String,
    pub when: When,
    pub action: ResponseAction,
    /// An explicit dead-letter queue (SQS ARN); otherwise guardform creates one.
    pub dlq: Option<String>,
    /// EventBridge retry policy of the target.
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_seconds: u32,
    /// Where parts of the entry are in the manifest, for later checks (`bundle`, `env.X`, ...).
    #[serde(skip)]
    pub positions: BTreeMap<String, yaml::Position>,
}

/// Which findings a response gets.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct When {
    pub severity_min: Option<f64>,
    pub severity_max: Option<f64>,
    /// LOW, MEDIUM, HIGH, CRITICAL.
    pub labels: Vec<String>,
    /// Finding types; a trailing `*` matches by prefix.
    pub types: Vec<String>,
    /// `detail.resource.resourceType` values.
    pub resource_types: Vec<String>,
}

/// What a response does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    /// A Lambda function built from a bundle.
    Run(RunSpec),
    /// An SNS topic.
    Sns(String),
    /// Another EventBridge bus (e.g. a central security account's).
    EventBus(String),
}

/// `run:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSpec {
    pub bundle: String,
    pub env: BTreeMap<String, String>,
    /// Secret names to Secrets Manager ARNs (references only, never values).
    pub secrets: BTreeMap<String, String>,
    pub timeout: Option<u32>,
    pub memory: Option<u32>,
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

/// `organization:`: who administers GuardDuty and how other accounts are reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganizationSettings {
    /// Checked against DescribeOrganization when given.
    pub management_account: Option<String>,
    /// The GuardDuty delegated administrator (security) account.
    pub delegated_admin: String,
    /// Role name assumed in accounts other than the caller's.
    pub member_role: String,
    /// Per-account role ARN overrides.
    pub account_roles: BTreeMap<String, String>,
    /// AWS `AutoEnableOrganizationMembers`: `NEW`, `ALL` or `NONE`.
    pub auto_enable: String,
}

/// `accounts:`: which organization accounts are GuardDuty members.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AccountSelection {
    pub include: AccountSelector,
    pub exclude: AccountSelector,
}

/// A set of accounts: the union of every criterion given.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AccountSelector {
    pub all: bool,
    pub ids: Vec<String>,
    /// OU ids (`ou-…`) or name paths from the root (`Workloads/Prod`); nested OUs included.
    pub ous: Vec<String>,
    /// Accounts carrying every one of these tags.
    pub tags: BTreeMap<String, String>,
}

impl AccountSelector {
    /// True when the selector names nothing.
    pub fn is_empty(&self) -> bool {
        !self.all && self.ids.is_empty() && self.ous.is_empty() && self.tags.is_empty()
    }
}

/// `regions:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionSelection {
    pub include: RegionInclude,
    pub exclude: Vec<String>,
}

/// Which Regions to manage.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionInclude {
    /// Every Region enabled in the delegated administrator account.
    AllEnabled,
    List(Vec<String>),
}

/// `detector:`: settings of the administrator's and every member's detector.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DetectorSettings {
    pub finding_publishing_frequency: Option<String>,
    /// Only the features named here are managed; others are left as they are.
    pub features: BTreeMap<String, FeatureSetting>,
    pub tags: BTreeMap<String, String>,
}

/// One feature's desired state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureSetting {
    pub enabled: bool,
    pub additional: BTreeMap<String, bool>,
}

/// A manifest read from disk, with its source kept for error rendering and saved plans.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub path: String,
    pub source: String,
    pub manifest: Manifest,
    /// Warnings found while checking (errors make loading fail).
    pub warnings: Vec<Diagnostic>,
}

impl LoadedManifest {
    /// SHA-256 of the manifest text, `sha256:<hex>`.
    pub fn digest(&self) -> String {
        digest(&self.source)
    }

    /// Renders the warnings for a terminal.
    pub fn render_warnings(&self, color: bool) -> String {
        diagnostic::render(
            &self.warnings,
            &Source {
                path: &self.path,
                text: &self.source,
            },
            color,
        )
    }
}

/// SHA-256 of a text, `sha256:<hex>`.
pub fn digest(text: &str) -> String {
    format!("sha256:{}", sha256_hex(text.as_bytes()))
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {count} problem{plural} found", plural = if *count == 1 { "" } else { "s" })]
    Invalid {
        path: String,
        count: usize,
        /// Everything found, rendered (errors and warnings).
        rendered: String,
    },
}

/// Checks that need more than the manifest's text (the bundles beside it): given the response
/// entries that parsed and the manifest's folder, the problems found.
pub type ExtraCheck<'a> = &'a dyn Fn(&[ResponseSpec], &Path) -> Vec<Diagnostic>;

/// Reads and checks a manifest file.
pub fn load(
    path: &Path,
    color: bool,
    extra: ExtraCheck<'_>,
) -> Result<LoadedManifest, ManifestError> {
    let display = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: display.clone(),
        source,
    })?;
    load_str(&display, source, color, extra)
}

/// Checks manifest text that came from `path`.
pub fn load_str(
    path: &str,
    source: String,
    color: bool,
    extra: ExtraCheck<'_>,
) -> Result<LoadedManifest, ManifestError> {
    let (manifest, mut diagnostics, responses) = check::check_with_responses(&source);
    let folder = Path::new(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    diagnostics.extend(extra(&responses, &folder));
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match manifest {
        Some(manifest) if errors == 0 => Ok(LoadedManifest {
            path: path.to_string(),
            source,
            manifest,
            warnings: diagnostics,
        }),
        _ => Err(ManifestError::Invalid {
            path: path.to_string(),
            count: errors,
            rendered: diagnostic::render(
                &diagnostics,
                &Source {
                    path,
                    text: &source,
                },
                color,
            ),
        }),
    }
}
