//! The `filters:` section: GuardDuty filters (suppression rules and saved filters), in the
//! order GuardDuty applies them.

use super::criteria::{self, MAX_VALUES, Operand, ValueType};
use crate::manifest::catalog;
use crate::manifest::diagnostic::Diagnostic;
use crate::manifest::yaml::{Node, Value};
use crate::manifest::{Checker, Entries, Manifest, Section, SectionValue};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

/// The section's name and key.
pub const NAME: &str = "filters";

/// Filters GuardDuty keeps per account and Region (API Reference, CreateFilter).
pub const MAX_FILTERS: usize = 100;

/// Longest description GuardDuty takes.
pub const MAX_DESCRIPTION: usize = 512;

/// One filter, as the manifest declares it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterSpec {
    pub name: String,
    pub description: String,
    /// `ARCHIVE` (a suppression rule) or `NOOP` (a saved filter), as the API spells them.
    pub action: String,
    /// The criteria document (see [`criteria::document`]).
    pub criteria: serde_json::Value,
    pub allow_broad: bool,
    pub adopt: bool,
}

/// `filters:`, in rank order (the first is rank 1).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Filters {
    pub filters: Vec<FilterSpec>,
}

/// The `filters:` section.
pub struct FiltersSection;

/// The filters of a checked manifest (none when it has no section).
pub fn of(manifest: &Manifest) -> &[FilterSpec] {
    manifest
        .sections
        .get::<Filters>(NAME)
        .map(|f| f.filters.as_slice())
        .unwrap_or_default()
}

impl Section for FiltersSection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("", &["filters"]),
            (
                "filters.*",
                &[
                    "name",
                    "description",
                    "action",
                    "criteria",
                    "allow_broad",
                    "adopt",
                ],
            ),
            (
                "filters.*.criteria.*",
                &[
                    "equals",
                    "not_equals",
                    "gt",
                    "gte",
                    "lt",
                    "lte",
                    "matches",
                    "not_matches",
                ],
            ),
        ]
    }

    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue> {
        let Some(node) = top.get(NAME) else {
            return Some(Arc::new(Filters::default()));
        };
        let items = checker.list(node, "`filters`");
        let mut filters = Vec::new();
        let mut ok = true;
        for item in &items {
            match filter(checker, item) {
                Some(spec) => {
                    if filters.iter().any(|f: &FilterSpec| f.name == spec.name) {
                        checker.error(
                            Diagnostic::error(
                                Some(item.position),
                                format!("filter `{}` is declared twice", spec.name),
                            )
                            .hint("GuardDuty filter names are unique in a Region"),
                        );
                        ok = false;
                    }
                    filters.push(spec);
                }
                None => ok = false,
            }
        }
        if items.len() > MAX_FILTERS {
            checker.error(
                Diagnostic::error(
                    Some(node.position),
                    format!(
                        "`filters` declares {} filters; GuardDuty keeps at most {MAX_FILTERS} per account and Region",
                        items.len()
                    ),
                )
                .expected(format!("at most {MAX_FILTERS} filters")),
            );
            ok = false;
        }
        ok.then(|| Arc::new(Filters { filters }) as SectionValue)
    }

    fn schema(&self) -> serde_json::Map<String, serde_json::Value> {
        let attributes: serde_json::Map<String, serde_json::Value> = criteria::ATTRIBUTES
            .iter()
            .map(|(name, kind)| (name.to_string(), condition_schema(*kind)))
            .collect();
        let mut properties = serde_json::Map::new();
        properties.insert(
            NAME.into(),
            json!({
                "type": "array",
                "maxItems": MAX_FILTERS,
                "description": "GuardDuty filters in the delegated administrator account, in every targeted Region; the first is rank 1.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "criteria"],
                    "if": {
                        "required": ["action"],
                        "properties": {"action": {"const": "archive"}, "allow_broad": {"const": false}}
                    },
                    "then": {
                        "description": "An archive filter must name what is expected, not only severity, confidence, time, Region or archived state (else `allow_broad: true`).",
                        "properties": {"criteria": {"not": {"propertyNames": {"enum": criteria::BROAD}}}}
                    },
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{3,64}$"},
                        "description": {"type": ["string", "number", "boolean"], "maxLength": MAX_DESCRIPTION},
                        "action": {"enum": ["archive", "noop"], "default": "noop"},
                        "criteria": {"type": "object", "additionalProperties": false, "properties": attributes},
                        "allow_broad": {"type": "boolean", "default": false, "description": "Allow an archive filter that narrows only by severity, confidence, time, Region or archived state."},
                        "adopt": {"type": "boolean", "default": false, "description": "Take over a same-named filter guardform did not create."}
                    }
                }
            }),
        );
        properties
    }
}

/// The JSON Schema of the conditions on an attribute whose values are of type `kind`.
fn condition_schema(kind: ValueType) -> serde_json::Value {
    let whole =
        json!({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[+-]?[0-9]+$"}]});
    let time = json!({"anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": "^([0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z)$"}
    ]});
    let value = match kind {
        ValueType::Text => json!({"type": ["string", "number", "boolean"], "minLength": 1}),
        ValueType::Account => crate::manifest::schema::account_id(),
        ValueType::Region => crate::manifest::schema::region(),
        ValueType::Number => {
            json!({"anyOf": [{"type": "number"}, {"type": "string", "pattern": "^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$"}]})
        }
        ValueType::Boolean => json!({"enum": [true, false, "true", "false"]}),
        ValueType::Timestamp => time.clone(),
    };
    let list = |item: serde_json::Value| json!({"oneOf": [item, {"type": "array", "minItems": 1, "maxItems": MAX_VALUES, "items": item}]});
    let any = list(json!({"type": ["string", "number", "boolean"]}));
    // `gt`, `gte`, `lt`, `lte` compare numbers and times only.
    let compared = match kind {
        ValueType::Number => whole,
        ValueType::Timestamp => time,
        _ => json!(false),
    };
    json!({
        "type": "object",
        "additionalProperties": false,
        "minProperties": 1,
        "properties": {
            "equals": list(value.clone()), "not_equals": list(value), "matches": any, "not_matches": any,
            "gt": compared, "gte": compared, "lt": compared, "lte": compared
        }
    })
}

fn valid_name(name: &str) -> bool {
    (3..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn filter(checker: &mut Checker, node: &Node) -> Option<FilterSpec> {
    let entries = checker.mapping(node, "filters.*", "a filter")?;
    let name = checker
        .required(&entries, "name", "a filter", "add `name: my-filter`")
        .and_then(|node| {
            let name = checker.string(node, "`filters.name`")?;
            if valid_name(&name) {
                return Some(name);
            }
            checker.error(
                Diagnostic::error(Some(node.position), format!("invalid filter name `{name}`"))
                    .expected("3 to 64 letters, digits, `.`, `_` and `-` (no spaces)"),
            );
            None
        });
    let what = format!("filter `{}`", name.as_deref().unwrap_or("?"));
    let description = match entries.get("description") {
        Some(node) => checker.string(node, "`filters.description`").and_then(|d| {
            if d.chars().count() <= MAX_DESCRIPTION {
                return Some(d);
            }
            checker.error(
                Diagnostic::error(
                    Some(node.position),
                    format!(
                        "{what}: the description has {} characters",
                        d.chars().count()
                    ),
                )
                .expected(format!("at most {MAX_DESCRIPTION} characters")),
            );
            None
        }),
        None => Some(String::new()),
    };
    let action = match entries.get("action") {
        Some(node) => checker
            .one_of(node, "`filters.action`", &["archive", "noop"])
            .map(|a| a.to_ascii_uppercase()),
        None => Some("NOOP".to_string()),
    };
    let flag = |checker: &mut Checker, key: &str| {
        entries
            .get(key)
            .map(|n| checker.bool(n, &format!("`{key}`")))
            .unwrap_or(Some(false))
    };
    let allow_broad = flag(checker, "allow_broad");
    let adopt = flag(checker, "adopt");
    let criteria_node = checker.required(
        &entries,
        "criteria",
        &what,
        "add `criteria:` with at least one finding attribute, e.g. `type: { equals: [\"Recon:EC2/PortProbeUnprotectedPort\"] }`",
    );
    let criteria = criteria_node.and_then(|node| conditions(checker, node, &what));
    if let (Some(criteria), Some(action), Some(false), Some(node)) =
        (&criteria, &action, allow_broad, criteria_node)
        && action == "ARCHIVE"
        && criteria::broad(criteria.iter().map(|(a, _)| a.as_str()))
    {
        let narrowed: Vec<&str> = criteria.iter().map(|(a, _)| a.as_str()).collect();
        let by = if narrowed.is_empty() {
            "no criteria at all".to_string()
        } else {
            format!("only {}", narrowed.join(", "))
        };
        checker.error(
            Diagnostic::error(
                Some(node.position),
                format!("{what} archives every finding its band matches: its criteria name {by}"),
            )
            .expected("criteria that name what is expected (a finding `type`, an IP address, an instance, a tag...)")
            .hint("archived findings are hidden from people and not used by Extended Threat Detection; if this is really meant, add `allow_broad: true`"),
        );
        return None;
    }
    Some(FilterSpec {
        name: name?,
        description: description?,
        action: action?,
        criteria: criteria::document(&criteria?),
        allow_broad: allow_broad?,
        adopt: adopt?,
    })
}

type Conditions = Vec<(String, Vec<(String, Operand)>)>;

fn conditions(checker: &mut Checker, node: &Node, what: &str) -> Option<Conditions> {
    let Value::Mapping(pairs) = &node.value else {
        if node.is_null() {
            return Some(Vec::new());
        }
        checker.type_error(
            node,
            &format!("the criteria of {what}"),
            "a mapping of finding attributes to conditions",
        );
        return None;
    };
    let names: Vec<&str> = criteria::ATTRIBUTES.iter().map(|(n, _)| *n).collect();
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in pairs {
        let Some(attribute) = checker.string(key, "a finding attribute") else {
            ok = false;
            continue;
        };
        let Some(kind) = criteria::value_type(&attribute) else {
            checker.error(
                Diagnostic::error(
                    Some(key.position),
                    format!("{what}: `{attribute}` is not a finding attribute GuardDuty filters on"),
                )
                .expected("an attribute from the GuardDuty API Reference, FindingCriteria (e.g. `type`, `severity`, `resource.instanceDetails.instanceId`)")
                .suggest(&attribute, names.iter().copied()),
            );
            ok = false;
            continue;
        };
        let context = format!("{what}, `{attribute}`");
        let Some(entries) = checker.mapping(value, "filters.*.criteria.*", &context) else {
            ok = false;
            continue;
        };
        if entries.entries.is_empty() {
            checker.error(
                Diagnostic::error(Some(value.position), format!("{context}: no condition"))
                    .expected("one of: equals, not_equals, gt, gte, lt, lte, matches, not_matches"),
            );
            ok = false;
            continue;
        }
        let mut conditions = Vec::new();
        for (operator, _, operand) in &entries.entries {
            match condition(checker, operator, operand, kind, &context) {
                Some(operand) => conditions.push((operator.to_string(), operand)),
                None => ok = false,
            }
        }
        out.push((attribute, conditions));
    }
    ok.then_some(out)
}

fn condition(
    checker: &mut Checker,
    operator: &str,
    node: &Node,
    kind: ValueType,
    context: &str,
) -> Option<Operand> {
    if !criteria::takes_list(operator) {
        if !matches!(kind, ValueType::Number | ValueType::Timestamp) {
            checker.error(
                Diagnostic::error(
                    Some(node.position),
                    format!("{context}: `{operator}` compares numbers and times, and this attribute is neither"),
                )
                .expected("`equals`, `not_equals`, `matches` or `not_matches`"),
            );
            return None;
        }
        return one_number(checker, node, kind, &format!("{context} `{operator}`"))
            .map(Operand::Number);
    }
    let items: Vec<&Node> = match &node.value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Scalar { .. } => vec![node],
        Value::Mapping(_) => {
            checker.type_error(
                node,
                &format!("{context} `{operator}`"),
                "a value or a list of values",
            );
            return None;
        }
    };
    if items.is_empty() || items.len() > MAX_VALUES {
        checker.error(
            Diagnostic::error(
                Some(node.position),
                format!("{context} `{operator}` has {} values", items.len()),
            )
            .expected(format!(
                "1 to {MAX_VALUES} values (GuardDuty's limit per condition)"
            )),
        );
        return None;
    }
    let mut values = Vec::new();
    let mut ok = true;
    for item in items {
        match list_value(checker, item, kind, context, operator) {
            Some(v) => values.push(v),
            None => ok = false,
        }
    }
    ok.then_some(Operand::List(values))
}

fn list_value(
    checker: &mut Checker,
    node: &Node,
    kind: ValueType,
    context: &str,
    operator: &str,
) -> Option<String> {
    let text = checker.string(node, &format!("{context} `{operator}`"))?;
    let matching = operator.ends_with("matches");
    let valid = matching
        || match kind {
            ValueType::Text => !text.is_empty(),
            ValueType::Account => catalog::is_account_id(&text),
            ValueType::Region => catalog::looks_like_region(&text),
            ValueType::Number => text.parse::<f64>().is_ok(),
            ValueType::Boolean => text == "true" || text == "false",
            ValueType::Timestamp => timestamp(&text).is_some(),
        };
    if valid {
        return Some(text);
    }
    let expected = match kind {
        ValueType::Text => "a non-empty value",
        ValueType::Account => "a 12-digit account id",
        ValueType::Region => "a Region name such as `eu-west-1`",
        ValueType::Number => "a number",
        ValueType::Boolean => "`true` or `false`",
        ValueType::Timestamp => "a time such as `2026-01-31T00:00:00Z`",
    };
    checker.error(
        Diagnostic::error(
            Some(node.position),
            format!("{context}: invalid value `{text}`"),
        )
        .expected(expected),
    );
    None
}

fn one_number(checker: &mut Checker, node: &Node, kind: ValueType, what: &str) -> Option<i64> {
    let text = node.as_scalar().unwrap_or_default();
    let value = match kind {
        ValueType::Timestamp => timestamp(text),
        _ => text.parse::<i64>().ok(),
    };
    if value.is_none() {
        let expected = if kind == ValueType::Timestamp {
            "a time such as `2026-01-31T00:00:00Z` (or epoch milliseconds)"
        } else {
            "a whole number (GuardDuty compares whole numbers: `severity: { gte: 7 }`)"
        };
        checker.error(
            Diagnostic::error(
                Some(node.position),
                format!(
                    "{what}: invalid value `{}`",
                    node.as_scalar().unwrap_or(node.kind_name())
                ),
            )
            .expected(expected),
        );
    }
    value
}

/// Epoch milliseconds of an RFC 3339 time (or of epoch milliseconds given as such).
fn timestamp(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime)
        .ok()?
        .to_millis()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::diagnostic::Severity;

    const MINIMAL: &str = "version: 1\norganization:\n  delegated_admin: \"222222222222\"\naccounts:\n  include: { all: true }\nregions:\n  include: [eu-west-1]\n";

    fn errors(filters: &str) -> Vec<String> {
        let source = format!("{MINIMAL}filters:\n{filters}");
        crate::kinds::check(&source, std::path::Path::new("."))
            .1
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let p = d.position.unwrap_or_default();
                format!(
                    "{}:{} {} | {}",
                    p.line,
                    p.column,
                    d.message,
                    d.hint.unwrap_or_default()
                )
            })
            .collect()
    }

    fn checked(filters: &str) -> Vec<FilterSpec> {
        let source = format!("{MINIMAL}filters:\n{filters}");
        let (manifest, diagnostics) = crate::kinds::check(&source, std::path::Path::new("."));
        let manifest = manifest.unwrap_or_else(|| panic!("{diagnostics:#?}"));
        of(&manifest).to_vec()
    }

    #[test]
    fn a_filter_becomes_the_api_document() {
        let filters = checked(
            "  - name: known-scanner\n    description: Our scanner\n    action: archive\n    criteria:\n      type: { equals: [\"Recon:EC2/PortProbeUnprotectedPort\"] }\n      service.action.networkConnectionAction.remoteIpDetails.ipAddressV4: { equals: [\"198.51.100.7\"] }\n      severity: { lt: 4 }\n      updatedAt: { gte: \"2026-01-01T00:00:00Z\" }\n  - name: saved\n    criteria:\n      severity: { gte: 7 }\n",
        );
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0].action, "ARCHIVE");
        assert_eq!(filters[1].action, "NOOP");
        assert_eq!(
            filters[0].criteria,
            json!({
                "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4": {"equals": ["198.51.100.7"]},
                "severity": {"lessThan": 4},
                "type": {"equals": ["Recon:EC2/PortProbeUnprotectedPort"]},
                "updatedAt": {"greaterThanOrEqual": 1767225600000_i64}
            })
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_position() {
        let found = errors(concat!(
            "  - name: a b\n",                           // 9
            "    criteria: { typ: { equals: [x] } }\n",  // 10
            "  - name: ok-name\n",                       // 11
            "    action: supress\n",                     // 12
            "    criteria:\n",                           // 13
            "      severity: { lt: high }\n",            // 14
            "      type: { gt: 3, like: [x] }\n",        // 15
            "      accountId: { equals: [\"1234\"] }\n", // 16
            "  - name: broad\n",                         // 17
            "    action: archive\n",                     // 18
            "    criteria: { severity: { lte: 3 } }\n",  // 19
        ));
        assert_eq!(found.len(), 8, "{found:#?}");
        assert!(
            found[0].starts_with("9:11 invalid filter name `a b`"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("10:17 filter `?`: `typ` is not a finding attribute"),
            "{found:#?}"
        );
        assert!(found[1].contains("did you mean `type`"), "{found:#?}");
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("12:13 invalid `filters.action` `supress`")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|e| e
                    .starts_with("14:23 filter `ok-name`, `severity` `lt`: invalid value `high`")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("15:19 filter `ok-name`, `type`: `gt` compares numbers")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|e| e.contains("unknown key `like`")),
            "{found:#?}"
        );
        assert!(found.iter().any(|e| e.starts_with("16:29 filter `ok-name`, `accountId`: invalid value `1234`")), "{found:#?}");
        assert!(found.iter().any(|e| e.starts_with("19:15 filter `broad` archives every finding its band matches: its criteria name only severity") && e.contains("allow_broad: true")), "{found:#?}");
    }

    #[test]
    fn broad_archives_need_the_flag_and_names_are_unique() {
        assert!(errors("  - name: quiet-lows\n    action: archive\n    allow_broad: true\n    criteria: { severity: { lt: 4 } }\n").is_empty());
        let found = errors(
            "  - name: twice\n    criteria: { type: { equals: [x] } }\n  - name: twice\n    criteria: { type: { equals: [y] } }\n",
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("11:5 filter `twice` is declared twice"),
            "{found:#?}"
        );
        let values: Vec<String> = (0..51).map(|i| format!("v{i}")).collect();
        let found = errors(&format!(
            "  - name: many\n    criteria: {{ type: {{ equals: [{}] }} }}\n",
            values.join(", ")
        ));
        assert!(found[0].contains("has 51 values"), "{found:#?}");
    }
}
