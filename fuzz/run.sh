#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 120) each, growing the corpora in corpus/.
# Needs cargo-fuzz (cargo install cargo-fuzz); RUSTC_BOOTSTRAP lets the stable toolchain
# build with the sanitizer flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-120}
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
  echo "== $target ($seconds s)"
  cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=8192 2>&1 | grep -E "^(#[0-9]+.*DONE|==[0-9]+==|SUMMARY|Done)" || true
done
