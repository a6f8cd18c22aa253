//! What the filters kind reads: every filter of the administrator's detector per Region.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One filter as GuardDuty has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterState {
    pub name: String,
    pub description: String,
    pub action: String,
    pub rank: i32,
    /// The criteria document (see `criteria::document_of`).
    pub criteria: serde_json::Value,
    pub tags: BTreeMap<String, String>,
}

impl FilterState {
    /// Whether guardform made it (its tag).
    pub fn owned(&self) -> bool {
        self.tags
            .get(crate::kinds::MANAGED_TAG_KEY)
            .map(String::as_str)
            == Some(crate::kinds::MANAGED_TAG_VALUE)
    }
}

/// The filters of the administrator's detector in one Region, in rank order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RegionFilters {
    /// `None` when the administrator has no detector there yet.
    pub detector_id: Option<String>,
    pub filters: Vec<FilterState>,
}

/// Every targeted Region's filters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FiltersState {
    pub regions: BTreeMap<String, RegionFilters>,
}
