//! EAA API credentials and where they come from: an integration stores only a reference;
//! the function resolves it (SSM in AWS, `aws_adapters::ssm`; files for the local server;
//! memory in tests). Every source holds the same JSON document, so one parser serves all.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;

use provisioning::EaaError;
use serde::Deserialize;

use crate::edgegrid::EdgeGridCredentials;

/// The API credentials of one EAA account (from the EAA console's API client).
#[derive(Clone, PartialEq, Eq)]
pub struct EaaCredentials {
    /// `akab-....luna.akamaiapis.net` (or `127.0.0.1:port` for the stand-in).
    pub host: String,
    pub edgegrid: EdgeGridCredentials,
    pub contract_id: String,
}

impl std::fmt::Debug for EaaCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EaaCredentials").field("host", &self.host).field("contract_id", &self.contract_id).finish_non_exhaustive()
    }
}

/// Resolves the opaque credentials reference an EAA integration stores (on AWS: a
/// Secrets Manager secret or SSM SecureString parameter, read by the sync function).
pub trait EaaCredentialsSource: Send + Sync {
    fn credentials(&self, reference: &str) -> impl Future<Output = Result<EaaCredentials, EaaError>> + Send;
}

/// Credentials held in memory, by reference (tests).
#[derive(Debug, Default, Clone)]
pub struct StaticCredentials(pub HashMap<String, EaaCredentials>);

impl EaaCredentialsSource for StaticCredentials {
    async fn credentials(&self, reference: &str) -> Result<EaaCredentials, EaaError> {
        self.0.get(reference).cloned().ok_or_else(|| EaaError::NoCredentials(nothing_stored(reference)))
    }
}

/// The [`EaaError::NoCredentials`] detail: the reference as the admin gave it (`{tenant}/`
/// is the source's own prefix), never where the source looked.
pub fn nothing_stored(reference: &str) -> String {
    let named = reference.split_once('/').map_or(reference, |(_, name)| name);
    format!("nothing is stored under the credentials reference {named:?}")
}

/// The source an invalid document is named by in errors: its reference, never a path.
pub fn stored_under(reference: &str) -> String {
    let named = reference.split_once('/').map_or(reference, |(_, name)| name);
    format!("the document stored under the credentials reference {named:?}")
}

/// The credentials document: `{"host", "clientToken", "clientSecret", "accessToken",
/// "contractId"}` (the EAA console's API client, plus the contract).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsJson {
    host: String,
    client_token: String,
    client_secret: String,
    access_token: String,
    contract_id: String,
}

impl EaaCredentials {
    /// Parses the credentials document; errors name `source`, never the content.
    pub fn from_json(source: &str, text: &str) -> Result<Self, EaaError> {
        let parsed: CredentialsJson = serde_json::from_str(text).map_err(|e| {
            EaaError::Invalid(format!(
                "{source} is not EAA credentials JSON (host, clientToken, clientSecret, accessToken, contractId): {}",
                json_problem(&e)
            ))
        })?;
        Ok(EaaCredentials {
            host: parsed.host,
            edgegrid: EdgeGridCredentials {
                client_token: parsed.client_token,
                client_secret: parsed.client_secret,
                access_token: parsed.access_token,
            },
            contract_id: parsed.contract_id,
        })
    }
}

/// A JSON error's category, without the line and column detail that could echo the secret.
fn json_problem(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "a field is missing or of the wrong type",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// Credentials documents as files, `{dir}/{reference}.json` (the local server: its data
/// directory's `eaa-credentials/`). References with `..` or a leading `/` are refused.
#[derive(Debug, Clone)]
pub struct FileCredentials {
    dir: PathBuf,
}

impl FileCredentials {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileCredentials { dir: dir.into() }
    }

    /// The file a reference names.
    pub fn path(&self, reference: &str) -> Option<PathBuf> {
        let safe =
            !reference.is_empty() && !reference.starts_with('/') && reference.split('/').all(|part| !part.is_empty() && part != "..");
        safe.then(|| self.dir.join(format!("{reference}.json")))
    }
}

impl EaaCredentialsSource for FileCredentials {
    async fn credentials(&self, reference: &str) -> Result<EaaCredentials, EaaError> {
        let path = self.path(reference).ok_or_else(|| EaaError::Invalid(format!("{reference:?} is not a credentials reference")))?;
        // Answers carry the reference only: the file's path is the server's business (an
        // unreadable file is `Unavailable`, whose detail goes to the log, not the answer).
        let text = tokio::fs::read_to_string(&path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EaaError::NoCredentials(nothing_stored(reference)),
            _ => EaaError::Unavailable(format!("cannot read the EAA credentials file {}: {e}", path.display())),
        })?;
        EaaCredentials::from_json(&stored_under(reference), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_stay_inside_the_directory() {
        let files = FileCredentials::new("/data/eaa-credentials");
        assert_eq!(files.path("t1/prod"), Some(PathBuf::from("/data/eaa-credentials/t1/prod.json")));
        for bad in ["", "/etc/passwd", "t1/../t2/prod", "..", "t1//prod"] {
            assert_eq!(files.path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_errors_never_echo_the_document() {
        let secret = r#"{"host": "h", "clientToken": "SECRET-VALUE"}"#;
        let Err(EaaError::Invalid(detail)) = EaaCredentials::from_json("the file x", secret) else { panic!("must fail") };
        assert!(!detail.contains("SECRET"), "{detail}");
        assert!(detail.contains("the file x"));
        let good = r#"{"host":"h","clientToken":"a","clientSecret":"b","accessToken":"c","contractId":"C-1"}"#;
        let parsed = EaaCredentials::from_json("x", good).unwrap();
        assert_eq!((parsed.host.as_str(), parsed.contract_id.as_str(), parsed.edgegrid.access_token.as_str()), ("h", "C-1", "c"));
    }
}
