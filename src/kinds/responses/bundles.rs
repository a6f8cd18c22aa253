//! Responder bundles: Lambda code guardform packages and deploys. Built-in bundles are embedded
//! in the binary from `bundles/` at build time; a folder `bundles/<name>/` beside the manifest
//! overrides or adds one. Zips are deterministic (sorted entries, stored, fixed time and mode),
//! so the same source always gives the same SHA-256, which Lambda reports as `CodeSha256`.

use crate::manifest::yaml::{self, Node, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/bundles.rs"));
}

pub use embedded::{ATHENA_QUERIES, ATHENA_TABLE};

/// AWS actions on resources the bundle's code calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// An IAM `Condition` block; `${ORGANIZATION_ID}` and `${ACCOUNT_ID}` in its values are
    /// the organization's id and the function's account.
    pub conditions: Option<serde_json::Value>,
}

/// An environment variable or secret the bundle reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub required: bool,
    pub default: Option<String>,
    pub description: String,
}

/// `bundle.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSpec {
    pub name: String,
    pub description: String,
    pub runtime: String,
    pub handler: String,
    pub timeout: u32,
    pub memory: u32,
    pub permissions: Vec<Permission>,
    pub env: BTreeMap<String, Setting>,
    pub secrets: BTreeMap<String, Setting>,
}

/// A bundle, packaged: its zip and the zip's hash are made once, when it is loaded.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub spec: BundleSpec,
    /// Files in the zip, by path, sorted.
    pub files: Vec<(String, Vec<u8>)>,
    /// `built-in` or the folder it was read from.
    pub origin: String,
    zip: Vec<u8>,
    code_sha256: String,
}

impl Bundle {
    fn new(spec: BundleSpec, files: Vec<(String, Vec<u8>)>, origin: String) -> Bundle {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (path, bytes) in &files {
            // Writing to memory cannot fail.
            let _ = writer.start_file(path.as_str(), options);
            let _ = writer.write_all(bytes);
        }
        let zip = writer
            .finish()
            .map(|cursor| cursor.into_inner())
            .unwrap_or_default();
        let code_sha256 = aws_smithy_types::base64::encode(Sha256::digest(&zip));
        Bundle {
            spec,
            files,
            origin,
            zip,
            code_sha256,
        }
    }

    /// The deterministic zip.
    pub fn zip(&self) -> &[u8] {
        &self.zip
    }

    /// base64(SHA-256(zip)): what Lambda reports as `CodeSha256`.
    pub fn code_sha256(&self) -> &str {
        &self.code_sha256
    }
}

/// Names of the built-in bundles.
pub fn builtin_names() -> Vec<&'static str> {
    embedded::BUILTIN.iter().map(|(name, _, _)| *name).collect()
}

/// When `bundle` is a local folder standing in for a built-in bundle of the same name: a note
/// for the plan saying so, with every action the local one asks for (the code that runs, and
/// what it may do, are not the ones guardform ships).
pub fn override_note(bundle: &Bundle, name: &str, response: &str) -> Option<String> {
    if bundle.origin == "built-in" || !builtin_names().contains(&name) {
        return None;
    }
    let mut actions: Vec<&str> = bundle
        .spec
        .permissions
        .iter()
        .flat_map(|p| p.actions.iter().map(String::as_str))
        .collect();
    actions.sort_unstable();
    actions.dedup();
    Some(format!(
        "response `{response}` runs the local bundle {} instead of guardform's built-in `{}`; it asks for: {}",
        bundle.origin,
        name,
        if actions.is_empty() {
            "no AWS actions".to_string()
        } else {
            actions.join(", ")
        }
    ))
}

/// Finds a bundle: `<manifest folder>/bundles/<name>/` first, then the built-in ones.
pub fn find(name: &str, manifest_dir: &Path) -> Result<Bundle, String> {
    let local = manifest_dir.join("bundles").join(name);
    if local.join("bundle.yaml").is_file() {
        return load_dir(&local);
    }
    let Some((_, yaml, files)) = embedded::BUILTIN.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("no bundle `{name}`"));
    };
    let spec = parse_spec(yaml).map_err(|e| format!("built-in bundle `{name}`: {e}"))?;
    let files = files
        .iter()
        .map(|(p, b)| (p.to_string(), b.to_vec()))
        .collect();
    Ok(Bundle::new(spec, files, "built-in".to_string()))
}

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "__pycache__" || name.ends_with(".pyc") || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, base, out)?;
        } else {
            let relative = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.push((relative, bytes));
        }
    }
    Ok(())
}

/// Reads a bundle folder: `bundle.yaml`, `src/**`, and `../_common/**` when present.
pub fn load_dir(dir: &Path) -> Result<Bundle, String> {
    let yaml = std::fs::read_to_string(dir.join("bundle.yaml"))
        .map_err(|e| format!("cannot read {}/bundle.yaml: {e}", dir.display()))?;
    let spec = parse_spec(&yaml).map_err(|e| format!("{}/bundle.yaml: {e}", dir.display()))?;
    let mut files = Vec::new();
    collect(&dir.join("src"), &dir.join("src"), &mut files)?;
    if let Some(common) = dir.parent().map(|p| p.join("_common"))
        && common.is_dir()
    {
        collect(&common, &common, &mut files)?;
    }
    files.sort();
    Ok(Bundle::new(spec, files, dir.display().to_string()))
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Mapping(pairs) => pairs
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn text(node: &Node, key: &str) -> Option<String> {
    get(node, key)
        .and_then(|n| n.as_scalar())
        .map(str::to_string)
}

/// A YAML node as JSON (scalars as strings, as IAM condition values are).
fn json_of(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Scalar { text, .. } => serde_json::Value::String(text.clone()),
        Value::Sequence(items) => items.iter().map(json_of).collect(),
        Value::Mapping(pairs) => pairs
            .iter()
            .map(|(k, v)| (k.as_scalar().unwrap_or_default().to_string(), json_of(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn strings(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_scalar().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn settings(node: Option<&Node>) -> BTreeMap<String, Setting> {
    let mut out = BTreeMap::new();
    if let Some(Value::Mapping(pairs)) = node.map(|n| &n.value) {
        for (key, value) in pairs {
            if let Some(name) = key.as_scalar() {
                out.insert(
                    name.to_string(),
                    Setting {
                        required: text(value, "required").as_deref() == Some("true"),
                        default: text(value, "default"),
                        description: text(value, "description").unwrap_or_default(),
                    },
                );
            }
        }
    }
    out
}

/// Parses `bundle.yaml`.
pub fn parse_spec(source: &str) -> Result<BundleSpec, String> {
    let root = yaml::load(source)
        .map_err(|problems| {
            problems
                .iter()
                .map(|p| format!("{}:{}: {}", p.position.line, p.position.column, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?
        .ok_or("empty bundle.yaml")?;
    let required = |key: &str| text(&root, key).ok_or(format!("missing `{key}`"));
    let number = |key: &str, default: u32| {
        text(&root, key)
            .map(|t| {
                t.parse::<u32>()
                    .map_err(|_| format!("`{key}` is not a number"))
            })
            .unwrap_or(Ok(default))
    };
    let permissions = match get(&root, "permissions").map(|n| &n.value) {
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| Permission {
                actions: strings(get(item, "actions")),
                resources: strings(get(item, "resources")),
                conditions: get(item, "conditions").map(json_of),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(BundleSpec {
        name: required("name")?,
        description: text(&root, "description").unwrap_or_default(),
        runtime: required("runtime")?,
        handler: required("handler")?,
        timeout: number("timeout", 60)?,
        memory: number("memory", 128)?,
        permissions,
        env: settings(get(&root, "env")),
        secrets: settings(get(&root, "secrets")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_bundle_parses_and_zips_deterministically() {
        let names = builtin_names();
        assert!(
            names.contains(&"deep-security-responder") && names.contains(&"slack-notify"),
            "{names:?}"
        );
        for name in names {
            let bundle = find(name, Path::new("/nonexistent")).unwrap();
            assert_eq!(bundle.spec.name, name);
            assert!(
                bundle.files.iter().any(|(p, _)| p == "handler.py"),
                "{name} has a handler.py"
            );
            assert!(
                bundle.files.iter().any(|(p, _)| p == "guardform_common.py"),
                "{name} ships the shared code"
            );
            assert_eq!(bundle.zip(), bundle.zip());
            assert_eq!(bundle.code_sha256().len(), 44);
        }
    }

    #[test]
    fn local_bundle_overrides_and_code_changes_change_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundles/echo");
        std::fs::create_dir_all(bundle.join("src")).unwrap();
        std::fs::write(bundle.join("bundle.yaml"), "name: echo\nruntime: python3.12\nhandler: handler.lambda_handler\nsecrets: { TOKEN: { required: true } }\n").unwrap();
        std::fs::write(
            bundle.join("src/handler.py"),
            "def lambda_handler(e, c):\n    return e\n",
        )
        .unwrap();
        let first = find("echo", dir.path()).unwrap();
        assert!(first.spec.secrets["TOKEN"].required);
        std::fs::write(
            bundle.join("src/handler.py"),
            "def lambda_handler(e, c):\n    return None\n",
        )
        .unwrap();
        let second = find("echo", dir.path()).unwrap();
        assert_ne!(first.code_sha256(), second.code_sha256());
        assert!(find("nope", dir.path()).is_err());
    }
}
