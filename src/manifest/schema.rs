//! The manifest's JSON Schema, for editors (yaml-language-server) and `guardform schema`.
//! Built from the same catalog as validation; a test keeps its keys equal to `KNOWN_KEYS`.

use crate::manifest::catalog;
use serde_json::{Value, json};

/// The JSON Schema (draft 2020-12) of manifest format version 1; `bundles` are the names of
/// the built-in responder bundles (offered as examples).
pub fn schema(bundles: &[&str]) -> Value {
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
            "ip_lists": {
                "type": "array",
                "description": "Trusted (IPSet, at most one) and threat (ThreatIntelSet, at most six) lists, kept in every targeted Region of the administrator account.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "kind", "source"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9 _-]{1,300}$"},
                        "kind": {"enum": ["trusted", "threat"]},
                        "format": {"enum": crate::manifest::LIST_FORMATS, "default": "TXT"},
                        "allow_broad": {"type": "boolean", "default": false, "description": "Allow trusted entries broader than /8 (IPv4) or /32 (IPv6)."},
                        "adopt": {"type": "boolean", "default": false, "description": "Take over a same-named set guardform did not create."},
                        "source": {
                            "type": "object",
                            "additionalProperties": false,
                            "minProperties": 1,
                            "maxProperties": 1,
                            "properties": {
                                "inline": {"type": "array", "items": {"type": "string"}},
                                "file": {"type": "string", "description": "Relative to the manifest's folder."},
                                "url": {"type": "string", "pattern": "^https://"},
                                "s3": {"type": "string", "pattern": "^s3://[a-z0-9.-]{3,63}/.+"},
                                "deep_security": {
                                    "type": "object",
                                    "additionalProperties": false,
                                    "required": ["url", "ip_list", "api_key_env"],
                                    "properties": {
                                        "url": {"type": "string", "pattern": "^https://"},
                                        "ip_list": {"type": ["string", "integer"]},
                                        "api_key_env": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"},
                                        "ca_file": {"type": "string"},
                                        "auth_header": {"enum": ["api-secret-key", "authorization"], "default": "api-secret-key"}
                                    }
                                }
                            }
                        }
                    }
                }
            },
            "responses": {
                "type": "array",
                "description": "EventBridge rules on GuardDuty findings in the administrator account, in every targeted Region, and what they trigger.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "when"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,50}$"},
                        "when": {
                            "type": "object",
                            "additionalProperties": false,
                            "properties": {
                                "severity": {"type": "object", "additionalProperties": false, "properties": {"min": {"type": "number", "minimum": 0, "maximum": 10}, "max": {"type": "number", "minimum": 0, "maximum": 10}}},
                                "labels": {"type": "array", "items": {"enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"]}},
                                "types": {"type": "array", "items": {"type": "string"}, "description": "Finding types; a trailing * matches by prefix."},
                                "resource_types": {"type": "array", "items": {"enum": crate::manifest::RESOURCE_TYPES}}
                            }
                        },
                        "run": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["bundle"],
                            "properties": {
                                "bundle": {"type": "string", "examples": bundles},
                                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                                "secrets": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^arn:aws[a-z-]*:secretsmanager:"}},
                                "timeout": {"type": "integer", "minimum": 1, "maximum": 900},
                                "memory": {"type": "integer", "minimum": 128, "maximum": 10240}
                            }
                        },
                        "send_to": {"type": "object", "additionalProperties": false, "minProperties": 1, "maxProperties": 1, "properties": {"sns": {"type": "string"}, "event_bus": {"type": "string"}}},
                        "dlq": {"type": "string", "pattern": "^arn:aws[a-z-]*:sqs:"},
                        "retry": {"type": "object", "additionalProperties": false, "properties": {"maximum_attempts": {"type": "integer", "minimum": 0, "maximum": 185}, "maximum_event_age": {"type": "integer", "minimum": 60, "maximum": 86400}}}
                    }
                }
            },
            "storage": {
                "type": "object",
                "additionalProperties": false,
                "required": ["bucket"],
                "properties": {
                    "bucket": {"type": "string", "pattern": "^s3://[a-z0-9.-]{3,63}(/.*)?$"},
                    "region": region
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
            node = if part == "*" && node.get("items").is_some() {
                &node["items"]
            } else if part == "*" {
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
        let schema = schema(&["echo"]);
        for (section, known) in KNOWN_KEYS {
            let mut known: Vec<&str> = known.to_vec();
            known.sort_unstable();
            assert_eq!(keys_at(&schema, section), known, "section `{section}`");
        }
    }
}
