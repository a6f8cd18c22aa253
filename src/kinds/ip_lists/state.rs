//! IP list state as read: the administrator's sets per Region, the list bucket and the list
//! files, and each list's content as its source gives it now.

use super::section::{ListKind, Storage};
use super::sources::ListContent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A trusted (IPSet) or threat (ThreatIntelSet) list of the administrator in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSetState {
    pub id: String,
    pub name: String,
    pub format: String,
    pub location: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    /// The account GuardDuty checks owns the bucket (entity lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_bucket_owner: Option<String>,
}

/// The administrator's sets in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegionSets {
    /// The administrator's IPSets (GuardDuty allows one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_sets: Vec<ListSetState>,
    /// The administrator's ThreatIntelSets (at most six).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threat_intel_sets: Vec<ListSetState>,
    /// The administrator's TrustedEntitySets (GuardDuty allows one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_entity_sets: Vec<ListSetState>,
    /// The administrator's ThreatEntitySets (at most six).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threat_entity_sets: Vec<ListSetState>,
}

impl RegionSets {
    /// The sets of one kind.
    pub fn of(&self, kind: ListKind) -> &[ListSetState] {
        match kind {
            ListKind::Trusted => &self.ip_sets,
            ListKind::Threat => &self.threat_intel_sets,
            ListKind::TrustedEntities => &self.trusted_entity_sets,
            ListKind::ThreatEntities => &self.threat_entity_sets,
        }
    }

    /// Every set, with its kind.
    pub fn all(&self) -> impl Iterator<Item = (ListKind, &ListSetState)> {
        ListKind::ALL
            .into_iter()
            .flat_map(move |kind| self.of(kind).iter().map(move |set| (kind, set)))
    }
}

/// The list storage bucket and the list objects guardform cares about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageState {
    pub bucket_exists: bool,
    pub public_access_blocked: bool,
    pub encrypted: bool,
    /// SHA-256 of the content of each object read (desired keys and live sets' locations),
    /// `None` where the object does not exist.
    pub objects: BTreeMap<String, Option<String>>,
    /// Every object under the storage prefix: the list files guardform uploaded, whatever the
    /// manifest says now (found by where they are, as roles are by their path).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// Everything the IP list kinds read.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IpListsState {
    /// Every targeted Region (no sets where the administrator has no detector yet).
    pub regions: BTreeMap<String, RegionSets>,
    /// The list bucket's Region: the manifest's, or the home Region.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket_region: String,
    /// Present when the manifest has list storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageState>,
    /// SHA-256 of each IP list's content as its source gives it now (sources are part of the
    /// world a saved plan was built from).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// Where list files are: the manifest's storage, or (when the manifest has none any more)
    /// where guardform's sets point, so a removed section's files are still found.
    #[serde(skip)]
    pub storage_location: Option<Storage>,
    /// Text of the objects read, by key (not fingerprinted: their SHA-256 is).
    #[serde(skip)]
    pub contents: BTreeMap<String, String>,
    /// The lists as their sources give them now (fingerprinted through `sources`).
    #[serde(skip)]
    pub lists: Vec<ListContent>,
}
