//! The `guardform` binary: parses arguments, calls one command, turns the result into an exit
//! code. Progress bars live here; the library only calls the `Reporter` trait.

use clap::{Args, Parser, Subcommand};
use guardform::cli::{
    self as commands, ApplyCommandOptions, ExitStatus, GlobalOptions, PlanOptions, ReportOptions,
    SyncOptions,
};
use guardform::cloud::aws::ConnectOptions;
use guardform::engine::outcome::{ChangeResult, Outcome, Reporter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Amazon GuardDuty, declared once for a whole AWS Organization.
#[derive(Parser, Debug)]
#[command(name = "guardform", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// The manifest.
    #[arg(short, long, global = true, default_value = "guardform.yaml")]
    manifest: PathBuf,
    /// AWS shared-config profile for the caller's credentials.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Home Region for global calls (Organizations, STS).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Endpoint for every AWS service (e.g. a local emulator). `AWS_ENDPOINT_URL` works too.
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// No colours (also when NO_COLOR is set or output is not a terminal).
    #[arg(long, global = true)]
    no_color: bool,
    /// Say less on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Say more on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Print AWS API calls per operation, retries and throttles at the end (stderr).
    #[arg(long, global = true)]
    stats: bool,
    /// Write every AWS call made, by account, service and operation, as JSON to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    stats_out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the manifest offline; every problem at once.
    Validate,
    /// Read live state and show what apply would change.
    Plan {
        /// Save the plan to FILE for `guardform apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as JSON (format documented in README.md).
        #[arg(long)]
        json: bool,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Say which profile ACCOUNT gets and why (repeatable), on stderr.
        #[arg(long, value_name = "ACCOUNT")]
        explain: Vec<String>,
        /// Regions read (and changes applied) at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
    },
    /// Plan and apply, or apply a saved plan FILE exactly.
    Apply {
        /// A plan saved with `guardform plan --out FILE`.
        file: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Allow destructive changes (removing members).
        #[arg(long)]
        allow_destroy: bool,
        /// Allow replacing a different delegated administrator.
        #[arg(long)]
        allow_admin_change: bool,
        /// Print events as JSON Lines on stdout (each change started, applied, failed with
        /// AWS's reason or skipped with why, then a summary) instead of the plan and report;
        /// needs --auto-approve or a plan file.
        #[arg(long)]
        json: bool,
        /// Changes (or batches of 50 members) worked on at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
    },
    /// Write a manifest that reproduces the organization's GuardDuty as it is now (the
    /// delegated administrator, its Regions, detector settings, auto-enable, members and
    /// lists), with comments for what differs; `guardform plan` right after says what is left.
    Init {
        /// Where the manifest is written (`-` for stdout).
        #[arg(long, value_name = "FILE", default_value = "guardform.yaml")]
        out: PathBuf,
        /// Regions to look in (default: every Region enabled in the caller's account).
        #[arg(long, value_delimiter = ',', value_name = "REGION,...")]
        regions: Vec<String>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
        /// The role guardform assumes in the other accounts [default: OrganizationAccountAccessRole].
        #[arg(long, value_name = "NAME")]
        member_role: Option<String>,
        /// Regions read at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
    },
    /// Render a saved plan.
    Show {
        file: PathBuf,
        /// Print the plan as JSON (the same as `--format json`).
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// `human` (as `plan` prints it), `json`, or `markdown` (for a pull request comment or
        /// a CI job summary: the summary line first, a collapsed section per resource type).
        #[arg(long, value_enum, default_value_t = commands::ShowFormat::Human)]
        format: commands::ShowFormat,
    },
    /// Write the organization's GuardDuty coverage, findings and wiring as one HTML page.
    Report {
        /// Where the page is written.
        #[arg(long, value_name = "FILE", default_value = "report.html")]
        out: PathBuf,
        /// Print the report document as JSON on stdout too (format_version 1.0).
        #[arg(long)]
        json: bool,
        /// Findings updated in the last DAYS days.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=90))]
        days: u32,
        /// Regions read at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
    },
    /// Print the IAM policies each principal needs for this manifest (offline): the caller in
    /// the management account, the administrator's role, and the roles in accounts the
    /// manifest reaches. `--for plan` gives read-only actions.
    Policy {
        /// The command the policies are for.
        #[arg(long = "for", value_parser = ["plan", "apply", "sync"], default_value = "apply")]
        for_command: String,
        /// Output format.
        #[arg(long, value_parser = ["json", "terraform", "cloudformation"], default_value = "json")]
        format: String,
    },
    /// Print the manifest's JSON Schema (for editors).
    Schema,
    /// Print a shell completion script: `guardform completions bash > /etc/bash_completion.d/guardform`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `guardform man > guardform.1`.
    Man,
    /// Print the Athena table (and example queries) over findings archived by the
    /// `archive-findings` bundle.
    AthenaDdl {
        /// Where the findings come from: `export` (GuardDuty's export, the manifest's
        /// `export:`) or `archive` (the `archive-findings` response); default: the export when
        /// the manifest has one.
        #[arg(long, value_parser = ["export", "archive"])]
        source: Option<String>,
        /// The bucket (default: from the manifest, see --source).
        #[arg(long)]
        bucket: Option<String>,
        /// The key prefix (default: from the manifest).
        #[arg(long)]
        prefix: Option<String>,
        /// Accounts whose findings are archived, comma-separated (partition projection).
        #[arg(long)]
        accounts: Option<String>,
        /// Regions, comma-separated (default: the manifest's Region list).
        #[arg(long)]
        regions: Option<String>,
    },
    /// Plan and apply one part of the manifest only.
    Sync {
        #[command(subcommand)]
        what: SyncWhat,
    },
}

#[derive(Subcommand, Debug)]
enum SyncWhat {
    /// Keep IP lists (their S3 files and GuardDuty sets) in line with their sources: the
    /// command a scheduled job runs to keep Deep Security lists flowing into GuardDuty.
    IpLists {
        /// Only this list.
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Allow removing sets of lists no longer in the manifest.
        #[arg(long)]
        allow_destroy: bool,
        /// Exit 0 when the lists were already in line, 2 when changes were made, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Changes (or batches of 50 members) worked on at once.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallelism: u16,
    },
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise, nothing when quiet.
struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    /// Print every applied change, not only failures (with `-v`, or for small applies).
    every: std::sync::atomic::AtomicBool,
    verbose: bool,
}

impl Reporter for Progress {
    fn begin(&self, total: usize) {
        self.every.store(
            self.verbose || total <= 50,
            std::sync::atomic::Ordering::Relaxed,
        );
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        } else if self.plain {
            eprintln!("Applying {total} change(s) ...");
        }
    }

    fn finished(&self, result: &ChangeResult) {
        let line = match &result.outcome {
            Outcome::Applied => format!("{}: done", result.address),
            Outcome::NoOp => format!("{}: already done", result.address),
            Outcome::Failed { error } => format!("{}: FAILED: {error}", result.address),
            Outcome::Skipped { reason } => format!("{}: skipped: {reason}", result.address),
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if !result.outcome.succeeded() {
                    bar.println(line);
                }
            }
            None if self.plain => {
                let applied = result.outcome.succeeded();
                if !applied || self.every.load(std::sync::atomic::Ordering::Relaxed) {
                    eprintln!("{line}");
                }
            }
            None => {}
        }
    }

    fn end(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `apply --json`: one JSON object per line on stdout for each change as it starts and ends.
struct JsonLines;

impl Reporter for JsonLines {
    fn begin(&self, _total: usize) {}

    fn started(&self, address: &str, action: guardform::engine::plan::Action) {
        commands::event(
            serde_json::json!({"type": "started", "address": address, "action": action}),
        );
    }

    fn finished(&self, result: &ChangeResult) {
        let (kind, detail) = match &result.outcome {
            Outcome::Applied => ("applied", None),
            Outcome::NoOp => ("unchanged", None),
            Outcome::Failed { error } => ("failed", Some(("error", error))),
            Outcome::Skipped { reason } => ("skipped", Some(("reason", reason))),
        };
        let mut value =
            serde_json::json!({"type": kind, "address": result.address, "action": result.action});
        if let Some((key, text)) = detail {
            value[key] = serde_json::Value::String(text.clone());
        }
        commands::event(value);
    }

    fn end(&self) {}
}

fn progress(quiet: bool, verbose: bool) -> Arc<Progress> {
    let progress = |bar: Option<ProgressBar>, plain: bool| {
        Arc::new(Progress {
            bar,
            plain,
            every: std::sync::atomic::AtomicBool::new(verbose),
            verbose,
        })
    };
    if quiet {
        return progress(None, false);
    }
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} applying [{bar:30}] {pos}/{len} changes ({elapsed})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        return progress(Some(bar), false);
    }
    progress(None, true)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // Help and version are not errors; a usage error must never look like exit 2.
            return if error.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = !cli.global.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    let parallelism = match &cli.command {
        Command::Plan { parallelism, .. }
        | Command::Report { parallelism, .. }
        | Command::Init { parallelism, .. }
        | Command::Apply { parallelism, .. }
        | Command::Sync {
            what: SyncWhat::IpLists { parallelism, .. },
        } => usize::from(*parallelism),
        _ => 8,
    };
    let global = GlobalOptions {
        manifest: cli.global.manifest.clone(),
        connect: ConnectOptions {
            profile: cli.global.profile.clone(),
            region: cli.global.region.clone(),
            endpoint_url: cli.global.endpoint_url.clone(),
        },
        color,
        quiet: cli.global.quiet,
        stats: cli.global.stats,
        stats_out: cli.global.stats_out.clone(),
        parallelism,
    };
    let verbose = cli.global.verbose;
    let result = match cli.command {
        Command::Validate => commands::validate(&global),
        Command::Schema => commands::schema(),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "guardform", &mut std::io::stdout());
            Ok(ExitStatus::Success)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            match clap_mangen::Man::new(command).render(&mut page) {
                Ok(()) => {
                    use std::io::Write;
                    let _ = std::io::stdout().write_all(&page);
                    Ok(ExitStatus::Success)
                }
                Err(error) => Err(commands::CommandError::Refused(format!(
                    "cannot render the man page: {error}"
                ))),
            }
        }
        Command::Policy {
            for_command,
            format,
        } => commands::policy(&global, &for_command, &format),
        Command::AthenaDdl {
            source,
            bucket,
            prefix,
            accounts,
            regions,
        } => commands::athena_ddl(&global, source, bucket, prefix, accounts, regions),
        Command::Show { file, json, format } => commands::show(
            &global,
            &file,
            if json {
                commands::ShowFormat::Json
            } else {
                format
            },
        ),
        Command::Init {
            out,
            regions,
            force,
            member_role,
            ..
        } => runtime().and_then(|rt| {
            rt.block_on(commands::init(
                &global,
                &commands::InitOptions {
                    out,
                    regions,
                    force,
                    member_role,
                },
            ))
        }),
        Command::Report {
            out, json, days, ..
        } => runtime().and_then(|rt| {
            rt.block_on(commands::report_command(
                &global,
                &ReportOptions { out, json, days },
            ))
        }),
        Command::Plan {
            out,
            json,
            detailed_exitcode,
            explain,
            ..
        } => runtime().and_then(|rt| {
            rt.block_on(commands::plan(
                &global,
                &PlanOptions {
                    out,
                    json,
                    explain,
                    detailed_exitcode,
                },
            ))
        }),
        Command::Apply {
            file,
            auto_approve,
            allow_destroy,
            allow_admin_change,
            json,
            ..
        } => runtime().and_then(|rt| {
            let options = ApplyCommandOptions {
                plan_file: file,
                auto_approve,
                allow_destroy,
                allow_admin_change,
                json,
            };
            let reporter: Arc<dyn Reporter> = if json {
                Arc::new(JsonLines)
            } else {
                progress(global.quiet, verbose)
            };
            rt.block_on(commands::apply(&global, &options, reporter))
        }),
        Command::Sync {
            what:
                SyncWhat::IpLists {
                    only,
                    auto_approve,
                    allow_destroy,
                    detailed_exitcode,
                    ..
                },
        } => runtime().and_then(|rt| {
            let options = SyncOptions {
                only,
                auto_approve,
                allow_destroy,
                detailed_exitcode,
            };
            rt.block_on(commands::sync_ip_lists(
                &global,
                &options,
                progress(global.quiet, verbose),
            ))
        }),
    };
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            eprintln!("{}", render_error(&error, color, verbose));
            ExitCode::from(ExitStatus::Failure.code())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, commands::CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            commands::CommandError::Refused(format!("cannot start the async runtime: {e}"))
        })
}

/// `error: <message>` and its causes, one per line.
/// An AWS call's failure is one line; the SDK's own chain only with `-v`.
fn render_error(error: &commands::CommandError, color: bool, verbose: bool) -> String {
    use guardform::manifest::ManifestError;
    if let commands::CommandError::Manifest(ManifestError::Invalid {
        rendered,
        path,
        count,
    }) = error
    {
        let plural = if *count == 1 { "" } else { "s" };
        return format!("{rendered}error: {path} has {count} problem{plural}; nothing was done");
    }
    let label = if color {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    };
    let mut text = format!("{label}: {error}");
    let aws = error.aws();
    if aws.is_some_and(|e| e.source.is_some()) && !verbose {
        text.push_str("\n  (run with -v for the AWS SDK's full error)");
        return text;
    }
    let mut source = match aws {
        Some(aws) => std::error::Error::source(aws),
        None => std::error::Error::source(error),
    };
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    text
}
