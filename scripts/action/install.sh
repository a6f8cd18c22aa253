#!/usr/bin/env bash
# Installs a guardform release for the GitHub Action (action.yml), after checking its SHA-256.
# Never runs a binary whose archive did not match the expected checksum.
#
# Environment (action.yml passes the inputs through `env:`, never into the script's text):
#   GUARDFORM_VERSION   release to install, e.g. 0.1.0 (a leading `v` is accepted)
#   GUARDFORM_SHA256    optional: the archive's expected SHA-256 (64 hex digits); without it the
#                       release's SHA256SUMS file gives the expected value
#   RUNNER_OS           Linux | macOS            (set by the runner)
#   RUNNER_ARCH         X64 | ARM64              (set by the runner)
#   RUNNER_TEMP         where to download and install (set by the runner)
#   GITHUB_PATH         the install directory is appended to it (set by the runner)
#   GITHUB_OUTPUT       outputs `path` (the binary) and `version` (set by the runner)
#   GUARDFORM_RELEASE_BASE_URL
#                       tests only: another base than
#                       https://github.com/guardform/guardform/releases/download; it must be
#                       https://, or http:// on a loopback address (127.0.0.1, [::1], localhost)
set -euo pipefail

fail() {
    # A workflow command shows this on the run's page; plain text in a terminal.
    echo "::error title=guardform install::$*" >&2
    exit 1
}

version="${GUARDFORM_VERSION:-}"
version="${version#v}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
    fail "input 'version' must be a release number such as 0.1.0, not '${GUARDFORM_VERSION:-}'"
fi

expected="${GUARDFORM_SHA256:-}"
expected="$(printf '%s' "$expected" | tr -d '[:space:]' | tr 'A-F' 'a-f')"
if [ -n "$expected" ] && ! [[ "$expected" =~ ^[0-9a-f]{64}$ ]]; then
    fail "input 'sha256' must be 64 hexadecimal digits (the archive's SHA-256), not '${GUARDFORM_SHA256}'"
fi

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
    Linux/X64) target=x86_64-unknown-linux-musl ;;
    Linux/ARM64) target=aarch64-unknown-linux-musl ;;
    macOS/X64) target=x86_64-apple-darwin ;;
    macOS/ARM64) target=aarch64-apple-darwin ;;
    *) fail "no guardform release for runner OS '${RUNNER_OS:-}' and architecture '${RUNNER_ARCH:-}' (Linux or macOS, X64 or ARM64); install it with cargo install --locked --git https://github.com/guardform/guardform" ;;
esac

base="${GUARDFORM_RELEASE_BASE_URL:-https://github.com/guardform/guardform/releases/download}"
base="${base%/}"
# curl refuses anything but HTTPS, redirects included; plain HTTP only for a loopback test server.
protocols="=https"
if [[ "$base" =~ ^http://(127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\]|localhost)(:[0-9]+)?(/|$) ]]; then
    protocols="=http"
elif [[ "$base" != https://* ]]; then
    fail "GUARDFORM_RELEASE_BASE_URL must be https:// (or http:// on a loopback address), not '$base'"
fi

archive="guardform-$version-$target.tar.gz"
url="$base/v$version/$archive"
work="${RUNNER_TEMP:?RUNNER_TEMP is not set}/guardform-download.$$"
install_dir="$RUNNER_TEMP/guardform/$version/bin"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

download() {
    # $1: URL, $2: file
    curl --fail --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
        --retry 3 --connect-timeout 20 --max-time 600 --output "$2" "$1" ||
        fail "could not download $1"
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

echo "Downloading $url" >&2
download "$url" "$work/$archive"

if [ -n "$expected" ]; then
    source_of_expected="the 'sha256' input"
else
    download "$base/v$version/SHA256SUMS" "$work/SHA256SUMS"
    # Lines are "<sha256>  <file>" (or "<sha256> *<file>"); exactly one must name the archive.
    matches="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")"
    if [ -z "$matches" ]; then
        fail "SHA256SUMS of release v$version has no line for $archive: refusing to install an unverified binary"
    fi
    if [ "$(printf '%s\n' "$matches" | wc -l | tr -d ' ')" != 1 ]; then
        fail "SHA256SUMS of release v$version names $archive more than once: refusing to install"
    fi
    expected="$(printf '%s' "$matches" | tr 'A-F' 'a-f')"
    if ! [[ "$expected" =~ ^[0-9a-f]{64}$ ]]; then
        fail "SHA256SUMS of release v$version has no valid SHA-256 for $archive: refusing to install"
    fi
    source_of_expected="SHA256SUMS of release v$version"
fi

actual="$(sha256_of "$work/$archive")"
if [ "$actual" != "$expected" ]; then
    rm -f "$work/$archive"
    fail "checksum mismatch for $archive: expected $expected ($source_of_expected), got $actual. Refusing to install it: the download is corrupt or was tampered with."
fi
echo "Verified $archive: sha256 $actual ($source_of_expected)" >&2

# Only the one member we need is extracted, so the archive cannot write anywhere else.
member="guardform-$version-$target/guardform"
tar -xzf "$work/$archive" -C "$work" "$member" ||
    fail "$archive does not contain $member"
mkdir -p "$install_dir"
install -m 0755 "$work/$member" "$install_dir/guardform"

installed="$("$install_dir/guardform" --version)" ||
    fail "the installed binary does not run: $install_dir/guardform --version failed"
if [ "$installed" != "guardform $version" ]; then
    fail "the archive of v$version holds '$installed'"
fi
echo "Installed $installed into $install_dir" >&2

if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$install_dir" >>"$GITHUB_PATH"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    {
        echo "path=$install_dir/guardform"
        echo "version=$version"
    } >>"$GITHUB_OUTPUT"
fi
