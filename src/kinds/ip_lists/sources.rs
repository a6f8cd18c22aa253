//! Reads every IP list's source (inline, file, URL, S3, Deep Security) and turns it into the
//! exact file GuardDuty will read: normalised TXT, or the source as it is for other formats.
//! Every list is read; all problems are reported together.

use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::http::{HttpError, HttpsClient};
use crate::kinds::ip_lists::deep_security::{self, DeepSecurityError};
use crate::kinds::ip_lists::normalize::{self as iplist, ListKind};
use crate::kinds::ip_lists::section::{IpListSpec, ListSource, Storage};
use crate::manifest::sha256_hex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A list's content as it will be uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListContent {
    pub name: String,
    pub kind: ListKind,
    pub format: String,
    /// Where it came from, for people (never a secret).
    pub origin: String,
    /// The file GuardDuty reads.
    pub text: String,
    /// Hex SHA-256 of `text`.
    pub sha256: String,
    /// Normalisation notes and rejected lines, for the plan's notes.
    pub notes: Vec<String>,
}

impl ListContent {
    /// The content-addressed S3 key: `<prefix>/<list>/<sha256 prefix>.<ext>`, so new content
    /// always means a new location.
    pub fn key(&self, storage: &Storage) -> String {
        let slug = folder_name(&self.name);
        let extension = if self.format == "TXT" {
            "txt".to_string()
        } else {
            self.format.to_ascii_lowercase()
        };
        let file = format!("{slug}/{}.{extension}", &self.sha256[..16]);
        if storage.prefix.is_empty() {
            file
        } else {
            format!("{}/{file}", storage.prefix)
        }
    }

    /// The folder under which all versions of this list live.
    pub fn folder(&self, storage: &Storage) -> String {
        let key = self.key(storage);
        key.rsplit_once('/')
            .map(|(folder, _)| format!("{folder}/"))
            .unwrap_or_default()
    }
}

/// A list's folder name: letters, digits and `-` as they are, any other character as `_` and
/// its code in hex (`a b` → `a_20b`, `a_b` → `a_5fb`), so two names never share a folder
/// (pruning one list's old files must never touch another's) and the name needs no escaping
/// in a URL.
pub fn folder_name(name: &str) -> String {
    let mut folder = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            folder.push(c);
        } else {
            match u32::from(c) {
                code @ 0..=0xff => folder.push_str(&format!("_{code:02x}")),
                code => folder.push_str(&format!("_u{code:06x}")),
            }
        }
    }
    folder
}

/// The list name a folder name stands for (the inverse of [`folder_name`]).
pub fn name_of_folder(folder: &str) -> String {
    let mut name = String::with_capacity(folder.len());
    let mut rest = folder;
    while let Some(c) = rest.chars().next() {
        if c == '_' {
            let (skip, width) = if rest[1..].starts_with('u') {
                (2, 6)
            } else {
                (1, 2)
            };
            let decoded = rest
                .get(skip..skip + width)
                .and_then(|digits| u32::from_str_radix(digits, 16).ok())
                .and_then(char::from_u32);
            if let Some(decoded) = decoded {
                name.push(decoded);
                rest = &rest[skip + width..];
                continue;
            }
        }
        name.push(c);
        rest = &rest[c.len_utf8()..];
    }
    name
}

/// The location GuardDuty is given for an object.
pub fn location(bucket: &str, key: &str) -> String {
    format!("https://s3.amazonaws.com/{bucket}/{key}")
}

/// Why a list could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("IP list `{list}`: cannot read {path}: {detail}")]
    File {
        list: String,
        path: String,
        detail: String,
    },
    #[error("IP list `{list}`: {source}")]
    Http {
        list: String,
        #[source]
        source: HttpError,
    },
    #[error("IP list `{list}`: {url} answered HTTP {status}")]
    Status {
        list: String,
        url: String,
        status: u16,
    },
    #[error("IP list `{list}`: {source}")]
    DeepSecurity {
        list: String,
        #[source]
        source: DeepSecurityError,
    },
    #[error("IP list `{list}`: {source}")]
    S3 {
        list: String,
        #[source]
        source: AwsError,
    },
    #[error("IP list `{list}` ({origin}) is refused: {problem}")]
    Refused {
        list: String,
        origin: String,
        problem: String,
    },
    #[error("IP list `{list}` ({origin}): the source is not UTF-8 text")]
    NotText { list: String, origin: String },
}

/// All the lists' problems at once.
#[derive(Debug, thiserror::Error)]
#[error("{} IP list problem(s):\n  {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct SourceErrors(pub Vec<SourceError>);

fn resolve_path(manifest_dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        manifest_dir.join(path)
    }
}

async fn read_source(
    list: &IpListSpec,
    manifest_dir: &Path,
    aws: &Aws,
    account: &str,
) -> Result<(String, Vec<u8>), SourceError> {
    let name = list.name.clone();
    match &list.source {
        ListSource::Inline(items) => Ok(("inline".to_string(), items.join("\n").into_bytes())),
        ListSource::File(path) => {
            let resolved = resolve_path(manifest_dir, path);
            let file_error = |e: std::io::Error| SourceError::File {
                list: name.clone(),
                path: resolved.display().to_string(),
                detail: e.to_string(),
            };
            // Refused before it is read: GuardDuty would refuse it anyway.
            let size = std::fs::metadata(&resolved).map_err(file_error)?.len();
            if size > iplist::MAX_BYTES as u64 {
                return Err(too_large(&name, format!("file {path}"), size));
            }
            let bytes = std::fs::read(&resolved).map_err(file_error)?;
            Ok((format!("file {path}"), bytes))
        }
        ListSource::Url(url) => {
            let client = HttpsClient::new(None).map_err(|source| SourceError::Http {
                list: name.clone(),
                source,
            })?;
            let response = client
                .send(
                    "GET",
                    url,
                    &[("accept", "text/plain, */*".to_string())],
                    None,
                )
                .await
                .map_err(|source| SourceError::Http {
                    list: name.clone(),
                    source,
                })?;
            if response.status != 200 {
                return Err(SourceError::Status {
                    list: name,
                    url: url.clone(),
                    status: response.status,
                });
            }
            Ok((url.clone(), response.body.to_vec()))
        }
        ListSource::S3 { bucket, key } => {
            let object = aws
                .s3(account, &aws.home_region())
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| SourceError::S3 {
                    list: name.clone(),
                    source: AwsError::new(format!("reading s3://{bucket}/{key} as {account}"), e),
                })?;
            let size =
                u64::try_from(object.content_length().unwrap_or_default()).unwrap_or_default();
            if size > iplist::MAX_BYTES as u64 {
                return Err(too_large(&name, format!("s3://{bucket}/{key}"), size));
            }
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| SourceError::S3 {
                    list: name.clone(),
                    source: AwsError::message(
                        format!("reading s3://{bucket}/{key}"),
                        e.to_string(),
                    ),
                })?
                .into_bytes();
            Ok((format!("s3://{bucket}/{key}"), bytes.to_vec()))
        }
        ListSource::DeepSecurity(source) => {
            let ca_file = source
                .ca_file
                .as_ref()
                .map(|p| resolve_path(manifest_dir, p));
            let client = HttpsClient::new(ca_file.as_deref()).map_err(|e| SourceError::Http {
                list: name.clone(),
                source: e,
            })?;
            let fetched = deep_security::fetch(source, &client).await.map_err(|e| {
                SourceError::DeepSecurity {
                    list: name.clone(),
                    source: e,
                }
            })?;
            Ok((
                format!(
                    "Deep Security {} IP list `{}` (ID {})",
                    source.url, fetched.name, fetched.id
                ),
                fetched.items.join("\n").into_bytes(),
            ))
        }
    }
}

fn too_large(list: &str, origin: String, bytes: u64) -> SourceError {
    SourceError::Refused {
        list: list.to_string(),
        origin,
        problem: iplist::ListProblem::TooLarge {
            bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
        }
        .to_string(),
    }
}

/// Turns raw source bytes into the uploaded content (pure; unit-tested).
pub fn prepare(
    list: &IpListSpec,
    origin: String,
    bytes: Vec<u8>,
) -> Result<ListContent, SourceError> {
    let mut notes = Vec::new();
    let text = if list.format == "TXT" {
        let raw = String::from_utf8(bytes).map_err(|_| SourceError::NotText {
            list: list.name.clone(),
            origin: origin.clone(),
        })?;
        let normalized = if list.kind.is_entity() {
            iplist::normalize_entities(&raw)
        } else {
            iplist::normalize(&raw)
        };
        for rejected in &normalized.rejected {
            notes.push(format!(
                "IP list `{}`: line {} of {origin} rejected: `{}`: {}",
                list.name, rejected.line, rejected.text, rejected.reason
            ));
        }
        for note in &normalized.notes {
            notes.push(format!("IP list `{}` ({origin}): {note}", list.name));
        }
        if let Some(problem) = iplist::check(&normalized, list.kind, list.allow_broad).first() {
            return Err(SourceError::Refused {
                list: list.name.clone(),
                origin,
                problem: problem.to_string(),
            });
        }
        normalized.text()
    } else {
        if bytes.len() > iplist::MAX_BYTES {
            return Err(SourceError::Refused {
                list: list.name.clone(),
                origin,
                problem: iplist::ListProblem::TooLarge { bytes: bytes.len() }.to_string(),
            });
        }
        String::from_utf8(bytes).map_err(|_| SourceError::NotText {
            list: list.name.clone(),
            origin: origin.clone(),
        })?
    };
    Ok(ListContent {
        name: list.name.clone(),
        kind: list.kind,
        format: list.format.clone(),
        origin,
        sha256: sha256_hex(text.as_bytes()),
        text,
        notes,
    })
}

/// Reads and prepares every list, concurrently; reports every failure.
pub async fn resolve(
    lists: &[IpListSpec],
    manifest_dir: &Path,
    aws: &Aws,
    account: &str,
) -> Result<Vec<ListContent>, SourceErrors> {
    let reads = lists.iter().map(|list| async move {
        let (origin, bytes) = read_source(list, manifest_dir, aws, account).await?;
        prepare(list, origin, bytes)
    });
    let results = futures_join_all(reads).await;
    let mut contents = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(content) => contents.push(content),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(contents)
    } else {
        Err(SourceErrors(errors))
    }
}

/// Runs futures concurrently on the current task, keeping their order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ListKind, format: &str) -> IpListSpec {
        IpListSpec {
            name: "office egress".into(),
            kind,
            source: ListSource::Inline(vec![]),
            format: format.into(),
            allow_broad: false,
            adopt: false,
        }
    }

    #[test]
    fn txt_is_normalised_and_content_addressed() {
        let content = prepare(
            &spec(ListKind::Trusted, "TXT"),
            "inline".into(),
            b"203.0.113.9\n10.0.0.1\nbogus\n".to_vec(),
        )
        .unwrap();
        assert_eq!(content.text, "203.0.113.9\n");
        assert_eq!(content.notes.len(), 2, "{:?}", content.notes);
        assert!(content.notes[0].contains("line 3 of inline rejected: `bogus`"));
        let storage = Storage {
            bucket: "b".into(),
            prefix: "guardform".into(),
            region: None,
        };
        assert_eq!(
            content.key(&storage),
            format!("guardform/office_20egress/{}.txt", &content.sha256[..16])
        );
        assert_eq!(content.folder(&storage), "guardform/office_20egress/");
    }

    #[test]
    fn different_names_never_share_a_folder() {
        let names = [
            "a b", "a-b", "a_b", "a_20b", "a", "ab", "a_5fb", "A b", "a\u{20b}", "é x",
        ];
        let folders: Vec<String> = names
            .iter()
            .map(|n| format!("{}/", folder_name(n)))
            .collect();
        for (i, a) in folders.iter().enumerate() {
            for (j, b) in folders.iter().enumerate() {
                assert!(
                    i == j || !b.starts_with(a.as_str()),
                    "`{}` and `{}` share {a}",
                    names[i],
                    names[j]
                );
            }
        }
        assert_eq!(folder_name("office-egress"), "office-egress");
        for name in names {
            assert_eq!(name_of_folder(&folder_name(name)), name);
        }
    }

    #[test]
    fn broad_trusted_list_is_refused() {
        let error = prepare(
            &spec(ListKind::Trusted, "TXT"),
            "inline".into(),
            b"0.0.0.0/0\n".to_vec(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("broader than /8"), "{error}");
    }

    #[test]
    fn other_formats_pass_through() {
        let content = prepare(
            &spec(ListKind::Threat, "STIX"),
            "file x".into(),
            b"<stix/>".to_vec(),
        )
        .unwrap();
        assert_eq!(content.text, "<stix/>");
    }
}
