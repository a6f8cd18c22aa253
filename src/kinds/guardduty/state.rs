//! GuardDuty's organization state as read: per Region, the delegated administrator, its
//! detector, the organization configuration and the members.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A feature's status and its additional configurations (`ENABLED` / `DISABLED` for detectors,
/// `NEW` / `ALL` / `NONE` for the organization configuration).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct FeatureState {
    pub status: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional: BTreeMap<String, String>,
}

/// The administrator's detector in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorState {
    pub id: String,
    pub status: String,
    pub finding_publishing_frequency: String,
    pub features: BTreeMap<String, FeatureState>,
    pub tags: BTreeMap<String, String>,
}

/// The organization configuration in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgConfigState {
    pub auto_enable_organization_members: String,
    pub features: BTreeMap<String, FeatureState>,
}

/// A member account of the administrator in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
    pub relationship_status: String,
    pub administrator_id: String,
    /// The member detector's features; `None` when not read (not targeted, or unprocessed).
    /// Members with the same features share one map (thousands of members, a few sets).
    pub features: Option<Arc<BTreeMap<String, FeatureState>>>,
    /// Why the features could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// Everything observed in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegionState {
    /// Delegated administrators of the organization in this Region, with their status.
    pub admin_accounts: BTreeMap<String, String>,
    pub detector: Option<DetectorState>,
    pub org_config: Option<OrgConfigState>,
    pub members: BTreeMap<String, MemberState>,
    /// The administrator's malware scan settings; read only when the manifest names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malware_scan: Option<super::malware_scan::ScanSettings>,
}

/// Every targeted Region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GuardDutyState {
    pub regions: BTreeMap<String, RegionState>,
    /// Whether the management account has GuardDuty's service-linked role; read only when it
    /// is targeted and not yet a member somewhere (GuardDuty refuses to add it before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_service_role: Option<bool>,
    /// Regions the manifest does not target where the administrator has a detector guardform
    /// manages (by its tag): what guardform made there is not silently abandoned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub untargeted_detectors: BTreeMap<String, String>,
    /// Whether the organization has trusted access for GuardDuty's malware protection; read
    /// only when the manifest enables EBS malware protection and the administrator is not the
    /// management account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malware_trusted_access: Option<bool>,
}
