#!/usr/bin/env bash
# Benchmarks carrier side by side with Postfix (SMTP) and Dovecot (POP3, IMAP) on this
# machine: installs them from Debian if missing (needs root), builds carrier and the load
# generator in release mode, runs every load on both alternately and prints the table.
# Extra arguments go to `carrier-bench compare` (e.g. --reps 5, --only smtp,pop3, --keep);
# see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "compare.sh: run as root: Postfix and Dovecot are started as private instances, which needs root" >&2
  exit 1
fi
missing=()
{ command -v smtp-source && command -v smtp-sink && [ -x /usr/sbin/postfix ]; } >/dev/null || missing+=(postfix)
[ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
[ -x /usr/lib/dovecot/pop3 ] || missing+=(dovecot-pop3d)
if ((${#missing[@]})); then
  echo "compare.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Only the binaries: the system's own Postfix stays unconfigured (the bench runs its own).
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release -p carrier
cargo build --release --manifest-path bench/Cargo.toml --bin carrier-bench
exec bench/target/release/carrier-bench compare --carrier target/release/carrier --out bench/last-run.md "$@"
