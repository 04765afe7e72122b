#!/usr/bin/env bash
# Build Studio.app and Studio-<version>-macos-<arch>.dmg on macOS (a CI runner or a Mac).
#
#   installer/macos/build_app.sh              # venv, PyInstaller .app, self-check, sign, .dmg
#   PYTHON=python3.11 installer/macos/build_app.sh
#
# Environment:
#   PYTHON               Python 3.11 used for the build environment (default: python3.11)
#   CODESIGN_IDENTITY    "Developer ID Application: ..." to sign for distribution; default "-" (ad hoc,
#                        runs on the building Mac and, after right-click > Open, on others)
#   NOTARY_PROFILE       a `xcrun notarytool store-credentials` profile: notarize and staple the .dmg
# Builds for the architecture of the Python it runs (arm64 on Apple silicon runners, x86_64 on Intel).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ "$(uname -s)" = Darwin ] || { echo "build_app.sh: run this on macOS" >&2; exit 1; }
PYTHON="${PYTHON:-python3.11}"
VENV="$ROOT/build/macos-venv"
IDENTITY="${CODESIGN_IDENTITY:--}"
log() { printf '==> %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    log "Creating the build environment"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# llama-cpp-python for every Mac of this architecture, not for the build machine (-mcpu=native on an
# M3 emits instructions an M1 lacks): on Apple silicon the compiler's default target (apple-m1) with
# Metal; on Intel the x86-64-v3 set of installer/build_bundle.sh. --no-cache-dir because pip's wheel
# cache ignores CMAKE_ARGS.
if [ "$(uname -m)" = arm64 ]; then
    LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF"
else
    LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
-DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF"
fi
LLAMA_REQ="$("$VENV/bin/python" -c 'import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print(next(d for d in deps if d.startswith("llama-cpp-python")))')"
CMAKE_ARGS="$LLAMA_CMAKE_ARGS" FORCE_CMAKE=1 "$VENV/bin/python" -m pip install --quiet --no-cache-dir \
    --no-binary llama-cpp-python --force-reinstall --no-deps "$LLAMA_REQ"
# On macOS the PyPI torch wheel is CPU/MPS only.
"$VENV/bin/python" -m pip install --quiet . "pyinstaller>=6.11"
VERSION="$("$VENV/bin/python" -c 'import studio; print(studio.__version__)')"
ARCH="$(uname -m)"

log "Building Studio.app $VERSION ($ARCH)"
rm -rf dist/studio dist/Studio.app
"$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller installer/pyinstaller/studio.spec
APP="$ROOT/dist/Studio.app"
[ -d "$APP" ] || { echo "no $APP" >&2; exit 1; }

log "Checking the app"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
export STUDIO_CONFIG_DIR="$SCRATCH/config" STUDIO_DATA_DIR="$SCRATCH/data" QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
CLI="$APP/Contents/MacOS/studio-cli"
"$CLI" --version | tee "$SCRATCH/version"
grep -q "$VERSION" "$SCRATCH/version"
out="$("$CLI" text "Hello" --max-tokens 8)"
[ -n "$out" ] || { echo "studio text printed nothing" >&2; exit 1; }
echo "    generated: $out"
if "$CLI" image --help >/dev/null 2>&1; then
    "$VENV/bin/python" -c 'import sys; from pathlib import Path
from studio.testing.tiny_diffusion import save_tiny_pipeline
save_tiny_pipeline(Path(sys.argv[1]))' "$SCRATCH/tiny-sd"
    "$CLI" image apple --model "$SCRATCH/tiny-sd" --steps 2 --size 64x64 --seed 1 --output "$SCRATCH/check.png"
    [ -s "$SCRATCH/check.png" ]
else
    echo "    SKIPPED image check: this build has no 'studio image' command yet"
fi

log "Signing ($IDENTITY)"
codesign --force --deep --options runtime --entitlements "$ROOT/installer/macos/entitlements.plist" \
    --sign "$IDENTITY" "$APP"
codesign --verify --deep --strict "$APP"

log "Making the disk image"
DMG="$ROOT/dist/Studio-$VERSION-macos-$ARCH.dmg"
STAGE="$SCRATCH/dmg"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "Studio $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
if [ "$IDENTITY" != "-" ]; then
    codesign --sign "$IDENTITY" "$DMG"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    log "Notarizing"
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi
log "Done: $DMG ($(du -h "$DMG" | cut -f1))"
