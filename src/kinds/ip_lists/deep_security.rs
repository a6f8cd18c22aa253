//! Trend Micro Deep Security (and Cloud One Workload Security) IP lists over the REST API v1:
//! `GET /api/iplists/{id}`, `POST /api/iplists/search` by name. The API key is read from the
//! environment variable the manifest names and never appears in output, logs or errors.

use crate::cloud::http::{HttpError, HttpsClient};
use crate::kinds::ip_lists::section::DeepSecuritySource;
use serde::Deserialize;
use serde_json::json;

/// An IP list as Deep Security returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IpList {
    #[serde(rename = "ID")]
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub items: Vec<String>,
}

/// Why a list could not be read from Deep Security.
#[derive(Debug, thiserror::Error)]
pub enum DeepSecurityError {
    #[error(
        "environment variable {variable} is not set: it must hold the API key for the Deep Security manager {url}"
    )]
    NoKey { variable: String, url: String },
    #[error(
        "Deep Security manager {url} refused the API key in {variable} (HTTP {status}) while reading IP list `{list}`: check the key and its role's rights to IP lists"
    )]
    Unauthorized {
        url: String,
        variable: String,
        status: u16,
        list: String,
    },
    #[error("Deep Security manager {url} has no IP list `{list}`")]
    NotFound { url: String, list: String },
    #[error(
        "Deep Security manager {url} has {count} IP lists named `{list}`; name it by its numeric id instead"
    )]
    Ambiguous {
        url: String,
        list: String,
        count: usize,
    },
    #[error("Deep Security manager {url} answered HTTP {status} for IP list `{list}`: {message}")]
    Status {
        url: String,
        list: String,
        status: u16,
        message: String,
    },
    #[error(
        "Deep Security manager {url} sent an answer guardform cannot read for IP list `{list}`: {detail}"
    )]
    Parse {
        url: String,
        list: String,
        detail: String,
    },
    #[error(
        "Deep Security manager {url} answered {what} for IP list `{list}`; GuardDuty takes at most 250,000 entries in a list (about 6 MB)"
    )]
    TooLarge {
        url: String,
        list: String,
        what: String,
    },
    #[error("reading IP list `{list}` from Deep Security: {source}")]
    Http {
        list: String,
        #[source]
        source: HttpError,
    },
}

/// Removes the key from any text that may have echoed it.
fn scrub(text: &str, key: &str) -> String {
    if key.is_empty() {
        text.to_string()
    } else {
        text.replace(key, "[redacted]")
    }
}

/// The largest answer read: a 250,000-entry list (GuardDuty's limit) is about 6 MB.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// The most items a list may have (GuardDuty's threat list limit).
pub const MAX_ITEMS: usize = 250_000;

/// Reads an IP list by numeric id or by name.
pub async fn fetch(
    source: &DeepSecuritySource,
    client: &HttpsClient,
) -> Result<IpList, DeepSecurityError> {
    let url = source.url.clone();
    let list = source.ip_list.clone();
    let key = std::env::var(&source.api_key_env)
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| DeepSecurityError::NoKey {
            variable: source.api_key_env.clone(),
            url: url.clone(),
        })?;
    let auth = if source.auth_header == "authorization" {
        ("authorization", format!("ApiKey {key}"))
    } else {
        ("api-secret-key", key.clone())
    };
    let headers = [
        auth,
        ("api-version", "v1".to_string()),
        ("accept", "application/json".to_string()),
        ("content-type", "application/json".to_string()),
    ];
    let (method, path, body) = match list.parse::<u64>() {
        Ok(id) => ("GET", format!("/api/iplists/{id}"), None),
        Err(_) => (
            "POST",
            "/api/iplists/search".to_string(),
            Some(json!({"searchCriteria": [{"fieldName": "name", "stringTest": "equal", "stringValue": list}]}).to_string().into_bytes()),
        ),
    };
    let response = client
        .send(method, &format!("{url}{path}"), &headers, body)
        .await
        .map_err(|source| DeepSecurityError::Http {
            list: list.clone(),
            source,
        })?;
    // An answer far beyond any list GuardDuty takes is refused before it is parsed (a hostile
    // or broken manager must not make guardform build millions of strings).
    if response.body.len() > MAX_REPLY_BYTES {
        return Err(DeepSecurityError::TooLarge {
            url,
            list,
            what: format!("{} bytes", response.body.len()),
        });
    }
    let text = String::from_utf8_lossy(&response.body).to_string();
    match response.status {
        200 => {}
        401 | 403 => {
            return Err(DeepSecurityError::Unauthorized {
                url,
                variable: source.api_key_env.clone(),
                status: response.status,
                list,
            });
        }
        404 => return Err(DeepSecurityError::NotFound { url, list }),
        status => {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(DeepSecurityError::Status {
                url,
                list,
                status,
                message: scrub(&message, &key),
            });
        }
    }
    let parse_error = |e: serde_json::Error| DeepSecurityError::Parse {
        url: url.clone(),
        list: list.clone(),
        detail: e.to_string(),
    };
    let bounded = |found: IpList| {
        if found.items.len() > MAX_ITEMS {
            Err(DeepSecurityError::TooLarge {
                url: url.clone(),
                list: list.clone(),
                what: format!("{} items", found.items.len()),
            })
        } else {
            Ok(found)
        }
    };
    if method == "GET" {
        return serde_json::from_str::<IpList>(&text)
            .map_err(parse_error)
            .and_then(bounded);
    }
    #[derive(Deserialize)]
    struct Found {
        #[serde(rename = "ipLists", default)]
        ip_lists: Vec<IpList>,
    }
    let found: Found = serde_json::from_str(&text).map_err(parse_error)?;
    let mut matching: Vec<IpList> = found
        .ip_lists
        .into_iter()
        .filter(|l| l.name == list)
        .collect();
    match matching.len() {
        0 => Err(DeepSecurityError::NotFound { url, list }),
        1 => bounded(matching.remove(0)),
        count => Err(DeepSecurityError::Ambiguous { url, list, count }),
    }
}
