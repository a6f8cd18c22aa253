//! AWS SDK clients per account and Region: one shared HTTP client, the caller's credentials or an
//! assumed role per account (cached and refreshed), standard retries with backoff, bounded
//! timeouts, and an interceptor that counts calls, retries and throttles for `--stats`.

use super::cap::{CALLS_IN_FLIGHT_PER_SCOPE, Caps};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How to reach AWS, from the command line and environment.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub profile: Option<String>,
    /// Home Region for global calls (Organizations, STS).
    pub region: Option<String>,
    /// Endpoint for every service (the local emulator); `AWS_ENDPOINT_URL` is honoured by the SDK.
    pub endpoint_url: Option<String>,
}

/// An AWS call that failed, with what guardform was doing, in one line; the SDK's error is kept
/// as the source (shown with `-v`).
#[derive(Debug, thiserror::Error)]
#[error("{context}: {detail}")]
pub struct AwsError {
    pub context: String,
    /// The AWS error code, e.g. `AccessDeniedException`.
    pub code: Option<String>,
    pub detail: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The endpoint every call goes to when one is set (`--endpoint-url`, `AWS_ENDPOINT_URL`), for
/// saying which address could not be reached.
static ENDPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What went wrong, in words, for an SDK error that carries no AWS error code: the request
/// never got an AWS answer (no connection, a timeout) or the answer could not be read.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut causes: Vec<&(dyn std::error::Error + 'static)> = vec![error];
    while let Some(next) = causes.last().and_then(|e| e.source()) {
        causes.push(next);
    }
    let io = causes
        .iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .map(|e| e.kind().to_string());
    let last = causes.last().map(|e| e.to_string()).unwrap_or_default();
    let top = error.to_string();
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .or_else(|| ENDPOINT.get().cloned())
        .unwrap_or_else(|| "the AWS endpoint".to_string());
    if top.starts_with("dispatch failure") {
        return format!("cannot reach {endpoint}: {}", io.unwrap_or(last));
    }
    if top.starts_with("timeout") {
        return format!("no answer from {endpoint} in time");
    }
    let mut words: Vec<String> = causes.iter().map(|e| e.to_string()).collect();
    words.dedup();
    words.join(": ")
}

impl AwsError {
    /// Describes an SDK error with its code and message.
    pub fn new<E>(context: impl Into<String>, error: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = error.code().map(str::to_string);
        let detail = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => describe(&error),
        };
        AwsError {
            context: context.into(),
            code,
            detail,
            source: Some(Box::new(error)),
        }
    }

    /// An error guardform found in an AWS answer.
    pub fn message(context: impl Into<String>, detail: impl Into<String>) -> Self {
        AwsError {
            context: context.into(),
            code: None,
            detail: detail.into(),
            source: None,
        }
    }
}

/// Counts of AWS calls per service and operation.
#[derive(Debug, Default)]
pub struct Stats {
    operations: Mutex<BTreeMap<(String, String), OperationStats>>,
    /// Calls by (account, service, operation): which principal made which call (`caller` for
    /// the caller's own STS calls), for `--stats-out` and the policy's own test.
    by_account: Mutex<BTreeMap<(String, String, String), u64>>,
}

/// Counts for one operation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OperationStats {
    /// Operations started (one per SDK call, whatever its retries).
    pub calls: u64,
    /// HTTP attempts (calls + retries).
    pub attempts: u64,
    /// Attempts answered with a throttling error.
    pub throttles: u64,
}

impl Stats {
    fn update(&self, cfg: &ConfigBag, change: impl FnOnce(&mut OperationStats)) {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return;
        };
        let mut operations = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        change(
            operations
                .entry((metadata.service().to_string(), metadata.name().to_string()))
                .or_default(),
        );
    }

    fn count_for(&self, account: &str, cfg: &ConfigBag) {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return;
        };
        let mut calls = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        *calls
            .entry((
                account.to_string(),
                metadata.service().to_string(),
                metadata.name().to_string(),
            ))
            .or_default() += 1;
    }

    /// Calls by (account, service, operation).
    pub fn by_account(&self) -> BTreeMap<(String, String, String), u64> {
        self.by_account
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A copy of the counts, by (service, operation).
    pub fn snapshot(&self) -> BTreeMap<(String, String), OperationStats> {
        self.operations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Renders a table for `--stats`.
    pub fn render(&self) -> String {
        let snapshot = self.snapshot();
        let mut out = String::from("AWS API calls:\n");
        let mut total = OperationStats::default();
        for ((service, operation), stats) in &snapshot {
            out.push_str(&format!(
                "  {:<48} {:>7} calls {:>5} retries {:>5} throttles\n",
                format!("{service}.{operation}"),
                stats.calls,
                stats.attempts.saturating_sub(stats.calls),
                stats.throttles
            ));
            total.calls += stats.calls;
            total.attempts += stats.attempts;
            total.throttles += stats.throttles;
        }
        out.push_str(&format!(
            "  {:<48} {:>7} calls {:>5} retries {:>5} throttles\n",
            "total",
            total.calls,
            total.attempts.saturating_sub(total.calls),
            total.throttles
        ));
        out
    }
}

/// Counts calls for `--stats`, and by the account the client acts in.
#[derive(Debug)]
struct StatsInterceptor(Arc<Stats>, Arc<str>);

impl Intercept for StatsInterceptor {
    fn name(&self) -> &'static str {
        "guardform-stats"
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.update(cfg, |s| s.calls += 1);
        self.0.count_for(&self.1, cfg);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.update(cfg, |s| s.attempts += 1);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(response) = context.response() {
            let status = response.status().as_u16();
            let error_type = response
                .headers()
                .get("x-amzn-errortype")
                .unwrap_or_default();
            let throttled = status == 429
                || error_type.contains("Throttl")
                || error_type.contains("TooManyRequests")
                || error_type.contains("RequestLimitExceeded");
            if throttled {
                self.0.update(cfg, |s| s.throttles += 1);
            }
        }
        Ok(())
    }
}

/// Credentials of a role assumed in another account, cached until shortly before they expire.
#[derive(Debug)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    /// Who runs guardform, as a session name and SourceIdentity (CloudTrail shows it).
    identity: String,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

/// A session name / SourceIdentity naming the caller: `guardform-` and the caller's user,
/// role or session name, in the characters STS allows, at most 64.
pub fn session_identity(caller_arn: &str) -> String {
    let who = caller_arn.rsplit(['/', ':']).next().unwrap_or_default();
    let cleaned: String = who
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("guardform-{cleaned}");
    name.truncate(64);
    if cleaned.is_empty() {
        name = "guardform".to_string();
    }
    name
}

impl AssumedRole {
    async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref() {
            let fresh = credentials
                .expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + Duration::from_secs(300));
            if fresh {
                return Ok(credentials.clone());
            }
        }
        let assume = |source_identity: bool| {
            self.sts
                .assume_role()
                .role_arn(&self.role_arn)
                .role_session_name(&self.identity)
                .set_source_identity(source_identity.then(|| self.identity.clone()))
                .duration_seconds(3600)
                .send()
        };
        // SourceIdentity needs the role's trust policy to allow sts:SetSourceIdentity; a role
        // that does not is still assumed, with the session name alone naming the caller.
        let output = match assume(true).await {
            Err(error)
                if error
                    .as_service_error()
                    .and_then(|e| e.message())
                    .is_some_and(|m| m.contains("SetSourceIdentity")) =>
            {
                assume(false).await
            }
            other => other,
        }
        .map_err(|error| {
            CredentialsError::provider_error(AwsError::new(
                format!("assuming role {}", self.role_arn),
                error,
            ))
        })?;
        let Some(assumed) = output.credentials() else {
            return Err(CredentialsError::provider_error(AwsError::message(
                format!("assuming role {}", self.role_arn),
                "STS returned no credentials",
            )));
        };
        let expiry = SystemTime::try_from(*assumed.expiration()).ok();
        let credentials = Credentials::new(
            assumed.access_key_id(),
            assumed.secret_access_key(),
            Some(assumed.session_token().to_string()),
            expiry,
            "guardform-assume-role",
        );
        *cached = Some(credentials.clone());
        Ok(credentials)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// How guardform reaches each account.
#[derive(Debug, Clone)]
pub struct RoleSettings {
    /// Role name assumed in accounts other than the caller's.
    pub member_role: String,
    /// Per-account ARN overrides.
    pub account_roles: BTreeMap<String, String>,
}

impl RoleSettings {
    /// The role guardform assumes in `account`: its override, or the member role there.
    pub fn role_arn(&self, account: &str) -> String {
        self.account_roles
            .get(account)
            .cloned()
            .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/{}", self.member_role))
    }
}

/// SDK clients for every account and Region guardform works in.
pub struct Aws {
    base: SdkConfig,
    caller_account: String,
    caller_arn: String,
    roles: RoleSettings,
    stats: Arc<Stats>,
    /// At most a few calls in flight per service, account and Region (see `cap`).
    caps: Caps,
    credentials: Mutex<HashMap<String, SharedCredentialsProvider>>,
    guardduty: Mutex<HashMap<(String, String), aws_sdk_guardduty::Client>>,
    /// Detector ids by (account, Region), read once and shared by every kind that needs them.
    detectors: Mutex<HashMap<(String, String), DetectorCell>>,
    /// What people should know about the configuration (settings read differently than asked).
    notes: Vec<String>,
}

/// A detector id read once: `None` inside when the account has no detector there.
type DetectorCell = Arc<tokio::sync::OnceCell<Option<String>>>;

/// Reads `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE` before aws-config does: invalid values make
/// the SDK panic, guardform says what is wrong instead.
fn retry_config() -> Result<(RetryConfig, Option<String>), String> {
    let attempts = match std::env::var("AWS_MAX_ATTEMPTS") {
        Ok(text) => match text.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(format!(
                    "AWS_MAX_ATTEMPTS must be a whole number of at least 1, not `{text}`"
                ));
            }
        },
        Err(_) => 6,
    };
    let mut note = None;
    let config = match std::env::var("AWS_RETRY_MODE").as_deref() {
        Ok("adaptive") => RetryConfig::adaptive(),
        Ok("standard") | Err(_) => RetryConfig::standard(),
        Ok("legacy") => {
            note = Some("AWS_RETRY_MODE=legacy is not available in the AWS SDK for Rust: guardform retries in `standard` mode".to_string());
            RetryConfig::standard()
        }
        Ok(other) => {
            return Err(format!(
                "AWS_RETRY_MODE must be `standard`, `adaptive` or `legacy`, not `{other}`"
            ));
        }
    };
    // Take the environment out of aws-config's hands: guardform has validated it.
    let config = config
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(500))
        .with_max_backoff(Duration::from_secs(20));
    Ok((config, note))
}

impl Aws {
    /// Loads the caller's configuration and asks STS who the caller is.
    pub async fn connect(options: &ConnectOptions, roles: RoleSettings) -> Result<Aws, AwsError> {
        let (retry, note) = retry_config()
            .map_err(|detail| AwsError::message("reading the AWS configuration", detail))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http.clone())
            .retry_config(retry)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .operation_timeout(Duration::from_secs(300))
                    .build(),
            );
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &options.endpoint_url {
            let _ = ENDPOINT.set(endpoint.clone());
            loader = loader.endpoint_url(endpoint);
        }
        let mut base = loader.load().await;
        if base.region().is_none() {
            base = base
                .into_builder()
                .region(Region::from_static("us-east-1"))
                .build();
        }
        let stats = Arc::new(Stats::default());
        let sts = sts_client(&base, &stats, base.credentials_provider());
        let identity = sts.get_caller_identity().send().await.map_err(|e| {
            AwsError::new("finding out who the caller is (sts:GetCallerIdentity)", e)
        })?;
        Ok(Aws {
            caller_account: identity.account().unwrap_or_default().to_string(),
            caller_arn: identity.arn().unwrap_or_default().to_string(),
            base,
            roles,
            stats,
            caps: Caps::new(http, CALLS_IN_FLIGHT_PER_SCOPE),
            credentials: Mutex::new(HashMap::new()),
            guardduty: Mutex::new(HashMap::new()),
            detectors: Mutex::new(HashMap::new()),
            notes: note.into_iter().collect(),
        })
    }

    /// What people should know about how the configuration was read.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The account of the caller's own credentials.
    pub fn caller_account(&self) -> &str {
        &self.caller_account
    }

    /// The caller's ARN.
    pub fn caller_arn(&self) -> &str {
        &self.caller_arn
    }

    /// Call counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The home Region.
    pub fn home_region(&self) -> String {
        self.base
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// The role guardform assumes in `account`.
    pub fn role_arn(&self, account: &str) -> String {
        self.roles.role_arn(account)
    }

    /// Credentials for calls in `account`: the caller's own, or an assumed role.
    pub fn credentials_for(&self, account: &str) -> Option<SharedCredentialsProvider> {
        if account == self.caller_account {
            return self.base.credentials_provider();
        }
        let mut cache = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let provider = cache.entry(account.to_string()).or_insert_with(|| {
            SharedCredentialsProvider::new(AssumedRole {
                sts: sts_client(&self.base, &self.stats, self.base.credentials_provider()),
                role_arn: self.role_arn(account),
                identity: session_identity(&self.caller_arn),
                cached: tokio::sync::Mutex::new(None),
            })
        });
        Some(provider.clone())
    }

    fn config_for(&self, service: &'static str, account: &str, region: &str) -> SdkConfig {
        let mut builder = self
            .base
            .to_builder()
            .http_client(self.caps.client(service, account, region))
            .region(Region::new(region.to_string()));
        builder.set_credentials_provider(self.credentials_for(account));
        builder.build()
    }

    /// The GuardDuty detector of `account` in `region` (GuardDuty allows one), read once per
    /// run however many kinds ask.
    pub async fn detector_id(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Option<String>, AwsError> {
        let cell = {
            let mut cells = self.detectors.lock().unwrap_or_else(|e| e.into_inner());
            cells
                .entry((account.to_string(), region.to_string()))
                .or_default()
                .clone()
        };
        cell.get_or_try_init(|| async {
            let output = self
                .guardduty(account, region)
                .list_detectors()
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(format!("listing detectors in {account}/{region}"), e)
                })?;
            Ok(output.detector_ids().first().cloned())
        })
        .await
        .cloned()
    }

    /// The detector as it is now: the one already known, or read again when none was (another
    /// call, such as EnableOrganizationAdminAccount, may have created one since).
    pub async fn current_detector_id(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Option<String>, AwsError> {
        if let Some(id) = self.detector_id(account, region).await? {
            return Ok(Some(id));
        }
        self.detectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(account.to_string(), region.to_string()));
        self.detector_id(account, region).await
    }

    /// The detector `account` has now in `region`, which `doing` needs: an error saying so
    /// when there is none (a change whose detector change failed or was not applied).
    pub async fn required_detector_id(
        &self,
        account: &str,
        region: &str,
        doing: &str,
    ) -> Result<String, AwsError> {
        self.current_detector_id(account, region)
            .await?
            .ok_or_else(|| {
                AwsError::message(
                    doing,
                    format!("{account} has no GuardDuty detector in {region}"),
                )
            })
    }

    /// Records a detector created during this run.
    pub fn remember_detector(&self, account: &str, region: &str, id: &str) {
        let cell = tokio::sync::OnceCell::new_with(Some(Some(id.to_string())));
        self.detectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((account.to_string(), region.to_string()), Arc::new(cell));
    }

    /// A GuardDuty client acting in `account` and `region`.
    pub fn guardduty(&self, account: &str, region: &str) -> aws_sdk_guardduty::Client {
        let mut clients = self.guardduty.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry((account.to_string(), region.to_string()))
            .or_insert_with(|| {
                let config = aws_sdk_guardduty::config::Builder::from(&self.config_for(
                    "guardduty",
                    account,
                    region,
                ))
                .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
                .build();
                aws_sdk_guardduty::Client::from_conf(config)
            })
            .clone()
    }

    /// An Organizations client acting in `account` (Organizations is global: home Region).
    pub fn organizations(&self, account: &str) -> aws_sdk_organizations::Client {
        let config = aws_sdk_organizations::config::Builder::from(&self.config_for(
            "organizations",
            account,
            &self.home_region(),
        ))
        .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
        .build();
        aws_sdk_organizations::Client::from_conf(config)
    }

    /// An S3 client acting in `account`, in `region` (path-style addressing, which works with
    /// every endpoint, the emulator's included).
    pub fn s3(&self, account: &str, region: &str) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.config_for("s3", account, region))
            .force_path_style(true)
            .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An EventBridge client acting in `account`, in `region`.
    pub fn eventbridge(&self, account: &str, region: &str) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::config::Builder::from(&self.config_for(
            "eventbridge",
            account,
            region,
        ))
        .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
        .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    /// A Lambda client acting in `account`, in `region`.
    pub fn lambda(&self, account: &str, region: &str) -> aws_sdk_lambda::Client {
        let config =
            aws_sdk_lambda::config::Builder::from(&self.config_for("lambda", account, region))
                .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
                .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    /// An SQS client acting in `account`, in `region`.
    pub fn sqs(&self, account: &str, region: &str) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::config::Builder::from(&self.config_for("sqs", account, region))
            .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// A KMS client acting in `account`, in `region`.
    pub fn kms(&self, account: &str, region: &str) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::config::Builder::from(&self.config_for("kms", account, region))
            .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }

    /// An IAM client acting in `account` (IAM is global: home Region).
    pub fn iam(&self, account: &str) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::config::Builder::from(&self.config_for(
            "iam",
            account,
            &self.home_region(),
        ))
        .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
        .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An Account API client acting in `account`.
    pub fn account(&self, account: &str) -> aws_sdk_account::Client {
        let config = aws_sdk_account::config::Builder::from(&self.config_for(
            "account",
            account,
            &self.home_region(),
        ))
        .interceptor(StatsInterceptor(self.stats.clone(), account.into()))
        .build();
        aws_sdk_account::Client::from_conf(config)
    }
}

fn sts_client(
    base: &SdkConfig,
    stats: &Arc<Stats>,
    credentials: Option<SharedCredentialsProvider>,
) -> aws_sdk_sts::Client {
    let mut builder = aws_sdk_sts::config::Builder::from(base)
        .interceptor(StatsInterceptor(stats.clone(), "caller".into()));
    builder.set_credentials_provider(credentials);
    aws_sdk_sts::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_name_the_caller() {
        assert_eq!(
            session_identity("arn:aws:iam::123456789012:user/alice@example.com"),
            "guardform-alice@example.com"
        );
        assert_eq!(
            session_identity("arn:aws:sts::123456789012:assumed-role/CI/gh-run 42"),
            "guardform-gh-run-42"
        );
        assert_eq!(
            session_identity("arn:aws:iam::123456789012:root"),
            "guardform-root"
        );
        assert_eq!(session_identity(&"x".repeat(100)).len(), 64);
    }
}
