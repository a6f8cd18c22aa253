//! One function per command: each builds plain options, calls the operations (manifest →
//! discover → observe → diff → render/apply) and says what exit status it ends with. The binary
//! parses arguments, draws progress and turns [`ExitStatus`] into a process exit code.

use crate::cloud::aws::{Aws, AwsError, ConnectOptions, RoleSettings};
use crate::cloud::discover::{self, DiscoverError};
use crate::engine::outcome::{ApplyReport, Outcome, Reporter};
use crate::engine::plan::{self, Change, ManifestRef, Plan, PlanFileError};
use crate::engine::render::{self, Style};
use crate::engine::{ReadError, Registry, States};
use crate::kinds::{self, Context, ip_lists, responses};
use crate::manifest::schema;
use crate::manifest::{self, LoadedManifest, ManifestError};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod init;
pub use init::{InitOptions, init};

/// How a command ended; the only place exit codes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, or no changes.
    Success,
    /// 1: an error.
    Failure,
    /// 2: changes present (only with `plan --detailed-exitcode`).
    Changes,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes => 2,
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error(
        "saved plan is stale: the organization or GuardDuty changed since {path} was made\n  hint: run `guardform plan --out {path}` again, review it, then apply the new plan"
    )]
    Stale { path: String },
    #[error(
        "{path} is not the plan guardform makes now for this world: {why}; nothing was changed\n  hint: plan files are applied exactly as written by `guardform plan --out`; make a new one"
    )]
    Tampered { path: String, why: String },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Read(ReadError),
    #[error("the manifest conflicts with what exists, and nothing was changed:\n  {}", .0.join("\n  "))]
    Conflicts(Vec<String>),
}

impl CommandError {
    /// The AWS call that failed, when that is what went wrong.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            CommandError::Aws(error) | CommandError::Discover(DiscoverError::Aws(error)) => {
                Some(error)
            }
            CommandError::Read(error) => error.downcast_ref::<AwsError>(),
            _ => None,
        }
    }
}

/// Options every command shares.
#[derive(Debug, Clone)]
pub struct GlobalOptions {
    pub manifest: PathBuf,
    pub connect: ConnectOptions,
    pub color: bool,
    pub quiet: bool,
    pub stats: bool,
    /// Write every AWS call made, by account, service and operation, as JSON to this file.
    pub stats_out: Option<PathBuf>,
    pub parallelism: usize,
}

/// Writes to stdout, ignoring a closed pipe.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes a line to stderr unless quiet.
fn say(global: &GlobalOptions, text: &str) {
    if !global.quiet {
        eprintln!("{text}");
    }
}

fn load_manifest(global: &GlobalOptions) -> Result<LoadedManifest, CommandError> {
    let loaded = manifest::load(&global.manifest, global.color, &kinds::sections())?;
    if !loaded.warnings.is_empty() && !global.quiet {
        eprint!("{}", loaded.render_warnings(global.color));
    }
    Ok(loaded)
}

/// `guardform validate`.
pub fn validate(global: &GlobalOptions) -> Result<ExitStatus, CommandError> {
    let loaded = load_manifest(global)?;
    let m = &loaded.manifest;
    out(&format!(
        "{} is valid: administrator {}, {} feature(s) managed, auto-enable {}.\n",
        loaded.path,
        m.organization.delegated_admin,
        kinds::guardduty::section::of(m).features.len(),
        m.organization.auto_enable
    ));
    Ok(ExitStatus::Success)
}

/// `guardform athena-ddl`: the Athena table over exported or archived findings and example
/// queries. The bucket and prefix come from the options, else from the manifest: its `export:`
/// (GuardDuty's own export) or its `archive-findings` response (`--source` picks; by default
/// the export when there is one). Both write the same layout.
pub fn athena_ddl(
    global: &GlobalOptions,
    source: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    accounts: Option<String>,
    regions: Option<String>,
) -> Result<ExitStatus, CommandError> {
    let from_manifest = || -> Option<(String, String)> {
        let loaded = manifest::load(&global.manifest, global.color, &kinds::sections()).ok()?;
        let export = kinds::export::section::of(&loaded.manifest)
            .map(|e| (e.bucket.clone(), e.prefix.clone()));
        if source.as_deref() != Some("archive") && export.is_some() {
            return export;
        }
        if source.as_deref() == Some("export") {
            return None;
        }
        responses::section::of(&loaded.manifest)
            .iter()
            .find_map(|r| match &r.action {
                responses::section::ResponseAction::Run(run)
                    if run.bundle == "archive-findings" =>
                {
                    Some((
                        run.env.get("BUCKET")?.clone(),
                        run.env.get("PREFIX").cloned().unwrap_or_default(),
                    ))
                }
                _ => None,
            })
    };
    let (bucket, prefix) = match (bucket, prefix) {
        (Some(bucket), prefix) => (bucket, prefix.unwrap_or_default()),
        (None, prefix) => match from_manifest() {
            Some((bucket, from)) => (bucket, prefix.unwrap_or(from)),
            None => {
                return Err(CommandError::Refused(
                    "no bucket: pass --bucket, or run it where the manifest has `export:` or an `archive-findings` response with env BUCKET".to_string(),
                ));
            }
        },
    };
    let prefix = prefix.trim_matches('/').to_string();
    let manifest_regions = manifest::load(&global.manifest, global.color, &kinds::sections())
        .ok()
        .and_then(|loaded| match &loaded.manifest.regions.include {
            manifest::RegionInclude::List(list) => Some(
                list.iter()
                    .filter(|r| !loaded.manifest.regions.exclude.contains(r))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            manifest::RegionInclude::AllEnabled => None,
        });
    let regions = regions
        .or(manifest_regions)
        .unwrap_or_else(|| crate::manifest::catalog::DEFAULT_REGIONS.join(","));
    let Some(accounts) = accounts else {
        return Err(CommandError::Refused(
            "--accounts is needed: the table's partition projection lists the accounts whose findings are archived\n  hint: e.g. --accounts \"$(aws organizations list-accounts --query 'Accounts[].Id' --output text | tr '\\t' ',')\"".to_string(),
        ));
    };
    let fill = |text: &str| {
        text.replace("{bucket}", &bucket)
            .replace("{prefix}", &prefix)
            .replace("{accounts}", &accounts)
            .replace("{regions}", &regions)
            .replace("//AWSLogs", "/AWSLogs")
    };
    out(&format!(
        "{}\n{}",
        fill(responses::bundles::ATHENA_TABLE),
        fill(responses::bundles::ATHENA_QUERIES)
    ));
    Ok(ExitStatus::Success)
}

/// `guardform schema`.
pub fn schema() -> Result<ExitStatus, CommandError> {
    let schema = schema::schema(&kinds::sections());
    out(&(serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"));
    Ok(ExitStatus::Success)
}

/// Everything read from AWS for a manifest.
struct World {
    registry: Registry<Context>,
    context: Context,
    states: States,
}

async fn read_world(
    global: &GlobalOptions,
    loaded: &LoadedManifest,
) -> Result<World, CommandError> {
    let organization = &loaded.manifest.organization;
    let aws = Aws::connect(
        &global.connect,
        RoleSettings {
            member_role: organization.member_role.clone(),
            account_roles: organization.account_roles.clone(),
        },
    )
    .await?;
    let aws = Arc::new(aws);
    for note in aws.notes() {
        say(global, &format!("warning: {note}"));
    }
    read_world_with(global, loaded, aws).await
}

/// [`read_world`] with clients already connected (their roles must be the manifest's).
async fn read_world_with(
    global: &GlobalOptions,
    loaded: &LoadedManifest,
    aws: Arc<Aws>,
) -> Result<World, CommandError> {
    let manifest = loaded.manifest.clone();
    say(
        global,
        &format!("Reading the organization as {} ...", aws.caller_arn()),
    );
    let discovery = Arc::new(discover::discover(&aws, &manifest).await?);
    let lists = &ip_lists::section::of(&manifest).lists;
    if !lists.is_empty() {
        say(
            global,
            &format!("Reading {} IP list source(s) ...", lists.len()),
        );
    }
    say(
        global,
        &format!(
            "Reading GuardDuty in {} Region(s) for {} member account(s) ...",
            discovery.regions.len(),
            discovery.members.len()
        ),
    );
    let context = Context {
        aws,
        manifest,
        manifest_dir: Path::new(&loaded.path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        discovery,
        parallelism: global.parallelism,
        list_timeout: std::time::Duration::from_secs(300),
    };
    let registry = kinds::registry();
    let states = registry.read(&context).await.map_err(CommandError::Read)?;
    Ok(World {
        registry,
        context,
        states,
    })
}

fn make_plan(loaded: &LoadedManifest, world: &World) -> Result<Plan, CommandError> {
    kinds::plan(
        &world.registry,
        &world.context,
        &world.states,
        ManifestRef {
            path: loaded.path.clone(),
            digest: loaded.digest(),
        },
    )
    .map_err(CommandError::Conflicts)
}

fn print_stats(global: &GlobalOptions, aws: &Aws) {
    if global.stats {
        eprint!("{}", aws.stats().render());
    }
    if let Some(path) = &global.stats_out {
        let calls: Vec<serde_json::Value> = aws
            .stats()
            .by_account()
            .into_iter()
            .map(|((account, service, operation), calls)| {
                serde_json::json!({"account": account, "service": service, "operation": operation, "calls": calls})
            })
            .collect();
        let document = serde_json::json!({"caller_account": aws.caller_account(), "calls": calls});
        if let Err(error) = std::fs::write(path, document.to_string()) {
            eprintln!("warning: cannot write {}: {error}", path.display());
        }
    }
}

/// Options of `guardform plan`.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub out: Option<PathBuf>,
    pub json: bool,
    pub detailed_exitcode: bool,
    /// Accounts whose profile the plan explains.
    pub explain: Vec<String>,
}

/// Which profile `account` got and why, for `plan --explain` (on stderr, beside the plan).
fn explain(context: &Context, account: &str) -> String {
    let discovery = &context.discovery;
    let Some(found) = discovery
        .organization
        .accounts
        .iter()
        .find(|a| a.id == account)
    else {
        return format!("{account}: not an account of the organization");
    };
    if account == discovery.delegated_admin {
        return format!(
            "{account}: the delegated administrator, whose detector has the default profile (`detector:`)"
        );
    }
    if !discovery.members.contains(account) {
        return format!("{account}: not targeted by `accounts:`, so no profile applies");
    }
    let profiles = kinds::guardduty::profiles::of(&context.manifest);
    match kinds::guardduty::profiles::choose(profiles, found) {
        Ok(choice) => {
            let name = choice
                .profile
                .map(|p| format!("profile `{p}`"))
                .unwrap_or_else(|| "the default profile".into());
            let left_out = choice
                .profile
                .and_then(|p| profiles.profiles.get(p))
                .map(|p| p.exclude_regions.clone())
                .unwrap_or_default();
            let regions = if left_out.is_empty() {
                String::new()
            } else {
                format!("; left out in {}", left_out.join(", "))
            };
            format!(
                "{account} (OU {}): {name}, {}{regions}",
                if found.ou_path.is_empty() {
                    "root".to_string()
                } else {
                    found.ou_path.join("/")
                },
                choice.why
            )
        }
        Err(conflict) => format!("{account}: {conflict}"),
    }
}

/// `guardform plan`.
pub async fn plan(
    global: &GlobalOptions,
    options: &PlanOptions,
) -> Result<ExitStatus, CommandError> {
    let loaded = load_manifest(global)?;
    let world = read_world(global, &loaded).await?;
    let plan = make_plan(&loaded, &world)?;
    for account in &options.explain {
        say(global, &explain(&world.context, account));
    }
    if options.json {
        out(&(render::json(&plan) + "\n"));
    } else {
        out(&render::human(
            &plan,
            Style {
                color: global.color,
            },
        ));
    }
    if let Some(path) = &options.out {
        plan::save(&plan, &loaded.source, path)?;
        say(
            global,
            &format!(
                "\nSaved the plan to {}. Apply exactly this plan with:\n  guardform apply {}",
                path.display(),
                path.display()
            ),
        );
    }
    print_stats(global, &world.context.aws);
    Ok(if options.detailed_exitcode && !plan.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

/// Options of `guardform report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Where the HTML page is written.
    pub out: PathBuf,
    /// Print the report document as JSON on stdout too.
    pub json: bool,
    /// Findings updated in the last `days` days.
    pub days: u32,
}

/// `guardform report`: reads what `plan` reads (with the OU tree, to group accounts), plans,
/// reads finding statistics, runtime coverage and dead-letter queues, and writes one HTML page
/// (and the JSON document with `--json`); a short summary goes to stderr.
pub async fn report_command(
    global: &GlobalOptions,
    options: &ReportOptions,
) -> Result<ExitStatus, CommandError> {
    let mut loaded = load_manifest(global)?;
    loaded.manifest.sections.needs_mut().ou_tree = true;
    let world = read_world(global, &loaded).await?;
    let plan = make_plan(&loaded, &world).map_err(|e| e.to_string());
    say(global, "Reading findings and runtime coverage ...");
    let report = crate::report::gather(crate::report::Sources {
        context: &world.context,
        registry: &world.registry,
        states: &world.states,
        plan,
        manifest: loaded.path.clone(),
        days: options.days,
    })
    .await;
    let page = crate::report::html::render(&report);
    std::fs::write(&options.out, page).map_err(|e| {
        CommandError::Refused(format!("cannot write {}: {e}", options.out.display()))
    })?;
    if options.json {
        out(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"));
    }
    say(global, &crate::report::terminal_summary(&report));
    say(
        global,
        &format!("Wrote the report to {}", options.out.display()),
    );
    print_stats(global, &world.context.aws);
    Ok(ExitStatus::Success)
}

/// `guardform policy`: the IAM policies each principal needs for the manifest (offline).
pub fn policy(
    global: &GlobalOptions,
    wanted: &str,
    format: &str,
) -> Result<ExitStatus, CommandError> {
    let loaded = load_manifest(global)?;
    let wanted = match wanted {
        "plan" => crate::policy::For::Plan,
        "sync" => crate::policy::For::Sync,
        _ => crate::policy::For::Apply,
    };
    let principals = crate::policy::policies(&loaded.manifest, wanted);
    out(&match format {
        "terraform" => crate::policy::render_terraform(&principals),
        "cloudformation" => crate::policy::render_cloudformation(&principals),
        _ => crate::policy::render_json(&principals),
    });
    Ok(ExitStatus::Success)
}

/// `guardform show FILE`.
/// How `guardform show` renders a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Human,
    Json,
    Markdown,
}

pub fn show(
    global: &GlobalOptions,
    file: &Path,
    format: ShowFormat,
) -> Result<ExitStatus, CommandError> {
    let plan = plan::load(file)?;
    out(&match format {
        ShowFormat::Json => render::json(&plan) + "\n",
        ShowFormat::Markdown => render::markdown(&plan),
        ShowFormat::Human => render::human(
            &plan,
            Style {
                color: global.color,
            },
        ),
    });
    Ok(ExitStatus::Success)
}

/// Options of `guardform apply`.
#[derive(Debug, Clone, Default)]
pub struct ApplyCommandOptions {
    pub plan_file: Option<PathBuf>,
    pub auto_approve: bool,
    pub allow_destroy: bool,
    pub allow_admin_change: bool,
    /// Events as JSON Lines on stdout instead of the human output.
    pub json: bool,
}

/// One JSON Lines event of `apply --json` on stdout.
pub fn event(value: serde_json::Value) {
    out(&(value.to_string() + "\n"));
}

fn confirm(global: &GlobalOptions) -> Result<bool, CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Refused(
            "refusing to apply without confirmation: standard input is not a terminal\n  hint: review the plan, then pass --auto-approve (or apply a saved plan file)".to_string(),
        ));
    }
    let _ = global;
    eprint!(
        "\nDo you want to perform these actions?\n  guardform will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CommandError::Refused(format!("cannot read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}

fn report(
    global: &GlobalOptions,
    options: &ApplyCommandOptions,
    plan: &Plan,
    report: &ApplyReport,
) -> ExitStatus {
    let mut text = String::new();
    let (mut added, mut changed, mut destroyed) = (0, 0, 0);
    for (change, result) in plan.changes.iter().zip(&report.results) {
        match &result.outcome {
            Outcome::Applied | Outcome::NoOp => match change.action {
                plan::Action::Create => added += 1,
                plan::Action::Update => changed += 1,
                plan::Action::Delete => destroyed += 1,
                plan::Action::Replace => {
                    added += 1;
                    destroyed += 1;
                }
            },
            Outcome::Failed { error } => {
                text.push_str(&format!("  ✗ {} failed: {error}\n", result.address))
            }
            Outcome::Skipped { reason } => {
                text.push_str(&format!("  - {} skipped: {reason}\n", result.address))
            }
        }
    }
    for message in &report.afterwards {
        match message {
            Ok(text) => say(global, text),
            Err(warning) => say(global, &format!("warning: {warning}")),
        }
    }
    let (applied, failed, skipped) = report.counts();
    if options.json {
        event(serde_json::json!({
            "type": "summary",
            "succeeded": report.succeeded(),
            "applied": applied,
            "failed": failed,
            "skipped": skipped,
            "resources": {"added": added, "changed": changed, "destroyed": destroyed},
        }));
        return if report.succeeded() {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        };
    }
    if report.succeeded() {
        out(&format!(
            "\nApply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed.\n"
        ));
        ExitStatus::Success
    } else {
        out(&format!(
            "\nApply finished with errors: {applied} applied, {failed} failed, {skipped} skipped.\n{text}Resources applied: {added} added, {changed} changed, {destroyed} destroyed.\nRun `guardform plan` to see what is left.\n"
        ));
        let _ = global;
        ExitStatus::Failure
    }
}

/// `guardform apply [FILE]`.
pub async fn apply(
    global: &GlobalOptions,
    options: &ApplyCommandOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ExitStatus, CommandError> {
    let (plan, world) = match &options.plan_file {
        Some(file) => {
            let saved = plan::load(file)?;
            let source = saved.manifest_source.clone().unwrap_or_default();
            let loaded = manifest::load_str(
                &saved.manifest.path,
                source,
                global.color,
                &kinds::sections(),
            )?;
            let path = file.display().to_string();
            if saved.guardform_version != env!("CARGO_PKG_VERSION") {
                return Err(CommandError::Tampered {
                    path,
                    why: format!(
                        "it was written by guardform {}, this is {}",
                        saved.guardform_version,
                        env!("CARGO_PKG_VERSION")
                    ),
                });
            }
            let world = read_world(global, &loaded).await?;
            let now = make_plan(&loaded, &world)?;
            if now.observed_fingerprint != saved.observed_fingerprint {
                print_stats(global, &world.context.aws);
                return Err(CommandError::Stale { path });
            }
            if let Some(why) = plan::difference(&saved, &now) {
                print_stats(global, &world.context.aws);
                return Err(CommandError::Tampered { path, why });
            }
            say(
                global,
                &format!(
                    "The world still matches {}: applying exactly that plan.",
                    file.display()
                ),
            );
            if !options.json {
                out(&format!("{}\n", render::summary_line(&saved)));
            }
            (saved, world)
        }
        None => {
            let loaded = load_manifest(global)?;
            let world = read_world(global, &loaded).await?;
            let plan = make_plan(&loaded, &world)?;
            if !options.json {
                out(&render::human(
                    &plan,
                    Style {
                        color: global.color,
                    },
                ));
            }
            (plan, world)
        }
    };
    if options.json {
        event(serde_json::json!({
            "type": "plan",
            "format_version": plan::FORMAT_VERSION,
            "changes": plan.changes.len(),
            "summary": plan.summary,
        }));
    }
    execute(global, options, &plan, &world, reporter).await
}

/// Checks flags, asks for confirmation where needed, applies and reports.
async fn execute(
    global: &GlobalOptions,
    options: &ApplyCommandOptions,
    plan: &Plan,
    world: &World,
    reporter: Arc<dyn Reporter>,
) -> Result<ExitStatus, CommandError> {
    if plan.is_empty() {
        if options.json {
            event(
                serde_json::json!({"type": "summary", "succeeded": true, "applied": 0, "failed": 0, "skipped": 0, "resources": {"added": 0, "changed": 0, "destroyed": 0}}),
            );
        }
        print_stats(global, &world.context.aws);
        return Ok(ExitStatus::Success);
    }
    let blocked = plan.blocked(options.allow_destroy, options.allow_admin_change);
    if !blocked.is_empty() {
        let list: Vec<String> = blocked
            .iter()
            .map(|c| {
                format!(
                    "  {} {} (needs {})",
                    c.action.symbol(),
                    c.address,
                    c.requires.as_deref().unwrap_or("?")
                )
            })
            .collect();
        return Err(CommandError::Refused(format!(
            "refusing to apply: the plan has {} change(s) that need an explicit flag, and nothing was changed:\n{}\n  hint: re-run with the flag(s) named above if these changes are intended",
            blocked.len(),
            list.join("\n")
        )));
    }
    if options.json && options.plan_file.is_none() && !options.auto_approve {
        return Err(CommandError::Refused(
            "apply --json asks no questions: pass --auto-approve, or apply a saved plan file"
                .to_string(),
        ));
    }
    if options.plan_file.is_none() && !options.auto_approve && !confirm(global)? {
        out("\nApply cancelled.\n");
        return Ok(ExitStatus::Failure);
    }
    let result = world
        .registry
        .apply(
            &world.context,
            &world.states,
            plan,
            global.parallelism,
            reporter,
        )
        .await;
    let status = report(global, options, plan, &result);
    print_stats(global, &world.context.aws);
    Ok(status)
}

/// Options of `guardform sync ip-lists`.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only this list.
    pub only: Option<String>,
    pub auto_approve: bool,
    pub allow_destroy: bool,
    pub detailed_exitcode: bool,
}

/// `guardform sync ip-lists`: plan and apply restricted to IP lists (their bucket, files and
/// sets), for scheduled jobs that keep lists flowing into GuardDuty.
pub async fn sync_ip_lists(
    global: &GlobalOptions,
    options: &SyncOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ExitStatus, CommandError> {
    let loaded = load_manifest(global)?;
    if let Some(only) = &options.only
        && !ip_lists::section::of(&loaded.manifest)
            .lists
            .iter()
            .any(|l| l.name == *only)
    {
        let names: Vec<&str> = ip_lists::section::of(&loaded.manifest)
            .lists
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        return Err(CommandError::Refused(format!(
            "--only {only}: the manifest has no IP list of that name (it has: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let world = read_world(global, &loaded).await?;
    let full = make_plan(&loaded, &world)?;
    let list_types = world.registry.types_of(ip_lists::NAME);
    let wanted = |c: &Change| {
        list_types.contains(&c.kind.as_str())
            && match &options.only {
                None => true,
                Some(only) => {
                    c.kind == ip_lists::bucket::TYPE || c.inputs.get("list") == Some(only)
                }
            }
    };
    let list_regions: std::collections::BTreeSet<&str> = full
        .changes
        .iter()
        .filter(|c| {
            wanted(c) && c.kind != ip_lists::bucket::TYPE && c.kind != ip_lists::object::TYPE
        })
        .map(|c| c.region.as_str())
        .collect();
    let unready: Vec<String> = full
        .changes
        .iter()
        .filter(|c| {
            (c.kind == kinds::guardduty::organization_admin::TYPE
                || c.kind == kinds::guardduty::detector::TYPE)
                && c.action != plan::Action::Update
                && list_regions.contains(c.region.as_str())
        })
        .map(|c| c.address.clone())
        .collect();
    if !unready.is_empty() {
        return Err(CommandError::Refused(format!(
            "GuardDuty is not set up where the lists go ({}): run `guardform apply` first; `sync ip-lists` only manages lists",
            unready.join(", ")
        )));
    }
    let changes: Vec<Change> = full.changes.iter().filter(|c| wanted(c)).cloned().collect();
    let plan = Plan::new(
        full.manifest.clone(),
        full.observed_fingerprint.clone(),
        full.targets.clone(),
        full.notes.clone(),
        changes,
        |type_name| world.registry.rank(type_name),
    );
    out(&render::human(
        &plan,
        Style {
            color: global.color,
        },
    ));
    let apply_options = ApplyCommandOptions {
        plan_file: None,
        auto_approve: options.auto_approve,
        allow_destroy: options.allow_destroy,
        allow_admin_change: false,
        json: false,
    };
    let status = execute(global, &apply_options, &plan, &world, reporter).await?;
    // For scheduled jobs: 0 nothing to do, 2 changes made, 1 an error.
    Ok(
        if options.detailed_exitcode && status == ExitStatus::Success && !plan.is_empty() {
            ExitStatus::Changes
        } else {
            status
        },
    )
}
