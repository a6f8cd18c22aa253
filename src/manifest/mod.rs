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
use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use check::{Checker, Entries, KNOWN_KEYS, check};

/// The manifest format version this build understands.
pub const FORMAT_VERSION: u64 = 1;

/// A checked manifest: its core (who administers GuardDuty, which accounts and Regions) and
/// each kind's section as that kind's [`Section`] read it.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub version: u64,
    pub organization: OrganizationSettings,
    pub accounts: AccountSelection,
    pub regions: RegionSelection,
    pub sections: Sections,
}

/// A section's value, as its kind's checker built it.
pub type SectionValue = Arc<dyn Any + Send + Sync>;

/// Every section's value, by section name, and what discovery must read for them.
#[derive(Clone, Default)]
pub struct Sections(BTreeMap<&'static str, SectionValue>, SectionNeeds);

/// What sections need discovery to read beyond the core's account selectors.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct SectionNeeds {
    /// OUs (ids or name paths) sections select accounts by: the OU tree must be read.
    pub ous: Vec<String>,
    /// The OU tree is wanted whatever selects accounts (the report groups accounts by OU).
    pub ou_tree: bool,
}

impl Sections {
    /// What the sections need discovery to read.
    pub fn needs(&self) -> &SectionNeeds {
        &self.1
    }

    /// What discovery must read, for a command that wants more than the sections do.
    pub fn needs_mut(&mut self) -> &mut SectionNeeds {
        &mut self.1
    }

    /// Keeps `value` as the section `name`.
    pub fn insert(&mut self, name: &'static str, value: SectionValue) {
        self.0.insert(name, value);
    }

    /// The section `name`, if it was read and is of type `T`.
    pub fn get<T: Any>(&self, name: &str) -> Option<&T> {
        self.0.get(name).and_then(|value| value.downcast_ref::<T>())
    }
}

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A part of the manifest that one kind owns: its keys, how they are checked (every problem,
/// with positions), and its JSON Schema.
pub trait Section: Send + Sync {
    /// The section's name, under which its value is kept.
    fn name(&self) -> &'static str;
    /// The keys each of its mappings accepts, by path (`""` for its top-level keys).
    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])];
    /// Reads its keys of the top-level mapping; `None` when a problem stops it.
    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue>;
    /// The JSON Schema of its top-level keys.
    fn schema(&self) -> serde_json::Map<String, serde_json::Value>;
    /// Rules its top-level keys must meet together, as JSON Schemas of the whole manifest
    /// (`ip_lists` needs `storage`).
    fn schema_rules(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
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
    /// AWS `AutoEnableOrganizationMembers`: `NEW`, `ALL` or `NONE` (`auto_enable:`, or its
    /// `default:` in the per-feature form).
    pub auto_enable: String,
    /// Per-feature auto-enable, where the manifest says (`auto_enable: { FEATURE: ... }`);
    /// other features follow `detector:` (enabled: like `auto_enable`, disabled: `NONE`).
    pub auto_enable_features: BTreeMap<String, FeatureAutoEnable>,
}

/// One feature's organization auto-enable: `NEW`, `ALL` or `NONE`, and its additional
/// configurations' (those not named follow the feature's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureAutoEnable {
    pub auto_enable: String,
    pub additional: BTreeMap<String, String>,
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
    #[error("{path}: {problem}")]
    Unreadable {
        path: String,
        /// What is wrong with the file as a whole (too large, not UTF-8), with a hint.
        problem: String,
    },
    #[error("{path}: {count} problem{plural} found", plural = if *count == 1 { "" } else { "s" })]
    Invalid {
        path: String,
        count: usize,
        /// Everything found, rendered (errors and warnings).
        rendered: String,
    },
}

/// Reads and checks a manifest file.
pub fn load(
    path: &Path,
    color: bool,
    sections: &[&dyn Section],
) -> Result<LoadedManifest, ManifestError> {
    let display = path.display().to_string();
    let read = |source| ManifestError::Read {
        path: display.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read)?.len();
    if size > MAX_MANIFEST_BYTES {
        return Err(ManifestError::Unreadable {
            path: display.clone(),
            problem: format!(
                "{size} bytes; a manifest may have at most {MAX_MANIFEST_BYTES} bytes\n  hint: long lists belong in list files (`source: {{ file: ... }}`), not in the manifest"
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    let source = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
        ManifestError::Unreadable {
            path: display.clone(),
            problem: format!(
                "{line}:{column}: not UTF-8 text (a manifest is YAML, UTF-8 encoded)\n  hint: is this a binary file, or saved in another encoding?"
            ),
        }
    })?;
    load_str(&display, source, color, sections)
}

/// The largest manifest guardform reads (a manifest arrives through pull requests: untrusted
/// input to the CI runner that plans it).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Checks manifest text that came from `path`.
pub fn load_str(
    path: &str,
    source: String,
    color: bool,
    sections: &[&dyn Section],
) -> Result<LoadedManifest, ManifestError> {
    let folder = Path::new(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (manifest, diagnostics) = check::check(&source, &folder, sections);
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
