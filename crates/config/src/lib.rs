//! carrier's configuration: one TOML file (docs/config.md lists every key), parsed with serde and
//! validated at start. Every error names the file, the line and the key, and says
//! what is expected.

mod error;
mod model;
mod raw;
mod values;

pub use error::ConfigError;
pub use model::{
    Antispam, AuthSource, Authentication, Config, Delivery, Disposition, Dkim, DkimKey, Dns, DnsList, Imap, Listen,
    Log, LogFormat, LogTarget, Mailbox, Milter, MilterDefault, MilterSocket, Pop3, Relay, SYSTEM_CONFIG, Sieve,
    Smarthost, Smtp, SpamRule, Submission, Tls,
};
pub use values::{log_format, login_name, size};

use std::path::{Path, PathBuf};

impl Config {
    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: Some(path.to_path_buf()),
            line: None,
            key: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates TOML text; `path` is used in messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        raw::parse(text, path)
    }
}

/// The file the configuration is (or would be) read from: `-c FILE`, else
/// `$CARRIER_CONFIG`, else /etc/carrier/carrier.toml. For `carrier init`, which writes it.
pub fn config_path(cli: Option<&Path>) -> PathBuf {
    cli.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CARRIER_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(SYSTEM_CONFIG))
}

/// Finds the configuration (docs/config.md): `-c FILE`, else `$CARRIER_CONFIG`, else
/// /etc/carrier/carrier.toml, else development defaults. A file that was named but does
/// not exist is an error, not a silent fallback.
pub fn locate(cli: Option<&Path>) -> Result<Config, ConfigError> {
    let named = cli.map(Path::to_path_buf).or_else(|| std::env::var_os("CARRIER_CONFIG").map(PathBuf::from));
    if let Some(path) = named {
        if !path.exists() {
            return Err(ConfigError {
                path: Some(path),
                line: None,
                key: None,
                message:
                    "the configuration file does not exist; create it (see docs/config.md) or give another with -c"
                        .into(),
            });
        }
        return Config::load(&path);
    }
    let system = Path::new(SYSTEM_CONFIG);
    if system.exists() { Config::load(system) } else { Ok(Config::development()) }
}

/// As [`locate`], but without the development defaults: the commands that act on an
/// installed server (users, queue, status, sendmail) must not quietly work on `./carrier-data`
/// when the real configuration is elsewhere.
pub fn locate_file(cli: Option<&Path>) -> Result<Config, ConfigError> {
    let cfg = locate(cli)?;
    if cfg.source.is_none() {
        return Err(ConfigError {
            path: None,
            line: None,
            key: None,
            message: format!(
                "no configuration file: no -c was given, CARRIER_CONFIG is not set and {SYSTEM_CONFIG} does not exist; \
                 name yours with -c FILE (or CARRIER_CONFIG=FILE), or write one with `carrier init`"
            ),
        });
    }
    Ok(cfg)
}
