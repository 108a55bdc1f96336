//! The local server's enrollment link key, kept in its data folder so that links survive
//! restarts (in AWS the key is an SSM SecureString).

use std::io::{self, Write};
use std::path::Path;

use provisioning::enrollment::link::LinkKey;

/// The name of the local key file in the data folder.
pub const KEY_FILE: &str = "enrollment.key";

/// The local server's key: read from `<dir>/enrollment.key` (hex), or generated and
/// stored there on first use (readable by the owner only), so links survive restarts.
pub fn load_or_create_key(dir: &Path) -> io::Result<LinkKey> {
    let path = dir.join(KEY_FILE);
    let in_file = |e: io::Error, what: &str| io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()));
    let read = || -> io::Result<LinkKey> {
        let text = std::fs::read_to_string(&path).map_err(|e| in_file(e, "read"))?;
        LinkKey::from_hex(&text).map_err(|e| io::Error::other(format!("{}: {}", path.display(), e.detail())))
    };
    if path.exists() {
        return read();
    }
    std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display())))?;
    let key = LinkKey::generate().map_err(|e| io::Error::other(e.detail()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(key.to_hex().as_bytes()).and_then(|()| file.sync_all()).map_err(|e| in_file(e, "write"))?;
            Ok(key)
        }
        // Another process created it first: use theirs, so both sign alike.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(),
        Err(e) => Err(in_file(e, "create")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioning::enrollment::link::MIN_KEY_BYTES;

    #[test]
    fn the_local_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let first = load_or_create_key(dir.path()).expect("created");
        let second = load_or_create_key(dir.path()).expect("loaded");
        assert_eq!(first.to_hex(), second.to_hex());
        assert_eq!(first.to_hex().len(), 2 * MIN_KEY_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the key");
        }
    }
}
