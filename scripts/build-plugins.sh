#!/usr/bin/env bash
# build-plugins.sh — build Airlock's Rust plugins into WebAssembly components.
#
#   scripts/build-plugins.sh              every plugin of the plugins/ workspace (incl. the
#                                         test plugins in tests/plugins/) -> plugins/dist/<name>.wasm
#   scripts/build-plugins.sh [--locked] <crate-dir>
#                                         one standalone plugin crate (e.g. made by
#                                         `airlock new`) -> <crate-dir>/dist/<name>.wasm;
#                                         its Cargo.lock is updated as needed, unless
#                                         --locked (for CI) requires it to be current
#   scripts/build-plugins.sh --check <component.wasm>...
#                                         verify built components (only airlock:plugin/* imports)
#
# <name> is the `name` in the crate's plugin.toml. Output is byte-reproducible for a given
# toolchain: paths of the checkout, of $CARGO_HOME and of the Rust sysroot are remapped, and
# the workspace is built through the fixed symlink /tmp/airlock-guest-src -> this checkout
# (cargo hashes absolute paths of out-of-workspace path dependencies into symbols).
# Guest artifacts go to plugins/target (shared by standalone crates, so std is built once).
#
# Toolchain: rustup's stable with the wasm32-unknown-unknown target if installed; otherwise
# Debian's rustc-web/cargo-web/rust-web-src + lld-<LLVM major> (installed with apt-get
# when missing), building std with -Zbuild-std.
#
# Env knobs: CARGO_HOME (default ~/.cargo), AIRLOCK_GUEST_TOOLCHAIN=rustup|debian (force a
# route), AIRLOCK_NO_APT=1 (never run apt-get; fail with instructions instead).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PLUGINS_WS=$ROOT/plugins
GUEST_TARGET_DIR=$ROOT/plugins/target
TOOL_DIR=$ROOT/tools/componentize
TOOL_BIN=$TOOL_DIR/target/release/componentize
TARGET=wasm32-unknown-unknown
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}

say() { printf '==> %s\n' "$*"; }
die() { printf 'build-plugins: error: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

# ------------------------------------------------------------------ arguments
MODE=workspace
CRATE_DIR=
CRATE_LOCKED=()
if [ "${1:-}" = --locked ]; then
  CRATE_LOCKED=(--locked)
  shift
  [ $# -eq 1 ] || die "--locked goes with one plugin crate directory"
fi
case "${1:-}" in
  "") ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  --check) MODE=check; shift; [ $# -gt 0 ] || die "--check needs component files" ;;
  -*) die "unknown option $1 (see --help)" ;;
  *)
    [ $# -eq 1 ] || die "expected one plugin crate directory, got $# arguments (see --help)"
    [ -d "$1" ] || die "$1 is not a directory"
    CRATE_DIR=$(cd "$1" && pwd -P)
    MODE=crate
    [ -f "$CRATE_DIR/Cargo.toml" ] || die "$CRATE_DIR has no Cargo.toml: pass the plugin crate's directory"
    [ -f "$CRATE_DIR/plugin.toml" ] || die "$CRATE_DIR has no plugin.toml manifest next to Cargo.toml"
    grep -q '^\[workspace\]' "$CRATE_DIR/Cargo.toml" \
      || die "$CRATE_DIR/Cargo.toml needs its own empty [workspace] table (a standalone plugin crate); plugins of this repository are built without arguments"
    ;;
esac

# ------------------------------------------------------------------ host toolchain (for the componentize tool)
if command -v rustup >/dev/null 2>&1 && rustup run stable cargo -V >/dev/null 2>&1; then
  HOST_CARGO=(rustup run stable cargo)
elif command -v cargo >/dev/null 2>&1; then
  HOST_CARGO=(cargo)
else
  HOST_CARGO=()
fi

build_tool() {
  [ ${#HOST_CARGO[@]} -gt 0 ] || die "no host cargo to build tools/componentize (install rustup stable, or Debian's cargo-web)"
  local t0=$EPOCHREALTIME
  # Build only when needed; cargo itself decides, this is just quick when fresh.
  (cd "$TOOL_DIR" && CARGO_TARGET_DIR="$TOOL_DIR/target" "${HOST_CARGO[@]}" build --release --locked --quiet) \
    || die "building tools/componentize failed (needs crates.io access or a filled \$CARGO_HOME cache)"
  say "componentize tool ready ($(elapsed "$t0"))"
}

if [ "$MODE" = check ]; then
  build_tool
  exec "$TOOL_BIN" --check "$@"
fi

# ------------------------------------------------------------------ guest toolchain
SUDO=()
apt_install() {  # apt_install PKG...: install what is missing
  if [ "${AIRLOCK_NO_APT:-0}" = 1 ]; then
    die "missing Debian packages: $* — install them with: apt-get install --no-install-recommends $*"
  fi
  command -v apt-get >/dev/null 2>&1 \
    || die "missing $* and no apt-get: install rustup's stable toolchain and run: rustup target add $TARGET"
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing Debian packages $*: run as root, or: sudo apt-get install --no-install-recommends $*"
    SUDO=(sudo)
  fi
  say "installing Debian packages: $* (apt-get)"
  local t0=$EPOCHREALTIME
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed (needs the bookworm and bookworm-security sources)"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed (rustc-web comes from bookworm-security; it conflicts with Debian's rustc and rustup packages)"
  say "apt-get done ($(elapsed "$t0"))"
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ROUTE=${AIRLOCK_GUEST_TOOLCHAIN:-}
if [ -z "$ROUTE" ]; then
  if command -v rustup >/dev/null 2>&1 \
     && rustup target list --installed --toolchain stable 2>/dev/null | grep -qx "$TARGET"; then
    ROUTE=rustup
  else
    ROUTE=debian
  fi
fi

# Flags that apply to every guest crate, std included. Remapping makes the output
# independent of where the checkout, $CARGO_HOME and the sysroot are.
REMAPS=()
case "$ROUTE" in
  rustup)
    rustup target list --installed --toolchain stable 2>/dev/null | grep -qx "$TARGET" \
      || die "rustup's stable toolchain lacks $TARGET: run rustup target add --toolchain stable $TARGET"
    GUEST_RUSTC=$(rustup which --toolchain stable rustc)
    GUEST_CARGO=("$(rustup which --toolchain stable cargo)")
    GUEST_ENV=(RUSTC="$GUEST_RUSTC")
    BUILD_STD=()
    ;;
  debian)
    missing=()
    for p in rustc-web cargo-web rust-web-src; do installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
    GUEST_RUSTC=/usr/bin/rustc
    [ -x "$GUEST_RUSTC" ] || die "$GUEST_RUSTC is missing although rustc-web is installed"
    LLVM_MAJOR=$("$GUEST_RUSTC" -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
    [ -n "$LLVM_MAJOR" ] || die "cannot read the LLVM version from $GUEST_RUSTC -vV"
    installed "lld-$LLVM_MAJOR" || apt_install "lld-$LLVM_MAJOR"
    WASM_LD=/usr/bin/wasm-ld-$LLVM_MAJOR
    [ -x "$WASM_LD" ] || die "$WASM_LD is missing: apt-get install lld-$LLVM_MAJOR"
    RUSTC_VER=$("$GUEST_RUSTC" -vV | sed -n 's/^release: //p')
    SRC_VER=$(dpkg-query -W -f='${Version}' rust-web-src | sed 's/+.*//')
    [ "$RUSTC_VER" = "$SRC_VER" ] \
      || die "rustc-web is $RUSTC_VER but rust-web-src is $SRC_VER: they must match; run apt-get install rustc-web rust-web-src (same version)"
    SYSROOT=$("$GUEST_RUSTC" --print sysroot)
    [ -f "$SYSROOT/lib/rustlib/src/rust/library/Cargo.lock" ] \
      || die "no std source under $SYSROOT/lib/rustlib/src/rust/library: apt-get install --reinstall rust-web-src"
    COMMIT=$("$GUEST_RUSTC" -vV | sed -n 's/^commit-hash: //p')
    REMAPS+=("--remap-path-prefix=$SYSROOT/lib/rustlib/src/rust=/rustc/${COMMIT:-$RUSTC_VER}")
    GUEST_CARGO=(/usr/bin/cargo)
    # RUSTC: /usr/bin/cargo would otherwise run the rustup proxy found first on PATH.
    # The linker: Debian ships no rust-lld. RUSTC_BOOTSTRAP: -Zbuild-std on a stable rustc.
    GUEST_ENV=(RUSTC="$GUEST_RUSTC" RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
               CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LD")
    BUILD_STD=(-Zbuild-std=std,panic_abort)
    ;;
  *) die "AIRLOCK_GUEST_TOOLCHAIN must be rustup or debian, not $ROUTE" ;;
esac
# Cargo hashes the absolute path of every path dependency outside the workspace root (the
# SDK, tests/plugins/*) into its crates' metadata, hence into symbol names, which changes
# code layout even with names stripped. Building the workspace through a fixed path makes
# the bytes independent of where the checkout lives.
FIXED_SRC=/tmp/airlock-guest-src
# Order matters: rustc applies the last matching prefix, so the most specific comes last.
REMAPS=("--remap-path-prefix=$CARGO_HOME=/cargo" "--remap-path-prefix=$ROOT=/airlock"
        "--remap-path-prefix=$FIXED_SRC=/airlock" "${REMAPS[@]}")
say "guest toolchain ($ROUTE): $("$GUEST_RUSTC" -V)${WASM_LD:+, linker $WASM_LD}"

# One unit separator-joined list: survives spaces in paths (unlike RUSTFLAGS).
ENCODED_RUSTFLAGS=$(IFS=$'\x1f'; printf '%s' "${REMAPS[*]}")

guest_cargo() {
  # The profile is forced here too, so standalone crates build exactly like ours and
  # reuse the std already built in the shared target dir.
  env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_BUILD_TARGET \
      -u CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER \
    "${GUEST_ENV[@]}" \
    CARGO_ENCODED_RUSTFLAGS="$ENCODED_RUSTFLAGS" \
    CARGO_TARGET_DIR="$GUEST_TARGET_DIR" \
    CARGO_PROFILE_RELEASE_PANIC=abort \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
    CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_INCREMENTAL=false \
    "${GUEST_CARGO[@]}" "$@" --release --target "$TARGET" "${BUILD_STD[@]}"
}

# ------------------------------------------------------------------ build
build_tool

# Points $FIXED_SRC at this checkout (under a lock held until the script exits). Fails
# when the path is taken by something that is not our symlink.
link_fixed_src() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>>"$FIXED_SRC.lock" 2>/dev/null || return 1
    flock 9 || return 1
  fi
  if [ -e "$FIXED_SRC" ] || [ -L "$FIXED_SRC" ]; then
    [ -L "$FIXED_SRC" ] && [ -O "$FIXED_SRC" ] || return 1
  fi
  ln -sfn "$ROOT" "$FIXED_SRC.tmp.$$" && mv -T "$FIXED_SRC.tmp.$$" "$FIXED_SRC"
}

if [ "$MODE" = crate ]; then
  MANIFEST=$CRATE_DIR/Cargo.toml
  DIST=$CRATE_DIR/dist
  # An author adding a dependency gets the lock file updated; CI passes --locked.
  LOCKED=("${CRATE_LOCKED[@]}")
else
  [ -f "$PLUGINS_WS/Cargo.lock" ] || die "plugins/Cargo.lock is missing: run cargo generate-lockfile in plugins/ and commit it"
  if link_fixed_src; then
    MANIFEST=$FIXED_SRC/plugins/Cargo.toml
  else
    echo "build-plugins: warning: cannot use $FIXED_SRC (taken by another user or not a symlink); building from $ROOT, so the bytes depend on the checkout path" >&2
    MANIFEST=$PLUGINS_WS/Cargo.toml
  fi
  DIST=$PLUGINS_WS/dist
  LOCKED=(--locked)
fi
BUILD_DIR=$(dirname "$MANIFEST")

say "building $([ "$MODE" = crate ] && echo "$CRATE_DIR" || echo "the plugins workspace") via $MANIFEST (target dir ${GUEST_TARGET_DIR#"$ROOT"/})"
t0=$EPOCHREALTIME
MESSAGES=$(mktemp)
trap 'rm -f "$MESSAGES"' EXIT
# --manifest-path, not cd: cargo would resolve a symlinked working directory.
guest_cargo build --manifest-path "$MANIFEST" "${LOCKED[@]}" --workspace --message-format=json-render-diagnostics >"$MESSAGES" || {
  [ ${#LOCKED[@]} -gt 0 ] && echo "build-plugins: hint: if Cargo.lock is outdated, run cargo update in $BUILD_DIR (and commit Cargo.lock)" >&2
  die "cargo build for $TARGET failed (see the compiler errors above)"
}
say "cargo build done ($(elapsed "$t0"))"

# Pair every cdylib artifact with its crate's plugin.toml.
mkdir -p "$DIST"
built=0
while IFS=$'\t' read -r manifest wasm; do
  crate=$(dirname "$manifest")
  [ -f "$crate/plugin.toml" ] || die "$crate has no plugin.toml (every plugin crate needs one)"
  # The manifest's top-level `name = "..."` (before the first table).
  name=$(awk '/^\[/ { exit } /^[[:space:]]*name[[:space:]]*=/ { sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit }' "$crate/plugin.toml")
  [[ "$name" =~ ^[a-z][a-z0-9-]{1,62}$ ]] \
    || die "$crate/plugin.toml: name \"$name\" must be 2-63 lowercase letters, digits or dashes, starting with a letter"
  "$TOOL_BIN" "$wasm" "$DIST/$name.wasm" | sed "s|^$ROOT/||"
  built=$((built + 1))
done < <(grep '"reason":"compiler-artifact"' "$MESSAGES" | grep '"cdylib"' \
         | sed -n 's/.*"manifest_path":"\([^"]*\)".*"filenames":\[[^]]*"\([^"]*\.wasm\)".*/\1\t\2/p')

[ "$built" -gt 0 ] || die "no cdylib plugin crate was built in $BUILD_DIR (set [lib] crate-type = [\"cdylib\"])"
say "$built component(s) in ${DIST#"$ROOT"/}"
