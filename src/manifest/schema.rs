//! The manifest's JSON Schema, for editors (yaml-language-server) and `guardform schema`.
//! Built from the same catalog as validation; a unit test keeps its keys equal to `KNOWN_KEYS`,
//! and tests/schema.rs runs a standard validator (check-jsonschema) on every example and bad
//! manifest and on one manifest per rule, so the schema and `guardform validate` agree.
//!
//! guardform reads YAML scalars as text, so where it wants a word it also takes what YAML would
//! read as a number (`cost-center: 4711`, an unquoted account id): the schema does too. An
//! optional mapping or list left empty (`detector:` with nothing under it) is read as empty:
//! [`schema`] allows `null` there, except where empty is an error anyway.

use crate::manifest::{Section, catalog};
use serde_json::{Value, json};

/// An S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens), as a pattern body.
pub const BUCKET: &str = "[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]";

/// The schema of an AWS Region name (`eu-west-1`, `us-gov-west-1`).
pub fn region() -> Value {
    json!({"type": "string", "pattern": "^[a-z]+(-[a-z]+){1,2}-[0-9]+$", "examples": catalog::DEFAULT_REGIONS})
}

/// The schema of a 12-digit account id: quoted, or unquoted (YAML reads it as a number).
pub fn account_id() -> Value {
    json!({
        "anyOf": [
            {"type": "string", "pattern": "^[0-9]{12}$"},
            {"type": "integer", "minimum": 100_000_000_000_u64, "maximum": 999_999_999_999_u64}
        ],
        "description": "A 12-digit AWS account id (quote it in YAML: ids with leading zeros need it)."
    })
}

/// The schema of a value guardform reads as text: any YAML scalar but null.
pub fn text() -> Value {
    json!({"type": ["string", "number", "boolean"]})
}

/// The schema of an ARN of `service` (`arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`).
pub fn arn(service: &str) -> Value {
    json!({"type": "string", "pattern": format!("^arn:aws[^:]*:{service}:[^:]*:[0-9]{{12}}:.")})
}

/// The schema of an HTTPS URL (plain HTTP on loopback only, for local tests).
pub fn url() -> Value {
    json!({"type": "string", "pattern": "^(https://.|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])([:/]|$))"})
}

/// The schema of a tag map.
pub fn tags() -> Value {
    json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"], "maxLength": 256}, "propertyNames": {"minLength": 1, "maxLength": 128, "not": {"pattern": "^[aA][wW][sS]:"}}})
}

/// Allows `null` for every optional mapping or list below `node` that the validator reads as
/// empty when it is null: those not required, with no required keys and no minimum size.
fn allow_empty(node: &mut Value) {
    let Value::Object(map) = node else {
        if let Value::Array(items) = node {
            items.iter_mut().for_each(allow_empty);
        }
        return;
    };
    let required: Vec<String> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let may_be_null = |schema: &Value| {
        matches!(schema["type"].as_str(), Some("object" | "array"))
            && ["required", "minProperties", "minItems"]
                .iter()
                .all(|k| schema.get(k).is_none())
    };
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for (name, schema) in properties.iter_mut() {
            if !required.contains(name) && may_be_null(schema) {
                schema["type"] = json!([schema["type"].clone(), "null"]);
            }
        }
    }
    if let Some(schema) = map.get_mut("additionalProperties")
        && may_be_null(schema)
    {
        schema["type"] = json!([schema["type"].clone(), "null"]);
    }
    for (key, value) in map.iter_mut() {
        if !matches!(key.as_str(), "examples" | "default" | "const" | "enum") {
            allow_empty(value);
        }
    }
}

/// The JSON Schema of `organization.auto_enable` in its per-feature form.
fn auto_enable_per_feature() -> Value {
    let value = json!({"enum": catalog::AUTO_ENABLE});
    let mut properties = serde_json::Map::new();
    properties.insert("default".into(), value.clone());
    for feature in catalog::FEATURES {
        let additional: serde_json::Map<String, Value> =
            catalog::additional_configurations(feature)
                .iter()
                .map(|name| (name.to_string(), value.clone()))
                .collect();
        properties.insert(
            feature.to_string(),
            json!({"oneOf": [
                value,
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["auto_enable"],
                    "properties": {
                        "auto_enable": value,
                        "additional": {"type": "object", "additionalProperties": false, "properties": additional}
                    }
                }
            ]}),
        );
    }
    json!({
        "type": "object",
        "description": "Per feature: `default` (AutoEnableOrganizationMembers) and FEATURE: NEW | ALL | NONE, or { auto_enable, additional: { NAME: NEW | ALL | NONE } }.",
        "additionalProperties": false,
        "properties": properties,
        "not": {"type": "object", "required": ["RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING"]}
    })
}

/// The JSON Schema (draft 2020-12) of manifest format version 1: the core and every section.
pub fn schema(sections: &[&dyn Section]) -> Value {
    let account_id = account_id();
    let region = region();
    let tags = tags();
    let ous = json!({"type": "array", "items": {"type": ["string", "number"], "pattern": "\\S"}, "description": "OU ids (ou-…) or name paths from the root (Workloads/Prod); nested OUs are included."});
    let selector = |with_all: bool| {
        let mut properties = serde_json::Map::new();
        if with_all {
            properties.insert("all".into(), json!({"type": "boolean", "description": "Every active account of the organization."}));
        }
        properties.insert("ids".into(), json!({"type": "array", "items": account_id}));
        properties.insert("ous".into(), ous.clone());
        properties.insert(
            "tags".into(),
            json!({"allOf": [tags], "description": "Accounts carrying all of these tags."}),
        );
        let mut selector =
            json!({"type": "object", "additionalProperties": false, "properties": properties});
        if with_all {
            // An empty target set would manage nothing.
            selector["anyOf"] = json!([
                {"required": ["all"], "properties": {"all": {"const": true}}},
                {"required": ["ids"], "properties": {"ids": {"type": "array", "minItems": 1}}},
                {"required": ["ous"], "properties": {"ous": {"type": "array", "minItems": 1}}},
                {"required": ["tags"], "properties": {"tags": {"type": "object", "minProperties": 1}}}
            ]);
        }
        selector
    };
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/guardform/guardform/manifest-v1.json",
        "title": "guardform manifest",
        "description": "Declares Amazon GuardDuty for an AWS Organization. See `guardform schema` and README.md.",
        "type": "object",
        "additionalProperties": false,
        "required": ["version", "organization", "accounts", "regions"],
        "properties": {
            "version": {"enum": [1, "1"], "description": "The manifest format version: 1."},
            "organization": {
                "type": "object",
                "additionalProperties": false,
                "required": ["delegated_admin"],
                "properties": {
                    "management_account": account_id,
                    "delegated_admin": account_id,
                    "member_role": {"type": "string", "pattern": "^[A-Za-z0-9+=,.@_-]{1,64}$", "default": "OrganizationAccountAccessRole"},
                    "account_roles": {"type": "object", "propertyNames": {"pattern": "^[0-9]{12}$"}, "additionalProperties": {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"}},
                    "auto_enable": {"oneOf": [
                        {"enum": catalog::AUTO_ENABLE, "default": "NEW"},
                        auto_enable_per_feature()
                    ]}
                }
            },
            "accounts": {
                "type": "object",
                "additionalProperties": false,
                "required": ["include"],
                "properties": {"include": selector(true), "exclude": selector(false)}
            },
            "regions": {
                "type": "object",
                "additionalProperties": false,
                "required": ["include"],
                "properties": {
                    "include": {"oneOf": [{"const": "all-enabled"}, {"type": "array", "minItems": 1, "items": region}]},
                    "exclude": {"type": "array", "items": region}
                }
            }
        }
    });
    if let Some(properties) = schema["properties"].as_object_mut() {
        for section in sections {
            properties.extend(section.schema());
        }
    }
    let rules: Vec<Value> = sections.iter().flat_map(|s| s.schema_rules()).collect();
    if !rules.is_empty() {
        schema["allOf"] = Value::Array(rules);
    }
    allow_empty(&mut schema);
    schema
}
