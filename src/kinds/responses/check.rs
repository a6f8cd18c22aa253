//! Checks of `run` responses against their bundles' declarations, with positions: the
//! manifest's own checks cannot see the bundles beside it.

use super::bundles;
use crate::kinds::responses::section::{ResponseAction, ResponseSpec};
use crate::manifest::diagnostic::Diagnostic;
use std::collections::BTreeMap;
use std::path::Path;

/// A name the bundle does not declare: what it does declare, and the closest one.
fn unknown_name(
    position: Option<crate::manifest::yaml::Position>,
    message: &str,
    name: &str,
    declared: &BTreeMap<String, bundles::Setting>,
    none: &str,
) -> Diagnostic {
    let known: Vec<&str> = declared.keys().map(String::as_str).collect();
    Diagnostic::error(position, message)
        .expected(if known.is_empty() {
            none.to_string()
        } else {
            format!("one of: {}", known.join(", "))
        })
        .suggest(name, known.iter().copied())
}

/// Checks `run` entries against their bundles' declarations (needs the manifest's folder for
/// local bundles). Every problem is reported, at its position.
pub fn check_bundles(responses: &[ResponseSpec], manifest_dir: &Path) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for response in responses {
        let ResponseAction::Run(run) = &response.action else {
            continue;
        };
        let at = |key: &str| response.positions.get(key).copied();
        let bundle = match bundles::find(&run.bundle, manifest_dir) {
            Ok(bundle) => bundle,
            Err(error) => {
                let names = bundles::builtin_names();
                diagnostics.push(
                    Diagnostic::error(
                        at("bundle"),
                        format!("response `{}`: {error}", response.name),
                    )
                    .expected(format!(
                        "a built-in bundle ({}) or a folder bundles/<name>/ beside the manifest",
                        names.join(", ")
                    ))
                    .suggest(&run.bundle, names.iter().copied()),
                );
                continue;
            }
        };
        let spec = &bundle.spec;
        for name in run.env.keys() {
            if spec.secrets.contains_key(name) {
                diagnostics.push(
                    Diagnostic::error(at(&format!("env_value.{name}")), format!("response `{}`: `{name}` is a secret of bundle `{}`, not a plain setting", response.name, spec.name))
                        .hint(format!("move it under `secrets:` as a Secrets Manager ARN: `{name}: arn:aws:secretsmanager:...`"))
                        .secret(),
                );
            } else if !spec.env.contains_key(name) {
                diagnostics.push(unknown_name(
                    at(&format!("env.{name}")),
                    &format!(
                        "response `{}`: bundle `{}` does not read `{name}`",
                        response.name, spec.name
                    ),
                    name,
                    &spec.env,
                    "no env: the bundle has no settings",
                ));
            }
        }
        for (name, setting) in &spec.env {
            if setting.required && setting.default.is_none() && !run.env.contains_key(name) {
                diagnostics.push(
                    Diagnostic::error(
                        at("bundle"),
                        format!(
                            "response `{}`: bundle `{}` needs `env.{name}`",
                            response.name, spec.name
                        ),
                    )
                    .hint(setting.description.clone()),
                );
            }
        }
        for name in run.secrets.keys() {
            if !spec.secrets.contains_key(name) {
                diagnostics.push(unknown_name(
                    at(&format!("secrets.{name}")),
                    &format!(
                        "response `{}`: bundle `{}` has no secret `{name}`",
                        response.name, spec.name
                    ),
                    name,
                    &spec.secrets,
                    "no secrets",
                ));
            }
        }
        for (name, setting) in &spec.secrets {
            if setting.required && !run.secrets.contains_key(name) {
                diagnostics.push(
                    Diagnostic::error(at("bundle"), format!("response `{}`: bundle `{}` needs the secret `{name}`", response.name, spec.name))
                        .hint(format!("add `secrets: {{ {name}: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME }}` ({})", setting.description)),
                );
            }
        }
    }
    diagnostics
}
