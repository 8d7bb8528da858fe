//! The DNS resolver: the system's (/etc/resolv.conf) or the `[dns] nameservers` of the config.

use carrier_config::Config;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use std::time::Duration;

/// Builds the resolver. Must run inside the tokio runtime.
pub fn resolver(cfg: &Config) -> Result<TokioResolver, String> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if cfg.dns.nameservers.is_empty() {
        TokioResolver::builder(provider).map_err(|e| {
            format!(
                "cannot read the system resolver configuration (/etc/resolv.conf): {e}; fix it or set \
                 `nameservers` under [dns] in carrier.toml"
            )
        })?
    } else {
        let servers = cfg
            .dns
            .nameservers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let mut b = TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider);
        *b.options_mut() = ResolverOpts::default();
        b
    };
    let opts = builder.options_mut();
    // Mail routing asks for exact names: no search domains appended to `example.com`.
    opts.ndots = 0;
    opts.timeout = Duration::from_secs(5);
    opts.attempts = 2;
    builder.build().map_err(|e| format!("cannot start the DNS resolver: {e}"))
}
