//! The plan as a value: addressed changes with before/after attributes and a reason, the
//! fingerprint of the state it was built from, and the manifest it came from. It can be
//! printed, saved, loaded and applied.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Version of the JSON plan format. Only grows: new fields may appear, none change meaning.
pub const FORMAT_VERSION: &str = "1.0";

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete, then create (e.g. a different delegated administrator).
    Replace,
    Delete,
}

impl Action {
    /// The plan symbol: `+`, `~`, `-/+`, `-`.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    /// Words for the legend and headings.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update in-place",
            Action::Replace => "destroy and then create replacement",
            Action::Delete => "destroy",
        }
    }
}

/// Flat attributes: dotted names (`features.S3_DATA_EVENTS`) to JSON values.
pub type Attributes = BTreeMap<String, Value>;

/// A change's attributes, shared between changes that carry the same ones: 10,000 members in
/// 17 Regions that get the same features hold one map, not 170,000. Reads go through `Deref`;
/// a write (`DerefMut`) copies the map first if another change shares it. Serialized as the
/// map itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shared(Arc<Attributes>);

impl Shared {
    /// Whether `a` and `b` are the same map in memory (not only equal).
    pub fn same(a: &Shared, b: &Shared) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for Shared {
    type Target = Attributes;

    fn deref(&self) -> &Attributes {
        &self.0
    }
}

impl DerefMut for Shared {
    fn deref_mut(&mut self) -> &mut Attributes {
        Arc::make_mut(&mut self.0)
    }
}

impl From<Attributes> for Shared {
    fn from(attributes: Attributes) -> Shared {
        Shared(Arc::new(attributes))
    }
}

impl FromIterator<(String, Value)> for Shared {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Shared {
        Shared::from(Attributes::from_iter(iter))
    }
}

fn no_attributes(attributes: &Shared) -> bool {
    attributes.is_empty()
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    /// The resource type (`guardduty.member`), as the kind that plans it names it.
    #[serde(rename = "type")]
    pub kind: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub region: String,
    /// Live values of the attributes that change (absent ones are null).
    #[serde(default, skip_serializing_if = "no_attributes")]
    pub before: Shared,
    /// Desired values of the attributes that change.
    #[serde(default, skip_serializing_if = "no_attributes")]
    pub after: Shared,
    /// Why the change is needed.
    pub reason: String,
    /// The flag apply needs for this change (`--allow-destroy`, `--allow-admin-change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
    /// Values apply needs that are not compared (ids, e-mail addresses).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// For list files: the entries added and removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDiff>,
}

/// How a list's entries change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContentDiff {
    pub added: usize,
    pub removed: usize,
    /// Every changed line, `+entry` or `-entry`, in list order.
    pub lines: Vec<String>,
}

impl ContentDiff {
    /// The line diff of two list files (`similar`).
    pub fn between(before: &str, after: &str) -> ContentDiff {
        let mut diff = ContentDiff::default();
        for change in similar::TextDiff::from_lines(before, after).iter_all_changes() {
            let line = change.value().trim_end_matches('\n');
            match change.tag() {
                similar::ChangeTag::Insert => {
                    diff.added += 1;
                    diff.lines.push(format!("+{line}"));
                }
                similar::ChangeTag::Delete => {
                    diff.removed += 1;
                    diff.lines.push(format!("-{line}"));
                }
                similar::ChangeTag::Equal => {}
            }
        }
        diff
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// Where the plan came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRef {
    pub path: String,
    pub digest: String,
}

/// What the plan targets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Targets {
    pub management_account: String,
    pub delegated_admin: String,
    pub regions: Vec<String>,
    /// Member accounts (the administrator excluded).
    pub member_accounts: usize,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub guardform_version: String,
    pub manifest: ManifestRef,
    /// SHA-256 of the discovered organization and observed GuardDuty state.
    pub observed_fingerprint: String,
    pub targets: Targets,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// The manifest text, kept in saved plan files so `apply FILE` needs nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_source: Option<String>,
}

impl Plan {
    /// Builds a plan from changes, sorted for reading (by the rank of their type, then Region,
    /// account and address) and counted. The order is for people; apply follows dependencies.
    pub fn new(
        manifest: ManifestRef,
        observed_fingerprint: String,
        targets: Targets,
        notes: Vec<String>,
        mut changes: Vec<Change>,
        rank: impl Fn(&str) -> usize,
    ) -> Plan {
        changes.sort_by(|a, b| {
            (rank(&a.kind), &a.region, &a.account, &a.address).cmp(&(
                rank(&b.kind),
                &b.region,
                &b.account,
                &b.address,
            ))
        });
        let mut summary = Summary::default();
        for change in &changes {
            match change.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Delete => summary.destroy += 1,
                Action::Replace => {
                    summary.add += 1;
                    summary.destroy += 1;
                }
            }
        }
        Plan {
            format_version: FORMAT_VERSION.to_string(),
            guardform_version: env!("CARGO_PKG_VERSION").to_string(),
            manifest,
            observed_fingerprint,
            targets,
            notes,
            changes,
            summary,
            manifest_source: None,
        }
    }

    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Changes that need a flag that was not given.
    pub fn blocked(&self, allow_destroy: bool, allow_admin_change: bool) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| match c.requires.as_deref() {
                Some("--allow-destroy") => !allow_destroy,
                Some("--allow-admin-change") => !allow_admin_change,
                Some(_) => true,
                None => false,
            })
            .collect()
    }
}

/// A saved plan could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a guardform plan file")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} has plan format {found}; this guardform reads format {FORMAT_VERSION}")]
    Version { path: String, found: String },
    #[error("{path} was saved without its manifest; save plans with `guardform plan --out FILE`")]
    NoManifest { path: String },
    #[error("cannot write plan file {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// How a saved plan differs from the one made now for the same world, if it does: the first
/// change that is not the same, or the summary.
pub fn difference(saved: &Plan, now: &Plan) -> Option<String> {
    let addresses =
        |plan: &Plan| -> Vec<String> { plan.changes.iter().map(|c| c.address.clone()).collect() };
    for change in &saved.changes {
        match now.changes.iter().find(|c| c.address == change.address) {
            None => {
                return Some(format!(
                    "{} is not a change guardform plans",
                    change.address
                ));
            }
            Some(fresh) if fresh != change => {
                return Some(format!(
                    "{} differs from what guardform plans",
                    change.address
                ));
            }
            Some(_) => {}
        }
    }
    if addresses(saved) != addresses(now) {
        let missing: Vec<String> = addresses(now)
            .into_iter()
            .filter(|a| !saved.changes.iter().any(|c| c.address == *a))
            .collect();
        return Some(format!("it lacks {}", missing.join(", ")));
    }
    if saved.summary != now.summary || saved.targets != now.targets || saved.notes != now.notes {
        return Some("its summary, targets or notes were changed".to_string());
    }
    None
}

/// Writes a plan file (the JSON plan plus the manifest text) atomically, readable by its owner
/// only: it holds account e-mail addresses and policies.
pub fn save(
    plan: &Plan,
    manifest_source: &str,
    path: &std::path::Path,
) -> Result<(), PlanFileError> {
    let mut saved = plan.clone();
    saved.manifest_source = Some(manifest_source.to_string());
    let text = serde_json::to_string_pretty(&saved).unwrap_or_default() + "\n";
    let error = |source| PlanFileError::Write {
        path: path.display().to_string(),
        source,
    };
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(error)
}

/// Reads a plan file.
pub fn load(path: &std::path::Path) -> Result<Plan, PlanFileError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
        path: display.clone(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|source| PlanFileError::Parse {
        path: display.clone(),
        source,
    })?;
    let found = value
        .get("format_version")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    if found.split('.').next() != FORMAT_VERSION.split('.').next() {
        return Err(PlanFileError::Version {
            path: display,
            found,
        });
    }
    let plan: Plan = serde_json::from_value(value).map_err(|source| PlanFileError::Parse {
        path: display.clone(),
        source,
    })?;
    if plan.manifest_source.is_none() {
        return Err(PlanFileError::NoManifest { path: display });
    }
    Ok(plan)
}
