#!/usr/bin/env bash
# Sign Hark.app (hardened runtime + entitlements), pack it into a DMG, notarize and staple.
#
#   packaging/macos/make_dmg.sh dist/Hark.app dist/Hark-0.1.0-macos-arm64.dmg
#
# Signing runs when APPLE_SIGNING_IDENTITY is set ("Developer ID Application: NAME (TEAMID)").
# In CI the certificate comes in as a base64 .p12 and is imported into a throwaway keychain:
#   APPLE_CERT_P12_BASE64, APPLE_CERT_PASSWORD
# Notarization runs when the app is signed and one set of credentials is present:
#   App Store Connect API key:  APPLE_NOTARY_KEY_BASE64 (the .p8, base64), APPLE_NOTARY_KEY_ID,
#                               APPLE_NOTARY_ISSUER
#   or Apple ID:                APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD (app-specific)
# Without them each step is skipped with a message, and the DMG holds the ad-hoc-signed app
# PyInstaller made (users then open it with right-click > Open the first time).
# Needs macOS (codesign, hdiutil, xcrun); NOT run in the Linux test environment.
set -euo pipefail

app=${1:?usage: make_dmg.sh PATH/Hark.app OUT.dmg}
dmg=${2:?usage: make_dmg.sh PATH/Hark.app OUT.dmg}
here=$(cd "$(dirname "$0")" && pwd)
entitlements="$here/../entitlements.plist"
identity=${APPLE_SIGNING_IDENTITY:-}
tmp=$(mktemp -d)
keychain=""

say() { echo "make_dmg: $*" >&2; }

cleanup() {
    if [ -n "$keychain" ]; then
        security delete-keychain "$keychain" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

[ -d "$app/Contents/MacOS" ] || { say "error: $app is not an app bundle"; exit 1; }
[ "$(uname -s)" = Darwin ] || { say "error: this needs macOS (codesign, hdiutil)"; exit 1; }

import_certificate() {
    keychain="$tmp/hark-signing.keychain-db"
    local password
    password=$(uuidgen)
    security create-keychain -p "$password" "$keychain"
    security set-keychain-settings -lut 3600 "$keychain"
    security unlock-keychain -p "$password" "$keychain"
    echo "$APPLE_CERT_P12_BASE64" | base64 --decode >"$tmp/cert.p12"
    security import "$tmp/cert.p12" -k "$keychain" -P "${APPLE_CERT_PASSWORD:-}" \
        -T /usr/bin/codesign -T /usr/bin/security
    security set-key-partition-list -S apple-tool:,apple: -s -k "$password" "$keychain" >/dev/null
    # codesign searches the user's keychain list: put ours first, keep the others.
    local others
    others=$(security list-keychains -d user | tr -d '"' | xargs)
    # shellcheck disable=SC2086  # the existing list is several words on purpose
    security list-keychains -d user -s "$keychain" $others
}

sign() {  # sign PATH [extra codesign options]
    codesign --force --timestamp --options runtime --sign "$identity" "$@"
}

sign_app() {
    say "signing $app as \"$identity\" (hardened runtime)"
    # Inside out: every Mach-O file, then each framework, then the bundle with entitlements.
    while IFS= read -r -d '' file; do
        if file -b "$file" | grep -q "Mach-O"; then
            sign "$file"
        fi
    done < <(find "$app/Contents" -type f ! -path "$app/Contents/MacOS/*" -print0)
    while IFS= read -r -d '' framework; do
        sign "$framework"
    done < <(find "$app/Contents" -depth -type d -name "*.framework" -print0)
    sign --entitlements "$entitlements" "$app/Contents/MacOS/hark"
    sign --entitlements "$entitlements" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
    codesign --display --entitlements - "$app" | grep -q "com.apple.security.device.audio-input" \
        || { say "error: the audio-input entitlement is missing from the signature"; exit 1; }
}

notarize() {
    local args=()
    if [ -n "${APPLE_NOTARY_KEY_ID:-}" ] && [ -n "${APPLE_NOTARY_ISSUER:-}" ] \
        && [ -n "${APPLE_NOTARY_KEY_BASE64:-}" ]; then
        echo "$APPLE_NOTARY_KEY_BASE64" | base64 --decode >"$tmp/notary.p8"
        args=(--key "$tmp/notary.p8" --key-id "$APPLE_NOTARY_KEY_ID" --issuer "$APPLE_NOTARY_ISSUER")
    elif [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
        args=(--apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" --password "$APPLE_APP_PASSWORD")
    else
        say "no notarization credentials (APPLE_NOTARY_KEY_* or APPLE_ID/APPLE_TEAM_ID/APPLE_APP_PASSWORD): not notarized"
        return 0
    fi
    say "notarizing $dmg (this waits for Apple, usually a few minutes)"
    xcrun notarytool submit "$dmg" "${args[@]}" --wait --output-format json \
        | tee "$tmp/notary.json"
    grep -q '"status" *: *"Accepted"' "$tmp/notary.json" || {
        say "error: notarization was not accepted; the log:"
        id=$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' "$tmp/notary.json" | head -n 1)
        [ -n "$id" ] && xcrun notarytool log "$id" "${args[@]}" || true
        exit 1
    }
    xcrun stapler staple "$dmg"
    xcrun stapler validate "$dmg"
    spctl --assess --type open --context context:primary-signature --verbose=2 "$dmg"
}

if [ -n "$identity" ]; then
    if [ -n "${APPLE_CERT_P12_BASE64:-}" ]; then
        import_certificate
    fi
    sign_app
else
    say "APPLE_SIGNING_IDENTITY is not set: not signing (the app keeps PyInstaller's ad-hoc signature)"
    codesign --verify --verbose=1 "$app" || say "warning: the ad-hoc signature does not verify"
fi

say "creating $dmg"
mkdir -p "$tmp/dmg" "$(dirname "$dmg")"
ditto "$app" "$tmp/dmg/$(basename "$app")"  # keeps symlinks, attributes and signatures
ln -s /Applications "$tmp/dmg/Applications"
rm -f "$dmg"
hdiutil create -volname "Hark" -srcfolder "$tmp/dmg" -fs HFS+ -format UDZO -ov "$dmg"

if [ -n "$identity" ]; then
    codesign --force --timestamp --sign "$identity" "$dmg"
    notarize
else
    say "not signed, so not notarized"
fi
say "done: $dmg"
