#!/usr/bin/env bash
# Fail unless every shared library in the given folders runs on a Haswell CPU (x86-64-v3: AVX2, FMA,
# F16C, BMI2): objdump must find no AVX-512, AVX-VNNI/AVX512-VNNI, AVX512-BF16 or AMX instruction.
# build_bundle.sh runs it on llama-cpp-python's libraries, before and after PyInstaller copies them.
#
#   installer/check_portable_libs.sh DIR [DIR...]
set -euo pipefail

# As objdump prints them: zmm registers, the EVEX-only registers xmm16-31/ymm16-31, mask registers,
# embedded broadcasts, AVX-512-only mnemonics, VNNI dot products, BF16 and AMX tile instructions.
NON_HASWELL_INSNS='%zmm|%[xy]mm(1[6-9]|2[0-9]|3[01])\b|%k[0-7]\b|\{1to[0-9]+\}|\b(vpternlog|vpermt2|vpermi2|vpcompress|vcompressp|vpexpand|vexpandp|vpconflict|vplzcnt|vrndscale|vscalef|vgetexp|vgetmant|vfixupimm|vpmovm2|vpmov[dqwb]2m|kmov|kand|kor|kxor|vpdpbusd|vpdpwssd|vdpbf16ps|vcvtne2ps2bf16|ldtilecfg|sttilecfg|tileloadd|tilestored|tilezero|tdpb)'

[ $# -gt 0 ] || { echo "usage: $0 DIR [DIR...]" >&2; exit 2; }
command -v objdump >/dev/null || { echo "error: objdump is missing (Debian: binutils)" >&2; exit 2; }
status=0
for dir in "$@"; do
    names=""
    for lib in "$dir"/*.so "$dir"/*.so.*; do
        [ -f "$lib" ] && [ ! -L "$lib" ] || continue
        hits="$(objdump -d --no-show-raw-insn "$lib" | grep -cE "$NON_HASWELL_INSNS" || true)"
        if [ "$hits" != 0 ]; then
            echo "error: $lib has $hits instructions a Haswell (AVX2-only) CPU lacks, e.g.:" >&2
            objdump -d --no-show-raw-insn "$lib" | grep -E "$NON_HASWELL_INSNS" | head -3 >&2 || true
            status=1
        fi
        names="$names $(basename "$lib")"
    done
    if [ -z "$names" ]; then
        echo "error: no shared libraries in $dir" >&2
        status=1
    elif [ "$status" = 0 ]; then
        echo "    runs on Haswell (no AVX-512, VNNI or AMX instructions):$names"
    fi
done
exit "$status"
