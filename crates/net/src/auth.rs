//! API credentials: loaded from the environment or a key file, never logged, never printed.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use perpspread_core::{Venue, VenueMap};
use sha2::Sha256;

/// A secret string whose `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One venue's API key (read-only permissions are enough for fee rates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub api_key: Secret,
    pub secret: Secret,
    /// For venues that issue one with the key (OKX).
    pub passphrase: Option<Secret>,
}

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read key file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("invalid key file {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileVenue {
    api_key: String,
    secret: String,
    #[serde(default)]
    passphrase: Option<String>,
}

/// A key file: one `[<venue>]` table per venue.
type KeyFile = std::collections::BTreeMap<String, KeyFileVenue>;

/// Credentials per venue, any of which may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenueCredentials(VenueMap<Option<Credentials>>);

impl VenueCredentials {
    /// Reads `PERPSPREAD_<VENUE>_API_KEY` / `_API_SECRET` / `_API_PASSPHRASE` (e.g. `PERPSPREAD_OKX_API_KEY`)
    /// through `var`, then a TOML key file (`[okx] api_key, secret, passphrase`, `[binance]`/`[bybit] api_key, secret`)
    /// for venues the environment did not provide.
    pub fn load(var: impl Fn(&str) -> Option<String>, file: Option<&Path>) -> Result<Self, CredentialsError> {
        let env = |venue: Venue| {
            let prefix = format!("PERPSPREAD_{}", venue.as_str().to_ascii_uppercase());
            let key = var(&format!("{prefix}_API_KEY")).filter(|v| !v.is_empty())?;
            let secret = var(&format!("{prefix}_API_SECRET")).filter(|v| !v.is_empty())?;
            let passphrase = var(&format!("{prefix}_API_PASSPHRASE")).filter(|v| !v.is_empty());
            Some(Credentials { api_key: Secret(key), secret: Secret(secret), passphrase: passphrase.map(Secret) })
        };
        let mut loaded = VenueCredentials(VenueMap::from_fn(env));
        if let Some(path) = file {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|error| CredentialsError::Read { path: name.clone(), error })?;
            if let Some(mode) = loose_permissions(path) {
                tracing::warn!(
                    "key file {name} is readable by others (mode {mode:o}): restrict it with `chmod 600 {name}`"
                );
            }
            let parsed: KeyFile = toml::from_str(&text)
                .map_err(|e| CredentialsError::Invalid { path: name.clone(), message: e.message().to_owned() })?;
            for (section, keys) in parsed {
                let venue = section.parse::<Venue>().map_err(|message| CredentialsError::Invalid {
                    path: name.clone(),
                    message: format!("[{section}]: {message}"),
                })?;
                let slot = &mut loaded.0[venue];
                if slot.is_none() {
                    *slot = Some(Credentials {
                        api_key: Secret(keys.api_key),
                        secret: Secret(keys.secret),
                        passphrase: keys.passphrase.map(Secret),
                    });
                }
            }
        }
        Ok(loaded)
    }

    /// The credentials of `venue`, if any.
    pub fn get(&self, venue: Venue) -> Option<&Credentials> {
        self.0[venue].as_ref()
    }
}

/// The file's permission bits when group or others may read or write it (like ssh, which refuses such keys).
pub(crate) fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// HMAC-SHA256 of `message` keyed by `secret`.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_noticed() {
        use std::os::unix::fs::PermissionsExt;
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(loose_permissions(file.path()), Some(0o666));
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(loose_permissions(file.path()), None);
    }

    #[test]
    fn secrets_never_print() {
        let credentials = Credentials {
            api_key: Secret::new("my-key"),
            secret: Secret::new("my-secret"),
            passphrase: Some(Secret::new("my-pass")),
        };
        let shown = format!("{credentials:?} {}", credentials.secret);
        assert!(!shown.contains("my-"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn env_first_then_file() {
        let mut file = tempfile_path();
        writeln!(file.1, "[okx]\napi_key = \"file-key\"\nsecret = \"s\"\npassphrase = \"p\"\n[binance]\napi_key = \"bk\"\nsecret = \"bs\"").unwrap();
        let env = |name: &str| match name {
            "PERPSPREAD_BINANCE_API_KEY" => Some("env-key".to_owned()),
            "PERPSPREAD_BINANCE_API_SECRET" => Some("env-secret".to_owned()),
            _ => None,
        };
        let loaded = VenueCredentials::load(env, Some(&file.0)).unwrap();
        assert_eq!(loaded.get(Venue::Binance).unwrap().api_key.expose(), "env-key");
        let okx = loaded.get(Venue::Okx).unwrap().clone();
        assert_eq!((okx.api_key.expose(), okx.passphrase.unwrap().expose()), ("file-key", "p"));
        std::fs::write(&file.0, "[kraken]\napi_key = \"k\"\nsecret = \"s\"").unwrap();
        let error = VenueCredentials::load(|_| None, Some(&file.0)).unwrap_err().to_string();
        assert!(error.contains("[kraken]") && error.contains("unknown venue"), "{error}");
        assert!(VenueCredentials::load(|_| None, Some(Path::new("/nonexistent/keys.toml"))).is_err());
        std::fs::write(&file.0, "[okx]\napi_key = 1").unwrap();
        let error = VenueCredentials::load(|_| None, Some(&file.0)).unwrap_err().to_string();
        assert!(error.starts_with("invalid key file"), "{error}");
    }

    fn tempfile_path() -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("perpspread-keys-{}.toml", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        (path, file)
    }

    #[test]
    fn hmac_matches_binance_documented_example() {
        // From Binance's API documentation ("SIGNED Endpoint Examples").
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let mac = hmac_sha256(secret, query);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    }
}
