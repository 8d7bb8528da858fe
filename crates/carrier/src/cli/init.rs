//! `carrier init --domain example.com`: a working first set-up in one command: a commented
//! configuration, the postmaster account, a self-signed certificate, the pickup directory
//! and a systemd unit; then what to do next.

use super::records;
use crate::privileges;
use carrier_accounts::passwd;
use carrier_accounts::{UserDb, generate_password};
use carrier_config::Config;
use carrier_mta::handoff::pickup;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `carrier init` options.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// The mail domain (repeat for more); the first gets the postmaster account.
    #[arg(long = "domain", required = true, value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// This server's fully qualified name [default: the system's, if qualified, else mail.DOMAIN].
    #[arg(long)]
    pub hostname: Option<String>,
    /// Where queue, mailboxes and keys live.
    #[arg(long, default_value = "/var/lib/carrier")]
    pub data_dir: PathBuf,
    /// Where to write the systemd unit.
    #[arg(long, default_value = "/etc/systemd/system/carrier.service")]
    pub systemd_unit: PathBuf,
    /// Replace an existing systemd unit (a configuration is never overwritten).
    #[arg(long)]
    pub force: bool,
    /// The unprivileged system account the daemon runs as; made when missing and init runs as root.
    #[arg(long, default_value = "carrier", value_name = "NAME")]
    pub user: String,
}

/// The unprivileged account the daemon runs as, and how init came by it.
enum ServiceUser {
    /// It was there already.
    Exists(String),
    /// init made it (as root) with this command.
    Created(String, String),
    /// It is missing and init is not root: the command that makes it.
    Missing(String, String),
}

impl ServiceUser {
    /// The name for `user =` in the configuration, when the account exists.
    fn name(&self) -> Option<&str> {
        match self {
            ServiceUser::Exists(name) | ServiceUser::Created(name, _) => Some(name),
            ServiceUser::Missing(..) => None,
        }
    }
}

/// Finds the service account, or makes it as Debian packages make theirs: a system account
/// with its own group, no home directory made, no login shell (issue 15.3).
fn service_user(name: &str, data_dir: &Path) -> Result<ServiceUser, String> {
    let name = carrier_config::login_name(name).map_err(|e| format!("--user: {e}"))?;
    if passwd::by_name(&name).is_some() {
        return Ok(ServiceUser::Exists(name));
    }
    let home = data_dir.display().to_string();
    let args = ["--system", "--user-group", "--no-create-home", "--home-dir", &home, "--shell", "/usr/sbin/nologin"];
    let command = format!("useradd {} {name}", args.join(" "));
    if !privileges::is_root() {
        return Ok(ServiceUser::Missing(name, command));
    }
    let out = std::process::Command::new("useradd")
        .args(args)
        .arg(&name)
        .output()
        .map_err(|e| format!("cannot run `{command}` to make the service account: {e}"))?;
    if !out.status.success() || passwd::by_name(&name).is_none() {
        return Err(format!(
            "`{command}` failed ({}): {}; make the account yourself, or name an existing one with --user",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(ServiceUser::Created(name, command))
}

/// Writes everything; `config` is where the configuration goes.
pub fn run(config: &Path, opts: &Options) -> Result<(), String> {
    // systemd starts services in /, so the unit and the next steps need the absolute path.
    let config = &std::path::absolute(config).map_err(|e| format!("{}: {e}", config.display()))?;
    if config.exists() {
        return Err(format!(
            "{} already exists; carrier init does not overwrite a configuration (move it away first, or edit it)",
            config.display()
        ));
    }
    if opts.systemd_unit.exists() && !opts.force {
        return Err(format!(
            "{} already exists; carrier init does not replace it unless asked: add --force, or give another path \
             with --systemd-unit",
            opts.systemd_unit.display()
        ));
    }
    for d in &opts.domains {
        if !carrier_accounts::address::valid_domain(d) || !d.contains('.') {
            return Err(format!("--domain {d:?} is not a domain name such as example.com"));
        }
    }
    let domain = opts.domains[0].to_ascii_lowercase();
    let hostname = match &opts.hostname {
        Some(h) => h.clone(),
        None => default_hostname(&domain),
    };
    let data_dir = std::path::absolute(&opts.data_dir).map_err(|e| format!("{}: {e}", opts.data_dir.display()))?;
    let user = service_user(&opts.user, &data_dir)?;
    let text = config_text(&hostname, &opts.domains, &data_dir, &user);
    // The file must load before it is written: init never leaves a configuration that does not.
    let cfg = Config::parse(&text, config).map_err(|e| e.to_string())?;
    fs::create_dir_all(&cfg.data_dir).map_err(|e| format!("cannot create {}: {e}", cfg.data_dir.display()))?;
    pickup::create(&cfg.data_dir).map_err(|e| format!("cannot create the pickup directory: {e}"))?;
    let (_, source) = carrier_tls::server_config(&cfg.hostname, &cfg.data_dir, None).map_err(|e| e.to_string())?;
    let password = postmaster(&cfg, &format!("postmaster@{domain}"))?;
    carrier_mailauth::keys::ensure(&cfg, std::time::SystemTime::now()).map_err(|e| format!("DKIM keys: {e}"))?;
    let owned = match privileges::target(&cfg)? {
        Some(target) => privileges::own_data_dir(&cfg.data_dir, &target).map(|()| true)?,
        None => false,
    };
    write_new(config, text.as_bytes(), 0o644, false)?;
    let unit = unit_text(config, &cfg);
    write_new(&opts.systemd_unit, unit.as_bytes(), 0o644, opts.force)?;
    let done = Done { config, unit: &opts.systemd_unit, domain: &domain, password, source, user, owned };
    print_next_steps(&cfg, &done);
    // The records to publish, as `carrier dns-records` prints them: the first thing to do next.
    println!();
    records::print(&cfg)
}

fn default_hostname(domain: &str) -> String {
    let system = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_ascii_lowercase();
    if system.ends_with(&format!(".{domain}")) { system } else { format!("mail.{domain}") }
}

/// Creates the account, or says it is there already (init after a half-finished attempt).
fn postmaster(cfg: &Config, address: &str) -> Result<Option<String>, String> {
    let mut users = UserDb::open(&cfg.data_dir).map_err(|e| format!("cannot open the user database: {e}"))?;
    if users.contains(address) {
        return Ok(None);
    }
    let password = generate_password();
    users.add(address, &password).map_err(|e| e.to_string())?;
    Ok(Some(password))
}

/// Writes a file that must not exist yet (unless `replace`), via a temporary file and a rename.
fn write_new(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<(), String> {
    if path.exists() && !replace {
        return Err(format!("{} already exists; it was left as it is", path.display()));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let tmp = path.with_extension("tmp-init");
    let result = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

fn config_text(hostname: &str, domains: &[String], data_dir: &Path, user: &ServiceUser) -> String {
    let domains = domains.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(", ");
    let user = match user {
        ServiceUser::Exists(name) | ServiceUser::Created(name, _) => {
            format!("user = \"{name}\"          # the daemon runs as this account (see the systemd unit)")
        }
        ServiceUser::Missing(name, command) => {
            format!("# user = \"{name}\"        # make it ({command}), chown -R {name}: data_dir, then uncomment")
        }
    };
    format!(
        r#"# carrier configuration, written by `carrier init`. Every key: docs/config.md.
# After a change: `carrier check`, then `systemctl restart carrier`.

hostname = "{hostname}"     # this server's name: greeting, Received:, the MX target
data_dir = "{data_dir}"     # queue, mailboxes, accounts, generated certificate
domains = [{domains}]       # mail for these domains is delivered here
# aliases = "/etc/aliases"  # /etc/aliases syntax; re-read when it changes
{user}
# auth = "system"           # log in with the host's accounts instead of `carrier user add`

[listen]
smtp = ["0.0.0.0:25", "[::]:25"]            # mail from other servers
submission = ["0.0.0.0:587", "[::]:587"]    # mail clients: STARTTLS, then login
smtps = ["0.0.0.0:465", "[::]:465"]         # mail clients: TLS from the start
# Reading mail (what Dovecot did): uncomment the ports mail clients should use.
# imaps = ["0.0.0.0:993", "[::]:993"]       # IMAP over TLS
# imap = ["0.0.0.0:143", "[::]:143"]        # IMAP, STARTTLS before login
# pop3s = ["0.0.0.0:995", "[::]:995"]       # POP3 over TLS
# pop3 = ["0.0.0.0:110", "[::]:110"]        # POP3, STLS before login
# managesieve = ["0.0.0.0:4190", "[::]:4190"]  # users edit their mail rules (Sieve)

# [tls]                     # absent: the self-signed certificate in data_dir/tls
# cert = "/etc/letsencrypt/live/{hostname}/fullchain.pem"
# key = "/etc/letsencrypt/live/{hostname}/privkey.pem"

[relay]
networks = ["127.0.0.0/8", "::1/128"]       # may send anywhere without logging in
# smarthost = "smtp.provider.net:587"       # send everything through your provider
# user = "account"
# password = "secret"
"#,
        data_dir = data_dir.display(),
    )
}

/// The unit. With `user` set the daemon is started as that account, with only the
/// capability to bind ports below 1024 (25, 465, 587, 993, 995) and nothing it could gain
/// back; without one it is started as root, binds, and stays root (`serve` warns). Either way
/// it may write only `data_dir` and has a descriptor per connection allowed.
fn unit_text(config: &Path, cfg: &Config) -> String {
    let exe = exe_name();
    // Every connection is a descriptor; keep some for the spool, mailboxes and the resolver.
    let files = cfg.smtp.max_connections + cfg.pop3.max_connections + cfg.imap.max_connections + 1024;
    let who = match &cfg.user {
        Some(user) => format!(
            "# Runs as {user} from the start: the one capability kept is binding ports below 1024.\n\
             User={user}\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n\
             # With auth = \"system\" it reads /etc/shadow through the file's group:\n\
             # SupplementaryGroups=shadow\n"
        ),
        None => "# Starts as root to bind ports 25/465/587 and stays root: set `user` in the configuration,\n\
                 # and User=, AmbientCapabilities=CAP_NET_BIND_SERVICE, CapabilityBoundingSet=CAP_NET_BIND_SERVICE here.\n"
            .to_string(),
    };
    format!(
        "# Written by `carrier init`.\n[Unit]\nDescription=carrier mail server\nAfter=network-online.target\nWants=network-online.target\n\n\
         [Service]\n{who}\
         ExecStart={exe} -c {config} serve\nExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\nRestartSec=5\n\
         LimitNOFILE={files}\n\
         # Hardening: nothing but data_dir is written; no privilege is gained at run time.\n\
         NoNewPrivileges=yes\nProtectSystem=strict\nReadWritePaths={data_dir}\nProtectHome=read-only\nPrivateTmp=yes\n\
         ProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectControlGroups=yes\n\n\
         [Install]\nWantedBy=multi-user.target\n",
        config = config.display(),
        data_dir = cfg.data_dir.display(),
    )
}

/// What init did, for the summary.
struct Done<'a> {
    config: &'a Path,
    unit: &'a Path,
    domain: &'a str,
    password: Option<String>,
    source: carrier_tls::CertSource,
    user: ServiceUser,
    /// data_dir was given to the service account.
    owned: bool,
}

fn print_next_steps(cfg: &Config, done: &Done) {
    let Done { config, unit, domain, password, source, user, owned } = done;
    println!("wrote {}", config.display());
    match user {
        ServiceUser::Created(name, command) => println!("made the system account {name} ({command})"),
        ServiceUser::Exists(name) => println!("the daemon runs as the existing account {name}"),
        ServiceUser::Missing(name, command) => {
            println!("the system account {name} does not exist, and only root can make it; as root:");
            println!("  {command}");
            println!("  chown -R {name}: {}", cfg.data_dir.display());
            println!("  then uncomment `user = \"{name}\"` in {}", config.display());
            println!(
                "  and add User={name}, AmbientCapabilities=CAP_NET_BIND_SERVICE and \
                 CapabilityBoundingSet=CAP_NET_BIND_SERVICE to {}",
                unit.display()
            );
        }
    }
    match user.name() {
        Some(name) if *owned => println!("gave {} to {name}", cfg.data_dir.display()),
        Some(name) => println!("as root, give it the data: chown -R {name}: {}", cfg.data_dir.display()),
        None => {}
    }
    match password {
        Some(pw) => {
            println!("created the account postmaster@{domain} with password {pw}");
            println!("  (shown only this once; change it with `carrier user passwd postmaster@{domain}`)");
        }
        None => println!("the account postmaster@{domain} already exists; its password is unchanged"),
    }
    if let carrier_tls::CertSource::SelfSigned { cert, .. } = source {
        println!("made a self-signed certificate for {} in {}", cfg.hostname, cert.display());
    }
    println!("pickup directory {} ready", pickup::dir(&cfg.data_dir).display());
    println!("wrote the systemd unit {}", unit.display());
    println!("made DKIM keys (Ed25519 and RSA) for each domain in {}", cfg.data_dir.join("dkim").display());
    println!();
    // Issue 15.1: every command carries the -c init was given; at the default path none is needed.
    let elsewhere = *config != Path::new(carrier_config::SYSTEM_CONFIG);
    let carrier = match !elsewhere {
        true => "carrier".to_string(),
        false => format!("carrier -c {}", config.display()),
    };
    println!("next:");
    println!("  1. publish the DNS records below:    {carrier} dns-records prints them again");
    println!("  2. check the set-up:                 {carrier} check");
    println!("  3. start it now and at every boot:   systemctl daemon-reload && systemctl enable --now carrier");
    println!("  4. let mail/cron use it:             ln -sf {} /usr/sbin/sendmail", exe_name());
    if elsewhere {
        // sendmail, mailq and cron are run without -c: they look at $CARRIER_CONFIG, then here.
        println!(
            "     sendmail and mailq read {}: ln -s {} {} (or export CARRIER_CONFIG={})",
            carrier_config::SYSTEM_CONFIG,
            config.display(),
            carrier_config::SYSTEM_CONFIG,
            config.display()
        );
    }
    println!("  5. add users:                        {carrier} user add alice@{domain}");
    println!(
        "  6. for a trusted certificate:        certbot certonly --standalone -d {}, then set [tls]",
        cfg.hostname
    );
}

/// This binary's path, for the unit and the sendmail symlink.
fn exe_name() -> String {
    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "/usr/local/bin/carrier".into())
}
