//! `guardform init`: reads the live organization and writes a commented manifest that
//! reproduces it. Two reads: the first, with a manifest naming only the administrator, finds
//! what exists (each kind says it as manifest entries, [`crate::engine::Kind::init`]); the
//! second plans the written manifest, and what that plan would still change is written at the
//! top, so `guardform plan` right after `init` holds no surprise.

use super::{
    CommandError, ExitStatus, GlobalOptions, make_plan, out, print_stats, read_world_with, say,
};
use crate::cloud::aws::{Aws, AwsError, RoleSettings};
use crate::engine::InitEntry;
use crate::engine::plan::Plan;
use crate::kinds;
use crate::manifest::{LoadedManifest, catalog};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Options of `guardform init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Where the manifest is written (`-`: stdout).
    pub out: PathBuf,
    /// Regions to look in (default: every Region enabled in the caller's account).
    pub regions: Vec<String>,
    /// Overwrite an existing file.
    pub force: bool,
    /// The role assumed in the other accounts (default: OrganizationAccountAccessRole).
    pub member_role: Option<String>,
}

/// How many of the first plan's changes the header lists.
const LISTED_CHANGES: usize = 40;

/// A YAML scalar: plain where YAML reads it back as the same string, else double-quoted.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
                && !matches!(
                    text.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
                );
            if plain {
                text.clone()
            } else {
                Value::String(text.clone()).to_string()
            }
        }
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// `value` in flow style (`{ a: 1, b: [x, y] }`).
fn flow(value: &Value) -> String {
    match value {
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", scalar(&Value::String(k.clone())), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        other => scalar(other),
    }
}

/// Writes `value` in block style at `indent`, with short mappings and lists in flow style.
fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let key = scalar(&Value::String(key.clone()));
                let short = flow(item);
                let nested = matches!(item, Value::Object(m) if !m.is_empty())
                    || matches!(item, Value::Array(a) if !a.is_empty());
                if !nested || (short.len() + indent + key.len() < 96 && !has_deep(item)) {
                    let _ = writeln!(out, "{pad}{key}: {short}");
                } else {
                    let _ = writeln!(out, "{pad}{key}:");
                    block(item, indent + 2, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let short = flow(item);
                if !item.is_object() || indent + 2 + short.len() <= 100 {
                    let _ = writeln!(out, "{pad}- {short}");
                    continue;
                }
                // A long mapping in block style, its first key on the `- ` line.
                let mut inner = String::new();
                block(item, indent + 2, &mut inner);
                let _ = write!(out, "{pad}- {}", &inner[indent + 2..]);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other));
        }
    }
}

/// Whether a mapping holds mappings of mappings (kept in block style to stay readable).
fn has_deep(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| match v {
            Value::Object(inner) => inner.values().any(|x| x.is_object()),
            _ => false,
        }),
        _ => false,
    }
}

/// `comment` as YAML comment lines of at most about `width` characters (continuations
/// indented; a word longer than the line stays whole).
fn wrap(comment: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::from("#")];
    for word in comment.split_whitespace() {
        let last = lines.last_mut().expect("one line at least");
        if last.len() > 3 && last.len() + 1 + word.len() > width {
            lines.push(format!("#  {word}"));
        } else {
            last.push(' ');
            last.push_str(word);
        }
    }
    lines
}

/// The manifest text of `entries`, each with its comments above it.
fn manifest_text(header: &[String], entries: &[InitEntry]) -> String {
    let mut text = String::new();
    for line in header {
        if line.starts_with("  ") {
            // One change per line, whole, for grep.
            let _ = writeln!(text, "# {line}");
            continue;
        }
        for wrapped in wrap(line, 98) {
            let _ = writeln!(text, "{wrapped}");
        }
    }
    let _ = writeln!(text, "version: 1");
    for entry in entries {
        for comment in &entry.comments {
            for line in wrap(comment, 98) {
                let _ = writeln!(text, "{line}");
            }
        }
        if entry.value.is_null() {
            // Said, not written: what init cannot express (the comments say why).
            continue;
        }
        let mut one = serde_json::Map::new();
        one.insert(entry.key.clone(), entry.value.clone());
        block(&Value::Object(one), 0, &mut text);
    }
    text
}

/// A manifest from text, as if loaded from `path`; its problems, rendered, if it has any.
fn loaded(path: &Path, text: String) -> Result<LoadedManifest, String> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let (manifest, diagnostics) = kinds::check(&text, folder);
    match manifest {
        Some(manifest) => Ok(LoadedManifest {
            path: path.display().to_string(),
            source: text,
            manifest,
            warnings: Vec::new(),
        }),
        None => Err(diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n  ")),
    }
}

/// Every Region enabled in the caller's account.
async fn enabled_regions(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let caller = aws.caller_account().to_string();
    let statuses =
        crate::cloud::discover::region_statuses(aws, &caller, "the caller's account").await?;
    Ok(statuses
        .into_iter()
        .filter(|(_, status)| crate::cloud::discover::is_enabled(status))
        .map(|(name, _)| name)
        .collect())
}

/// The GuardDuty administrator of most `regions`, and the Regions it administers.
async fn find_admin(
    aws: &Aws,
    regions: &[String],
    parallelism: usize,
) -> Result<(String, Vec<String>, Vec<String>), CommandError> {
    use futures_util::StreamExt;
    let caller = aws.caller_account();
    let reads: Vec<_> = futures_util::stream::iter(regions)
        .map(|region| async move {
            kinds::guardduty::read::read_admins(aws, caller, region)
                .await
                .map(|admins| (region.clone(), admins))
        })
        .buffered(parallelism.max(1))
        .collect()
        .await;
    let mut by_admin: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for read in reads {
        let (region, admins) = read?;
        for (admin, status) in admins {
            if status == "ENABLED" {
                by_admin.entry(admin).or_default().push(region.clone());
            }
        }
    }
    let Some((admin, chosen)) = by_admin
        .iter()
        .max_by_key(|(admin, regions)| (regions.len(), std::cmp::Reverse((*admin).clone())))
        .map(|(a, r)| (a.clone(), r.clone()))
    else {
        return Err(CommandError::Refused(format!(
            "GuardDuty has no delegated administrator in any of the {} Region(s) read, so there is nothing to write a manifest from\n  hint: start from the example in README.md (or manifests/minimal.yaml) and `guardform apply` it",
            regions.len()
        )));
    };
    let notes = by_admin
        .iter()
        .filter(|(other, _)| **other != admin)
        .map(|(other, regions)| {
            format!(
                "{other} is the administrator in {}: those Regions are left out",
                regions.join(", ")
            )
        })
        .collect();
    Ok((admin, chosen, notes))
}

/// `guardform init`.
pub async fn init(
    global: &GlobalOptions,
    options: &InitOptions,
) -> Result<ExitStatus, CommandError> {
    let to_stdout = options.out.as_os_str() == "-";
    if !to_stdout && options.out.exists() && !options.force {
        return Err(CommandError::Refused(format!(
            "{} exists; init writes a new manifest and overwrites nothing\n  hint: pass --out OTHER.yaml, or --force to replace it",
            options.out.display()
        )));
    }
    for region in &options.regions {
        if !catalog::DEFAULT_REGIONS.contains(&region.as_str())
            && !catalog::OPT_IN_REGIONS.contains(&region.as_str())
        {
            return Err(CommandError::Refused(format!(
                "`{region}` is not an AWS Region guardform knows\n  hint: pass Region names such as us-east-1, eu-west-1"
            )));
        }
    }
    let member_role = options
        .member_role
        .clone()
        .unwrap_or_else(|| "OrganizationAccountAccessRole".into());
    let roles = RoleSettings {
        member_role: member_role.clone(),
        account_roles: BTreeMap::new(),
    };
    let aws = std::sync::Arc::new(Aws::connect(&global.connect, roles).await?);
    for note in aws.notes() {
        say(global, &format!("warning: {note}"));
    }
    let regions = if options.regions.is_empty() {
        enabled_regions(&aws).await?
    } else {
        options.regions.clone()
    };
    say(
        global,
        &format!(
            "Looking for GuardDuty's administrator in {} Region(s) as {} ...",
            regions.len(),
            aws.caller_arn()
        ),
    );
    let (admin, admin_regions, mut notes) = find_admin(&aws, &regions, global.parallelism).await?;
    let path = if to_stdout {
        PathBuf::from("guardform.yaml")
    } else {
        options.out.clone()
    };

    // First read: what exists, for a manifest that names only the administrator.
    let probe = format!(
        "version: 1\norganization:\n  delegated_admin: \"{admin}\"\n  member_role: \"{member_role}\"\naccounts:\n  include: {{ all: true }}\nregions:\n  include: [{}]\n",
        admin_regions.join(", ")
    );
    let probe = loaded(&path, probe)
        .map_err(|why| CommandError::Refused(format!("init could not describe {admin}: {why}")))?;
    let world = read_world_with(global, &probe, aws.clone()).await?;
    let entries = world.registry.init(&world.context, &world.states);
    let organization = &world.context.discovery.organization;
    notes.extend(world.context.discovery.notes.iter().cloned());
    let mut header = vec![
        format!(
            "Written by `guardform init` (guardform {}) from organization {} (management account {}),",
            env!("CARGO_PKG_VERSION"),
            organization.id,
            organization.management_account
        ),
        format!(
            "as the GuardDuty administrator {admin} has it in {} Region(s). Review it, then run `guardform plan`.",
            admin_regions.len()
        ),
    ];
    for note in &notes {
        header.push(format!("Note: {note}"));
    }
    let draft = manifest_text(&header, &entries);

    // Second read: what the written manifest would still change.
    let written = loaded(&path, draft.clone()).map_err(|why| {
        CommandError::Refused(format!(
            "init wrote a manifest guardform refuses (a bug; please report it): {why}\n{draft}"
        ))
    })?;
    let world = read_world_with(global, &written, aws.clone()).await?;
    let plan = make_plan(&written, &world)?;
    header.extend(first_plan(&plan));
    let text = manifest_text(&header, &entries);
    if to_stdout {
        out(&text);
    } else {
        std::fs::write(&options.out, &text).map_err(|e| {
            CommandError::Refused(format!("cannot write {}: {e}", options.out.display()))
        })?;
        say(
            global,
            &format!(
                "Wrote {} ({} Region(s), administrator {admin}). {}",
                options.out.display(),
                admin_regions.len(),
                if plan.is_empty() {
                    "`guardform plan` says: No changes.".to_string()
                } else {
                    format!(
                        "The first `guardform plan` shows {} change(s); the file's header lists them.",
                        plan.changes.len()
                    )
                }
            ),
        );
    }
    print_stats(global, &aws);
    Ok(ExitStatus::Success)
}

/// The header lines that say what the first plan will do.
fn first_plan(plan: &Plan) -> Vec<String> {
    if plan.is_empty() {
        return vec!["`guardform plan` with this manifest says: No changes.".into()];
    }
    let mut lines = vec![format!(
        "The first `guardform plan` shows {} change(s) (the comments below say why); {}:",
        plan.changes.len(),
        crate::engine::render::summary_line(plan).trim_end_matches('.')
    )];
    for change in plan.changes.iter().take(LISTED_CHANGES) {
        lines.push(format!(
            "  {} {} ({}){}",
            change.action.symbol(),
            change.address,
            change.reason.replace('\n', " "),
            change
                .requires
                .as_deref()
                .map(|flag| format!(" [apply refuses it without {flag}]"))
                .unwrap_or_default()
        ));
    }
    if plan.changes.len() > LISTED_CHANGES {
        lines.push(format!(
            "  … and {} more",
            plan.changes.len() - LISTED_CHANGES
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::{self, Node, Value as Yaml};
    use serde_json::json;

    /// A YAML node back as JSON: strings stay strings only when quoted or plainly not
    /// something else, as the manifest checker reads them.
    fn back(node: &Node) -> Value {
        match &node.value {
            Yaml::Scalar { text, quoted } => {
                if *quoted {
                    json!(text)
                } else if let Some(b) = yaml::parse_bool(text) {
                    json!(b)
                } else if let Ok(n) = text.parse::<i64>() {
                    json!(n)
                } else {
                    json!(text)
                }
            }
            Yaml::Sequence(items) => Value::Array(items.iter().map(back).collect()),
            Yaml::Mapping(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.as_scalar().unwrap_or_default().to_string(), back(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn what_init_writes_reads_back_as_the_same_values() {
        let tricky = [
            "222222222222",
            "yes",
            "No",
            "true",
            "null",
            "~",
            "",
            " padded",
            "a: b",
            "#x",
            "s3://bucket/key",
            "*.example",
            "- dash",
            "it's",
            "say \"hi\"",
            "[x]",
            "{y}",
            "line\nbreak",
            "cost-center",
            "Recon:EC2/Portscan",
            "ünïcode",
            "007",
        ];
        let value = json!({
            "strings": tricky,
            "map": tricky.iter().map(|t| (format!("k{t}"), json!(t))).collect::<serde_json::Map<_, _>>(),
            "numbers": { "gte": 7, "neg": -3 },
            "flag": true,
            "nested": [{ "name": "a-long-filter-name", "description": "x".repeat(120), "criteria": { "type": { "equals": ["Recon:EC2/Portscan"] } } }],
        });
        let mut text = String::new();
        block(&value, 0, &mut text);
        let node = yaml::load(&text)
            .unwrap_or_else(|e| {
                panic!(
                    "{text}\n{:?}",
                    e.iter().map(|p| &p.message).collect::<Vec<_>>()
                )
            })
            .expect("a document");
        assert_eq!(back(&node), value, "{text}");
    }

    #[test]
    fn comments_wrap_at_words() {
        let lines = wrap(&"word ".repeat(60), 40);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| l.len() <= 40), "{lines:?}");
        assert!(lines[0].starts_with("# word") && lines[1].starts_with("#  word"));
        let long = wrap(&format!("see {}", "x".repeat(80)), 40);
        assert_eq!(long.len(), 2, "a long word stays whole: {long:?}");
    }
}
