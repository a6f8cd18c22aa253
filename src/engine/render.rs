//! Renders a plan for people (Terraform-style symbols, attribute diffs, identical changes
//! collapsed) and for machines (the versioned JSON plan). Both read the same [`Plan`].

use crate::engine::plan::{Action, Attributes, Change, Plan};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many changed list entries are shown before "… N more".
const CONTENT_LINES: usize = 20;

fn content_lines(change: &Change, style: Style, out: &mut String) {
    let Some(content) = &change.content else {
        return;
    };
    let _ = writeln!(
        out,
        "      entries: +{} −{}",
        content.added, content.removed
    );
    for line in content.lines.iter().take(CONTENT_LINES) {
        let action = if line.starts_with('+') {
            Action::Create
        } else {
            Action::Delete
        };
        let _ = writeln!(out, "        {}", style.paint(action, line));
    }
    if content.lines.len() > CONTENT_LINES {
        let _ = writeln!(
            out,
            "        … and {} more changed entries (the full diff is in `--json`)",
            content.lines.len() - CONTENT_LINES
        );
    }
}

/// Identical changes (same kind, action, attributes and reason) at or above this count are
/// shown as one block.
pub const COLLAPSE_AT: usize = 4;
/// How many account ids a collapsed block lists before "… and N more".
const LIST_AT_MOST: usize = 8;

/// Colour on or off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, action: Action, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

fn attribute_lines(change: &Change, style: Style, out: &mut String) {
    let keys: Vec<&String> = {
        let mut keys: Vec<&String> = change.before.keys().chain(change.after.keys()).collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for key in keys {
        let before = change.before.get(key).unwrap_or(&Value::Null);
        let after = change.after.get(key).unwrap_or(&Value::Null);
        if document_lines(key, before, after, change.action, style, out) {
            continue;
        }
        let line = match (before, after, change.action) {
            (_, Value::Null, _) | (_, _, Action::Delete) => style.paint(
                Action::Delete,
                &format!("- {key:<width$} = {}", value(before)),
            ),
            (Value::Null, _, _) => style.paint(
                Action::Create,
                &format!("+ {key:<width$} = {}", value(after)),
            ),
            (b, a, _) if b == a => format!("  {key:<width$} = {}", value(a)),
            _ => style.paint(
                Action::Update,
                &format!("~ {key:<width$} = {} -> {}", value(before), value(after)),
            ),
        };
        let _ = writeln!(out, "      {line}");
    }
}

/// A JSON document in a string (a policy, an event pattern), pretty-printed.
fn document(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    let parsed: Value = serde_json::from_str(text).ok()?;
    matches!(parsed, Value::Object(_) | Value::Array(_))
        .then(|| serde_json::to_string_pretty(&parsed).unwrap_or_default())
}

/// Renders a JSON document attribute as an indented document, with a line diff on update.
/// Returns false when the values are not documents.
fn document_lines(
    key: &str,
    before: &Value,
    after: &Value,
    action: Action,
    style: Style,
    out: &mut String,
) -> bool {
    let (old, new) = (document(before), document(after));
    if old.is_none() && new.is_none() {
        return false;
    }
    let (symbol, shown) = match (&old, &new, action) {
        (_, None, _) | (_, _, Action::Delete) => (Action::Delete, None),
        (None, Some(_), _) => (Action::Create, None),
        _ => (Action::Update, Some(())),
    };
    let _ = writeln!(
        out,
        "      {}",
        style.paint(symbol, &format!("{} {key} =", symbol.symbol()))
    );
    match shown {
        None => {
            let text = new.or(old).unwrap_or_default();
            for line in text.lines() {
                let _ = writeln!(out, "          {}", style.paint(symbol, line));
            }
        }
        Some(()) => {
            let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
            for change in similar::TextDiff::from_lines(&old, &new).iter_all_changes() {
                let line = change.value().trim_end_matches('\n');
                let text = match change.tag() {
                    similar::ChangeTag::Insert => style.paint(Action::Create, &format!("+ {line}")),
                    similar::ChangeTag::Delete => style.paint(Action::Delete, &format!("- {line}")),
                    similar::ChangeTag::Equal => format!("  {line}"),
                };
                let _ = writeln!(out, "        {text}");
            }
        }
    }
    true
}

fn will(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
    }
}

type GroupKey<'a> = (
    &'a str,
    Action,
    &'a Attributes,
    &'a Attributes,
    &'a str,
    Option<&'a str>,
);

/// The symbols the plan uses, and the heading of the actions.
fn legend(plan: &Plan, style: Style, out: &mut String) {
    let mut used: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
    used.sort();
    used.dedup();
    let _ = writeln!(
        out,
        "Resource actions are indicated with the following symbols:"
    );
    for action in &used {
        let _ = writeln!(
            out,
            "  {} {}",
            style.paint(*action, &format!("{:>3}", action.symbol())),
            action.describe()
        );
    }
    let _ = writeln!(out, "\nguardform will perform the following actions:\n");
}

/// One change, with its attributes and content diff.
fn single(change: &Change, style: Style, out: &mut String) {
    let _ = writeln!(
        out,
        "  # {} {}",
        style.bold(&change.address),
        will(change.action)
    );
    let _ = writeln!(out, "  # ({})", change.reason);
    if let Some(flag) = &change.requires {
        let _ = writeln!(out, "  # (apply needs {flag})");
    }
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            change.action,
            &format!("{:>3} {}", change.action.symbol(), change.address)
        )
    );
    attribute_lines(change, style, out);
    content_lines(change, style, out);
    out.push('\n');
}

/// Identical changes as one block: which accounts and Regions, and the attributes once.
fn collapsed(changes: &[&Change], style: Style, out: &mut String) {
    let first = changes[0];
    let mut accounts: Vec<&str> = changes
        .iter()
        .filter_map(|c| c.account.as_deref())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let mut regions: Vec<&str> = changes.iter().map(|c| c.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let kind = first.kind.as_str();
    let _ = writeln!(
        out,
        "  # {} identical {kind} changes {}",
        style.bold(&changes.len().to_string()),
        will(first.action)
    );
    let _ = writeln!(out, "  # ({})", first.reason);
    if let Some(flag) = &first.requires {
        let _ = writeln!(out, "  # (apply needs {flag})");
    }
    let shown: Vec<&str> = accounts.iter().take(LIST_AT_MOST).copied().collect();
    let more = accounts.len().saturating_sub(shown.len());
    let _ = writeln!(
        out,
        "  #   accounts: {}{}",
        shown.join(", "),
        if more > 0 {
            format!(" … and {more} more (the full list is in `--json`)")
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "  #   regions:  {}", regions.join(", "));
    // The first address with what varies replaced by `*`.
    let mut label = first.address.clone();
    if regions.len() > 1 {
        label = label
            .replacen(&format!("/{}", first.region), "/*", 1)
            .replacen(&format!("[{}]", first.region), "[*]", 1);
    }
    if let (true, Some(account)) = (accounts.len() > 1, &first.account) {
        label = label.replacen(&format!("[{account}/"), "[*/", 1);
    }
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            first.action,
            &format!("{:>3} {label} ×{}", first.action.symbol(), changes.len())
        )
    );
    attribute_lines(first, style, out);
    out.push('\n');
}

/// Identical changes grouped, each group where its first change is.
fn groups<'a>(changes: impl Iterator<Item = &'a Change>) -> Vec<(GroupKey<'a>, Vec<&'a Change>)> {
    let mut groups: Vec<(GroupKey<'a>, Vec<&'a Change>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for change in changes {
        let key: GroupKey<'a> = (
            change.kind.as_str(),
            change.action,
            &change.before,
            &change.after,
            change.reason.as_str(),
            change.requires.as_deref(),
        );
        let id =
            serde_json::to_string(&(key.0, key.1, key.2, key.3, key.4, key.5)).unwrap_or_default();
        match index.get(&id) {
            Some(&at) => groups[at].1.push(change),
            None => {
                index.insert(id, groups.len());
                groups.push((key, vec![change]));
            }
        }
    }
    groups
}

/// Renders the plan for a terminal.
pub fn human(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    for note in &plan.notes {
        let _ = writeln!(out, "Note: {note}");
    }
    if !plan.notes.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Targets: {} member account(s) and the administrator {} in {} Region(s): {}",
        plan.targets.member_accounts,
        plan.targets.delegated_admin,
        plan.targets.regions.len(),
        plan.targets.regions.join(", ")
    );
    out.push('\n');
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "{}\n\nGuardDuty matches the manifest in every targeted account and Region.",
            style.bold("No changes.")
        );
        return out;
    }

    legend(plan, style, &mut out);
    for (_, changes) in groups(plan.changes.iter()) {
        if changes.len() < COLLAPSE_AT {
            for change in changes {
                single(change, style, &mut out);
            }
            continue;
        }
        collapsed(&changes, style, &mut out);
    }
    let _ = writeln!(out, "{}", summary_line(plan));
    out
}

/// `Plan: N to add, N to change, N to destroy.`
pub fn summary_line(plan: &Plan) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        plan.summary.add, plan.summary.change, plan.summary.destroy
    )
}

/// The JSON plan (without the manifest text saved plan files carry).
pub fn json(plan: &Plan) -> String {
    let mut shown = plan.clone();
    shown.manifest_source = None;
    serde_json::to_string_pretty(&shown).unwrap_or_default()
}

/// The longest Markdown `show --format markdown` writes: a pull request comment holds 65,536
/// characters; the rest of a large plan is named, not shown.
pub const MARKDOWN_MAX: usize = 60_000;
/// Diff lines shown per kind before "… N more lines".
const MARKDOWN_LINES_PER_KIND: usize = 300;

/// `text` safe as Markdown prose: HTML's special characters escaped (a note or reason never
/// opens a tag in a pull request comment).
fn prose(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// One kind's changes as the human plan shows them (grouped and collapsed), with each line's
/// symbol moved to the first column so a `diff` block colours it (`~` becomes `!`, as
/// tfcmt does, because diff highlighting knows no `~`).
fn diff_block(changes: &[&Change]) -> Vec<String> {
    let style = Style { color: false };
    let mut text = String::new();
    for (_, group) in groups(changes.iter().copied()) {
        if group.len() < COLLAPSE_AT {
            for change in group {
                single(change, style, &mut text);
            }
        } else {
            collapsed(&group, style, &mut text);
        }
    }
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let indent = line.len() - body.len();
            let (mark, rest) = if let Some(rest) = body.strip_prefix("-/+") {
                ("-/+", rest)
            } else {
                match body.chars().next() {
                    Some('+') => ("+", &body[1..]),
                    Some('-') => ("-", &body[1..]),
                    Some('~') => ("!", &body[1..]),
                    _ => return line.get(indent.min(2)..).unwrap_or(line).to_string(),
                }
            };
            format!("{mark}{}{rest}", " ".repeat(indent.saturating_sub(2)))
        })
        .collect()
}

/// The plan as Markdown for a pull request comment or a CI job summary: the summary line
/// first, then notes, a table of changes by kind and one collapsed section per kind with the
/// changes in a fenced `diff` block. At most [`MARKDOWN_MAX`] characters.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "**No changes.** GuardDuty matches the manifest in every targeted account and Region.\n"
        );
    } else {
        let _ = writeln!(out, "**{}**\n", summary_line(plan));
    }
    let _ = writeln!(
        out,
        "Manifest `{}` · {} member account(s) and the administrator `{}` in {} Region(s): {}\n",
        prose(&plan.manifest.path).replace('`', "'"),
        plan.targets.member_accounts,
        plan.targets.delegated_admin,
        plan.targets.regions.len(),
        plan.targets.regions.join(", ")
    );
    let mut flags: BTreeMap<&str, usize> = BTreeMap::new();
    for change in &plan.changes {
        if let Some(flag) = &change.requires {
            *flags.entry(flag.as_str()).or_default() += 1;
        }
    }
    for (flag, count) in &flags {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> {count} change(s) need `{}` to apply (destructive or a new administrator).\n",
            prose(flag)
        );
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Notes ({})</summary>\n",
            plan.notes.len()
        );
        for note in &plan.notes {
            let _ = writeln!(out, "- {}", prose(note).replace('\n', " "));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if plan.is_empty() {
        return out;
    }
    // Kinds in plan order, each with its changes.
    let mut kinds: Vec<(&str, Vec<&Change>)> = Vec::new();
    for change in &plan.changes {
        match kinds.iter_mut().find(|(kind, _)| *kind == change.kind) {
            Some((_, changes)) => changes.push(change),
            None => kinds.push((change.kind.as_str(), vec![change])),
        }
    }
    let count = |changes: &[&Change], action: Action| {
        let n = changes.iter().filter(|c| c.action == action).count();
        if n == 0 { String::new() } else { n.to_string() }
    };
    let _ = writeln!(
        out,
        "| resource type | add `+` | change `~` | replace `-/+` | destroy `-` |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|");
    for (kind, changes) in &kinds {
        let _ = writeln!(
            out,
            "| `{kind}` | {} | {} | {} | {} |",
            count(changes, Action::Create),
            count(changes, Action::Update),
            count(changes, Action::Replace),
            count(changes, Action::Delete)
        );
    }
    out.push('\n');
    let mut left_out: Vec<String> = Vec::new();
    for (kind, changes) in &kinds {
        let mut lines = diff_block(changes);
        let total = lines.len();
        if total > MARKDOWN_LINES_PER_KIND {
            lines.truncate(MARKDOWN_LINES_PER_KIND);
            lines.push(format!(
                "# … and {} more lines (the whole plan: `guardform show FILE`)",
                total - MARKDOWN_LINES_PER_KIND
            ));
        }
        let body = lines.join("\n").trim_end().to_string();
        let fence = fence(&body);
        let words: Vec<String> = [
            (Action::Create, "to add"),
            (Action::Update, "to change"),
            (Action::Replace, "to replace"),
            (Action::Delete, "to destroy"),
        ]
        .into_iter()
        .filter_map(|(action, word)| {
            let n = changes.iter().filter(|c| c.action == action).count();
            (n > 0).then(|| format!("{n} {word}"))
        })
        .collect();
        let section = format!(
            "<details><summary><code>{kind}</code>: {}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n\n",
            words.join(", ")
        );
        // Room is kept for the line naming what was left out.
        if out.len() + section.len() > MARKDOWN_MAX - 1_000 {
            left_out.push(format!("`{kind}` ({} changes)", changes.len()));
            continue;
        }
        out.push_str(&section);
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "Too large to show here: {}. The whole plan: `guardform show FILE`.",
            left_out.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{ManifestRef, Targets};

    fn plan(changes: Vec<Change>, notes: Vec<String>) -> Plan {
        let manifest = ManifestRef {
            path: "guardform.yaml".into(),
            digest: "sha256:0".into(),
        };
        Plan::new(
            manifest,
            "sha256:1".into(),
            Targets::default(),
            notes,
            changes,
            |_| 0,
        )
    }

    fn policy_change(document: &str) -> Change {
        let mut change = crate::kinds::change(
            "iam.role",
            "iam.role[222222222222/responder]".into(),
            Action::Update,
            Some("222222222222"),
            "us-east-1",
            "policy differs",
        );
        change.before.insert("policy".into(), Value::from("{}"));
        change.after.insert("policy".into(), Value::from(document));
        change
    }

    #[test]
    fn markdown_fences_outlast_backticks_in_the_plan_and_notes_open_no_tags() {
        let document = r#"{"Sid": "```` not a fence"}"#;
        let text = markdown(&plan(
            vec![policy_change(document)],
            vec!["<script>alert(1)</script> & more".into()],
        ));
        assert!(text.starts_with("**Plan: 0 to add, 1 to change, 0 to destroy.**\n"));
        assert!(text.contains("`````diff\n"), "{text}");
        assert!(text.contains("- &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(!text.contains("<script>"));
    }

    #[test]
    fn a_huge_plan_stays_within_a_pull_request_comment_and_says_what_it_left_out() {
        let mut changes = Vec::new();
        let kinds = [
            "guardduty.member",
            "guardduty.filter",
            "lambda.function",
            "events.rule",
            "events.target",
            "sqs.queue",
        ];
        for kind in kinds {
            for i in 0..2_000 {
                let mut change = crate::kinds::change(
                    kind,
                    format!("{kind}[{i:012}/us-east-1]"),
                    Action::Create,
                    Some(&format!("{i:012}")),
                    "us-east-1",
                    format!("reason {i}"),
                );
                change
                    .after
                    .insert("name".into(), Value::from(format!("n{i}").repeat(20)));
                changes.push(change);
            }
        }
        let text = markdown(&plan(changes, vec![]));
        assert!(text.len() <= MARKDOWN_MAX, "{}", text.len());
        assert!(text.starts_with("**Plan: 12000 to add, 0 to change, 0 to destroy.**"));
        assert!(text.contains("more lines (the whole plan: `guardform show FILE`)"));
        assert!(
            text.contains("Too large to show here: `sqs.queue` (2000 changes)"),
            "{}",
            &text[text.len() - 300..]
        );
    }

    #[test]
    fn no_changes_says_so_first() {
        let text = markdown(&plan(vec![], vec![]));
        assert!(text.starts_with("**No changes.**"));
        assert!(!text.contains("<details>"));
    }
}
