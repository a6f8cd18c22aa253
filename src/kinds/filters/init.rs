//! `guardform init` for filters: every filter of the administrator, in rank order, with its
//! criteria in the manifest's words, adopted (`adopt: true`) when guardform did not make it.

use super::criteria::{self, OPERATORS};
use super::state::{FilterState, FiltersState};
use crate::engine::InitEntry;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The manifest's criteria for a criteria document (`{attribute: {apiOperator: value}}`).
fn criteria_value(document: &Value) -> Value {
    let mut out = Map::new();
    for (attribute, condition) in document.as_object().into_iter().flatten() {
        let mut conditions = Map::new();
        for (api, value) in condition.as_object().into_iter().flatten() {
            let name = OPERATORS
                .iter()
                .find(|(_, a)| a == api)
                .map(|(name, _)| *name)
                .unwrap_or(api.as_str());
            conditions.insert(name.to_string(), value.clone());
        }
        out.insert(attribute.clone(), Value::Object(conditions));
    }
    Value::Object(out)
}

fn filter_value(filter: &FilterState) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(filter.name));
    if !filter.description.is_empty() {
        out.insert("description".into(), json!(filter.description));
    }
    let action = filter.action.to_ascii_lowercase();
    let attributes: Vec<&str> = filter
        .criteria
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if action == "archive" && criteria::broad(attributes.iter().copied()) {
        out.insert("allow_broad".into(), json!(true));
    }
    out.insert("action".into(), json!(action));
    out.insert("criteria".into(), criteria_value(&filter.criteria));
    if !filter.owned() {
        out.insert("adopt".into(), json!(true));
    }
    Value::Object(out)
}

/// The `filters` entry (none when the administrator has no filters).
pub fn init(context: &crate::kinds::Context, state: &FiltersState) -> Vec<InitEntry> {
    // Each name's most common form across the Regions written, in the order of its best rank.
    let written: Vec<&super::state::RegionFilters> = state
        .regions
        .iter()
        .filter(|(region, r)| context.discovery.regions.contains(region) && r.detector_id.is_some())
        .map(|(_, r)| r)
        .collect();
    let mut forms: BTreeMap<String, Vec<(i32, Value)>> = BTreeMap::new();
    for region in &written {
        for filter in &region.filters {
            forms
                .entry(filter.name.clone())
                .or_default()
                .push((filter.rank, filter_value(filter)));
        }
    }
    if forms.is_empty() {
        return Vec::new();
    }
    let regions = written.len();
    let mut comments = Vec::new();
    let mut chosen: Vec<(i32, String, Value)> = Vec::new();
    for (name, found) in forms {
        // Compared as canonical text (GuardDuty answers criteria in its own order).
        let mut counts: BTreeMap<String, (usize, &Value)> = BTreeMap::new();
        for (_, form) in &found {
            counts
                .entry(crate::kinds::canonical_text(form))
                .or_insert((0, form))
                .0 += 1;
        }
        let Some((count, form)) = counts.values().max_by_key(|(n, _)| *n).copied() else {
            continue;
        };
        if count < regions || counts.len() > 1 {
            comments.push(format!(
                "filter `{name}` is not the same in every Region; the first plan makes it this everywhere"
            ));
        }
        let rank = found.iter().map(|(r, _)| *r).min().unwrap_or_default();
        chosen.push((rank, name, form.clone()));
    }
    chosen.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    vec![InitEntry {
        key: "filters".into(),
        value: Value::Array(chosen.into_iter().map(|(_, _, v)| v).collect()),
        comments,
    }]
}
