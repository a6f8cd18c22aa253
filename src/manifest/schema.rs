//! The manifest's JSON Schema, for editors (yaml-language-server) and `guardform schema`.
//! Built from the same catalog as validation; a test keeps its keys equal to `KNOWN_KEYS`.

use crate::manifest::{Section, catalog};
use serde_json::{Value, json};

/// The schema of an AWS Region name.
pub fn region() -> Value {
    json!({"type": "string", "pattern": "^[a-z]{2}(-[a-z]+){1,2}-[0-9]+$", "examples": catalog::DEFAULT_REGIONS})
}

/// The schema of a tag map.
pub fn tags() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 256}, "propertyNames": {"minLength": 1, "maxLength": 128, "not": {"pattern": "^[aA][wW][sS]:"}}})
}

/// The JSON Schema (draft 2020-12) of manifest format version 1: the core and every section.
pub fn schema(sections: &[&dyn Section]) -> Value {
    let account_id = json!({"type": "string", "pattern": "^[0-9]{12}$", "description": "A 12-digit AWS account id (quote it in YAML)."});
    let region = region();
    let tags = tags();
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
    let mut schema = json!({
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
                    "auto_enable": {"oneOf": [
                        {"enum": catalog::AUTO_ENABLE, "default": "NEW"},
                        {
                            "type": "object",
                            "description": "Per feature: `default` (AutoEnableOrganizationMembers) and FEATURE: NEW | ALL | NONE, or { auto_enable, additional: { NAME: NEW | ALL | NONE } }.",
                            "properties": {"default": {"enum": catalog::AUTO_ENABLE}},
                            "additionalProperties": {"oneOf": [
                                {"enum": catalog::AUTO_ENABLE},
                                {
                                    "type": "object",
                                    "additionalProperties": false,
                                    "required": ["auto_enable"],
                                    "properties": {
                                        "auto_enable": {"enum": catalog::AUTO_ENABLE},
                                        "additional": {"type": "object", "additionalProperties": {"enum": catalog::AUTO_ENABLE}}
                                    }
                                }
                            ]}
                        }
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
    schema
}
