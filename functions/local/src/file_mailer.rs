//! The local server's mailer adapter: enrollment emails as `.eml` files.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use provisioning::enrollment::mailer::{Email, Mailer, SendError};
use provisioning::storage::ids::new_id;

/// The local server's mailer: each email becomes an RFC 5322 `.eml` file
/// (multipart/alternative, text and HTML) in a folder, which any mail client opens; the
/// file is readable by its owner only (mode 0600, the folder 0700).
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    sender: String,
}

impl FileMailer {
    /// Writes into `dir` (created if missing) as `sender`.
    pub fn new(dir: impl Into<PathBuf>, sender: impl Into<String>) -> Self {
        FileMailer { dir: dir.into(), sender: sender.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Mailer for FileMailer {
    fn send(&self, email: &Email) -> impl Future<Output = Result<String, SendError>> + Send {
        // Small synchronous writes: the local server's mailer loop is the only caller,
        // and an .eml file is a few kilobytes.
        let result = (|| {
            // Owner-only, folder and files: an email's link enrolls a device for its user.
            let mut folder = std::fs::DirBuilder::new();
            folder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
            folder.create(&self.dir).map_err(|e| SendError::Retryable(format!("cannot create {}: {e}", self.dir.display())))?;
            let id = new_id();
            let now = time::OffsetDateTime::now_utc();
            let message = to_eml(&self.sender, email, &format!("<{id}@scim.local>"), now);
            let name = format!("{}-{id}.eml", now.unix_timestamp());
            // Written under a temporary name, then renamed: a reader never sees half a file.
            let temporary = self.dir.join(format!(".{name}.tmp"));
            let write = |path: &Path| -> std::io::Result<()> {
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(message.as_bytes())?;
                file.sync_all()
            };
            write(&temporary)
                .and_then(|()| std::fs::rename(&temporary, self.dir.join(&name)))
                .map_err(|e| SendError::Retryable(format!("cannot write {name} in {}: {e}", self.dir.display())))?;
            Ok(id)
        })();
        std::future::ready(result)
    }
}

/// The email as an RFC 5322 message: headers, then a multipart/alternative body with the
/// text part first and the HTML part last (the preferred one, RFC 2046). Bodies are
/// base64 (no line-length or character limits); the subject is an RFC 2047 encoded word.
pub fn to_eml(sender: &str, email: &Email, message_id: &str, date: time::OffsetDateTime) -> String {
    let boundary = format!("=_alt_{}", new_id().replace('-', ""));
    let date = date.format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
    let one_line = |value: &str| value.replace(['\r', '\n'], " ");
    let mut out = String::new();
    for (name, value) in [
        ("From", one_line(sender)),
        ("To", one_line(&email.to)),
        ("Subject", format!("=?UTF-8?B?{}?=", STANDARD.encode(one_line(&email.subject)))),
        ("Date", date),
        ("Message-ID", message_id.to_string()),
        ("MIME-Version", "1.0".to_string()),
        ("Content-Type", format!("multipart/alternative; boundary=\"{boundary}\"")),
    ] {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    for (content_type, body) in [("text/plain", &email.text), ("text/html", &email.html)] {
        out.push_str(&format!("--{boundary}\r\nContent-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
        let encoded = STANDARD.encode(body.as_bytes());
        // Base64 lines of 76 characters (RFC 2045); the encoding is ASCII.
        for line in encoded.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eml_is_multipart_alternative_with_both_parts() {
        let email = Email { to: "a@x.test".into(), subject: "Héllo".into(), text: "plain ✓".into(), html: "<p>html</p>".into() };
        let eml = to_eml("MFA <no-reply@x.test>", &email, "<1@scim.local>", time::OffsetDateTime::UNIX_EPOCH);
        assert!(eml.starts_with("From: MFA <no-reply@x.test>\r\nTo: a@x.test\r\n"));
        assert!(eml.contains(&format!("Subject: =?UTF-8?B?{}?=\r\n", STANDARD.encode("Héllo"))));
        assert!(eml.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
        let boundary = eml.split("boundary=\"").nth(1).and_then(|s| s.split('"').next()).expect("boundary");
        let parts: Vec<&str> = eml.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "preamble, text, html, end");
        assert!(parts[1].contains("text/plain") && parts[2].contains("text/html") && parts[3].starts_with("--"));
        let body = |part: &str| {
            let encoded: String = part.split("\r\n\r\n").nth(1).expect("body").split_whitespace().collect();
            String::from_utf8(STANDARD.decode(encoded).expect("base64")).expect("utf-8")
        };
        assert_eq!((body(parts[1]).as_str(), body(parts[2]).as_str()), ("plain ✓", "<p>html</p>"));
        assert!(eml.lines().all(|line| line.len() <= 998));
    }
}
