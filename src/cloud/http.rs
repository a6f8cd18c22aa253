//! A small HTTPS client for list sources (URLs, Deep Security): hyper 1 with rustls (ring) —
//! the same stack the AWS SDK already uses, so nothing new is compiled. TLS is verified against
//! the system's roots plus an optional CA file; every request has a timeout; connection
//! failures, 429 and 5xx are retried with backoff. Errors name the URL, never the headers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The largest body read (GuardDuty's list limit is 35 MB).
const MAX_BODY: usize = 40 * 1024 * 1024;
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP failure, naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot read the CA file {path}: {detail}")]
    CaFile { path: String, detail: String },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("invalid URL {url}: {detail}")]
    Url { url: String, detail: String },
    #[error("cannot reach {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("{url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("reading the answer of {url} failed: {detail}")]
    Body { url: String, detail: String },
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// The client.
#[derive(Clone)]
pub struct HttpsClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl HttpsClient {
    /// A client trusting the system's roots and, if given, the CA certificates in `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> Result<HttpsClient, HttpError> {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(certificate);
        }
        if let Some(path) = ca_file {
            let display = path.display().to_string();
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| HttpError::CaFile {
                    path: display.clone(),
                    detail: e.to_string(),
                })?
                .collect::<Result<_, _>>()
                .map_err(|e| HttpError::CaFile {
                    path: display.clone(),
                    detail: e.to_string(),
                })?;
            if certificates.is_empty() {
                return Err(HttpError::CaFile {
                    path: display,
                    detail: "no PEM certificate in it".to_string(),
                });
            }
            for certificate in certificates {
                roots.add(certificate).map_err(|e| HttpError::CaFile {
                    path: display.clone(),
                    detail: e.to_string(),
                })?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpsClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends a request, retrying connection failures, timeouts, 429 and 5xx.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, HttpError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
            }
            match self.once(method, url, headers, body.clone()).await {
                Ok(response) if response.status == 429 || response.status >= 500 => {
                    last = Some(Ok(response))
                }
                Ok(response) => return Ok(response),
                Err(error @ (HttpError::Connect { .. } | HttpError::Timeout { .. })) => {
                    last = Some(Err(error))
                }
                Err(error) => return Err(error),
            }
        }
        last.unwrap_or_else(|| {
            Err(HttpError::Connect {
                url: url.to_string(),
                detail: "no attempt made".to_string(),
            })
        })
    }

    async fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, HttpError> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| HttpError::Url {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| HttpError::Timeout {
                url: url.to_string(),
                seconds: TIMEOUT.as_secs(),
            })?
            .map_err(|e| HttpError::Connect {
                url: url.to_string(),
                detail: error_chain(&e),
            })?;
        let status = response.status().as_u16();
        let collected = tokio::time::timeout(
            TIMEOUT,
            Limited::new(response.into_body(), MAX_BODY).collect(),
        )
        .await
        .map_err(|_| HttpError::Timeout {
            url: url.to_string(),
            seconds: TIMEOUT.as_secs(),
        })?
        .map_err(|e| HttpError::Body {
            url: url.to_string(),
            detail: if e.to_string().contains("length limit") {
                format!(
                    "the answer is larger than {} MB, more than any list GuardDuty takes",
                    MAX_BODY / (1024 * 1024)
                )
            } else {
                e.to_string()
            },
        })?;
        Ok(Response {
            status,
            body: collected.to_bytes(),
        })
    }
}
