//! A cap on AWS calls in flight per throttling scope: one service in one account and Region
//! (Organizations and IAM: one account, in the home Region). AWS throttles per account, Region
//! and API, so however high `--parallelism` goes, at most [`CALLS_IN_FLIGHT_PER_SCOPE`] requests
//! are on the wire at once to, say, GuardDuty in 222222222222/us-east-1, while other scopes
//! keep going. The cap sits in the HTTP client the SDK calls for every attempt, so retries
//! queue behind it too and no kind can forget it.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Requests in flight at once per (service, account, Region).
pub const CALLS_IN_FLIGHT_PER_SCOPE: usize = 8;

/// A throttling scope: service, account, Region.
type Scope = (&'static str, String, String);

/// One semaphore per scope, handed out inside HTTP clients.
#[derive(Debug)]
pub struct Caps {
    inner: SharedHttpClient,
    per_scope: usize,
    scopes: Mutex<HashMap<Scope, Arc<Semaphore>>>,
}

impl Caps {
    /// Caps calls made through `inner` to `per_scope` at once per scope.
    pub fn new(inner: SharedHttpClient, per_scope: usize) -> Caps {
        Caps {
            inner,
            per_scope: per_scope.max(1),
            scopes: Mutex::new(HashMap::new()),
        }
    }

    /// An HTTP client whose requests share the permits of `service` in `account` and `region`.
    pub fn client(&self, service: &'static str, account: &str, region: &str) -> SharedHttpClient {
        SharedHttpClient::new(Capped {
            inner: self.inner.clone(),
            permits: self.permits(service, account, region),
        })
    }

    fn permits(&self, service: &'static str, account: &str, region: &str) -> Arc<Semaphore> {
        self.scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((service, account.to_string(), region.to_string()))
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_scope)))
            .clone()
    }
}

#[derive(Debug)]
struct Capped {
    inner: SharedHttpClient,
    permits: Arc<Semaphore>,
}

impl HttpClient for Capped {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CappedConnector {
            inner: self.inner.http_connector(settings, components),
            permits: self.permits.clone(),
        })
    }
}

#[derive(Debug)]
struct CappedConnector {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
}

impl HttpConnector for CappedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, permits) = (self.inner.clone(), self.permits.clone());
        HttpConnectorFuture::new(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Answers every request after a pause, counting how many are in flight at most.
    #[derive(Debug, Default)]
    struct Slow {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    #[derive(Debug, Clone)]
    struct SlowClient(Arc<Slow>);

    impl HttpConnector for SlowClient {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let slow = self.0.clone();
            HttpConnectorFuture::new(async move {
                let now = slow.now.fetch_add(1, Ordering::SeqCst) + 1;
                slow.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                slow.now.fetch_sub(1, Ordering::SeqCst);
                Ok(HttpResponse::new(
                    StatusCode::try_from(200).unwrap(),
                    SdkBody::empty(),
                ))
            })
        }
    }

    async fn send(caps: &Caps, region: &str, slow: &Arc<Slow>, n: usize) {
        let connector = CappedConnector {
            inner: SharedHttpConnector::new(SlowClient(slow.clone())),
            permits: caps.permits("guardduty", "111111111111", region),
        };
        let calls = (0..n).map(|_| connector.call(HttpRequest::get("http://127.0.0.1/").unwrap()));
        for answer in futures_util::future::join_all(calls).await {
            answer.unwrap();
        }
    }

    #[tokio::test]
    async fn calls_in_one_scope_wait_for_a_permit_and_other_scopes_do_not() {
        let slow = Arc::new(Slow::default());
        let never = slow.clone();
        let http = aws_smithy_runtime_api::client::http::http_client_fn(move |_, _| {
            SharedHttpConnector::new(SlowClient(never.clone()))
        });
        let caps = Caps::new(http, 3);
        send(&caps, "us-east-1", &slow, 12).await;
        assert_eq!(slow.most.load(Ordering::SeqCst), 3);

        // Two scopes at once: each has its own three permits.
        slow.most.store(0, Ordering::SeqCst);
        futures_util::future::join(
            send(&caps, "us-east-1", &slow, 6),
            send(&caps, "eu-west-1", &slow, 6),
        )
        .await;
        assert_eq!(slow.most.load(Ordering::SeqCst), 6);
    }
}
