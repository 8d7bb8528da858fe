#!/usr/bin/env bash
# Runs carrier's whole test suite: unit tests, integration tests that start the real
# server on loopback ports, and interop tests with swaks, Python's smtplib, poplib and imaplib,
# fetchmail, s-nail (Maildir and IMAPS), a private Postfix instance, and dkimpy and OpenDKIM's
# tools for DKIM, rspamd behind the milter client, and sieve-connect for ManageSieve.
# On a fresh Debian machine it first installs the clients the tests use (needs root).
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v swaks >/dev/null || missing+=(swaks)
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
command -v fetchmail >/dev/null || missing+=(fetchmail)
command -v s-nail >/dev/null || missing+=(s-nail)
# A peer MTA for the relay tests (a private instance; the system one is left unconfigured).
[ -x /usr/sbin/postfix ] || missing+=(postfix)
# The independent DKIM/ARC verifier and signer (dkimpy, for Debian's /usr/bin/python3), and
# OpenDKIM (a private milter signing for the Postfix peer) and its key generator.
[ -x /usr/bin/dkimverify ] || missing+=(python3-dkim)
command -v opendkim-genkey >/dev/null || missing+=(opendkim-tools)
[ -x /usr/sbin/opendkim ] || missing+=(opendkim)
# rspamd, a private instance behind the milter client, in its own network namespace.
[ -x /usr/bin/rspamd ] || missing+=(rspamd)
command -v ip >/dev/null || missing+=(iproute2)
# A ManageSieve client (RFC 5804) for the Sieve script tests.
command -v sieve-connect >/dev/null || missing+=(sieve-connect)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: the tests need ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# No two modules of a crate may import each other (docs/architecture.md, "The layout").
python3 tools/module_cycles.py

cargo test --workspace --all-targets "$@"
