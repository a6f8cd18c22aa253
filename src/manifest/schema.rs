//! The manifest's JSON Schema, for editors (yaml-language-server) and `guardform schema`.
//! Built from the same catalog as validation; a test keeps its keys equal to `KNOWN_KEYS`.

use crate::catalog;
use serde_json::{Value, json};

/// The JSON Schema (draft 2020-12) of manifest format version 1.
pub fn schema() -> Value {
    let account_id = json!({"type": "string", "pattern": "^[0-9]{12}$", "description": "A 12-digit AWS account id (quote it in YAML)."});
    let region = json!({"type": "string", "pattern": "^[a-z]{2}(-[a-z]+){1,2}-[0-9]+$", "examples": catalog::DEFAULT_REGIONS});
    let tags = json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 256}, "propertyNames": {"minLength": 1, "maxLength": 128, "not": {"pattern": "^[aA][wW][sS]:"}}});
    let status = json!({"enum": ["enabled", "disabled"]});
    let selector = |with_all: bool| {
        let mut properties = serde_json::Map::new();
        if with_all {
            properties.insert("all".into(), json!({"type": "boolean", "description": "Every active account of the organization."}));
        }
        properties.insert("ids".into(), json!({"type": "array", "items": account_id}));
        properties.insert("ous".into(), json!({"type": "array", "items": {"type": "string"}, "description": "OU ids (ou-…) or name paths from the root (Workloads/Prod); nested OUs are included."}));
        properties.insert(
            "tags".into(),
            json!({"allOf": [tags], "description": "Accounts carrying all of these tags."}),
        );
        json!({"type": "object", "additionalProperties": false, "properties": properties})
    };
    let features: serde_json::Map<String, Value> = catalog::FEATURES
        .iter()
        .map(|name| {
            let additional: serde_json::Map<String, Value> =
                catalog::additional_configurations(name)
                    .iter()
                    .map(|extra| (extra.to_string(), status.clone()))
                    .collect();
            let mut detailed = json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["status"],
                "properties": {"status": status},
            });
            detailed["properties"]["additional"] =
                json!({"type": "object", "additionalProperties": false, "properties": additional});
            (name.to_string(), json!({"oneOf": [status, detailed]}))
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/guardform/guardform/manifest-v1.json",
        "title": "guardform manifest",
        "description": "Declares Amazon GuardDuty for an AWS Organization. See `guardform schema` and README.md.",
        "type": "object",
        "additionalProperties": false,
        "required": ["version", "organization", "accounts", "regions"],
        "properties": {
            "version": {"const": 1},
            "organization": {
                "type": "object",
                "additionalProperties": false,
                "required": ["delegated_admin"],
                "properties": {
                    "management_account": account_id,
                    "delegated_admin": account_id,
                    "member_role": {"type": "string", "pattern": "^[A-Za-z0-9+=,.@_-]{1,64}$", "default": "OrganizationAccountAccessRole"},
                    "account_roles": {"type": "object", "propertyNames": {"pattern": "^[0-9]{12}$"}, "additionalProperties": {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"}},
                    "auto_enable": {"enum": catalog::AUTO_ENABLE, "default": "NEW"}
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
            },
            "detector": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "finding_publishing_frequency": {"enum": catalog::PUBLISHING_FREQUENCIES},
                    "features": {"type": "object", "additionalProperties": false, "properties": features},
                    "tags": tags
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::KNOWN_KEYS;

    fn keys_at<'a>(schema: &'a Value, path: &str) -> Vec<&'a str> {
        let mut node = schema;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            node = if part == "*" {
                &node["properties"]["RUNTIME_MONITORING"]["oneOf"][1]
            } else {
                &node["properties"][part]
            };
        }
        let mut keys: Vec<&str> = node["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn schema_keys_match_the_validator() {
        let schema = schema();
        for (section, known) in KNOWN_KEYS {
            let mut known: Vec<&str> = known.to_vec();
            known.sort_unstable();
            assert_eq!(keys_at(&schema, section), known, "section `{section}`");
        }
    }
}
