"""The bundle recipes build llama.cpp for other people's CPUs, and the check that proves it works.

Building a bundle takes many minutes (installer/build_bundle.sh); these tests read the recipes and run
installer/check_portable_libs.sh on small libraries compiled here for known instruction sets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_BUNDLE = ROOT / "installer" / "build_bundle.sh"
CHECK_LIBS = ROOT / "installer" / "check_portable_libs.sh"
WINDOWS = ROOT / "installer" / "windows" / "build.ps1"
MACOS = ROOT / "installer" / "macos" / "build_app.sh"

# x86-64-v3: what every x86 CPU since Haswell (2013) has.
PORTABLE_ON = {"GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2"}
NEWER_THAN_HASWELL = {
    "GGML_NATIVE",
    "GGML_AVX512",
    "GGML_AVX512_VBMI",
    "GGML_AVX512_VNNI",
    "GGML_AVX512_BF16",
    "GGML_AVX_VNNI",
    "GGML_AMX_TILE",
    "GGML_AMX_INT8",
    "GGML_AMX_BF16",
}


def _cmake_flags(args: str) -> dict[str, str]:
    flags = dict(re.findall(r"-D(\w+)=(\w+)", args))
    assert flags, f"no -D flags in {args!r}"
    return flags


def _bundle_cmake_args() -> str:
    """PORTABLE_CMAKE_ARGS as bash sees it."""
    text = BUILD_BUNDLE.read_text()
    assignment = re.search(r'^PORTABLE_CMAKE_ARGS="[^"]*"$', text, re.MULTILINE)
    assert assignment, "build_bundle.sh sets PORTABLE_CMAKE_ARGS in one place"
    out = subprocess.run(
        ["bash", "-c", assignment.group(0) + '\nprintf %s "$PORTABLE_CMAKE_ARGS"'],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def _commands(path: Path) -> list[str]:
    """The script's logical lines: continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(cmd.split()) for cmd in re.sub(r"[\\`]\n", " ", "\n".join(lines)).splitlines()]


def test_the_portable_flag_set_is_x86_64_v3_without_avx512_or_amx() -> None:
    flags = _cmake_flags(_bundle_cmake_args())
    for name in PORTABLE_ON:
        assert flags.get(name) == "ON", f"{name} must be ON: {flags}"
    for name in NEWER_THAN_HASWELL:
        assert flags.get(name) == "OFF", f"{name} must be OFF explicitly: {flags}"


@pytest.mark.parametrize("recipe", [BUILD_BUNDLE, WINDOWS, MACOS], ids=lambda p: p.name)
def test_no_recipe_builds_for_the_build_machine(recipe: Path) -> None:
    code = "\n".join(_commands(recipe))
    assert "march=native" not in code and "mcpu=native" not in code
    assert not re.search(r"GGML_NATIVE=(ON|1|TRUE)", code, re.IGNORECASE)


def test_llama_cpp_python_is_compiled_with_the_portable_flags_bypassing_the_wheel_cache() -> None:
    """pip's wheel cache ignores CMAKE_ARGS: without --no-cache-dir a cached native wheel comes back."""
    builds = [cmd for cmd in _commands(BUILD_BUNDLE) if 'CMAKE_ARGS="$PORTABLE_CMAKE_ARGS"' in cmd]
    assert len(builds) == 1, builds
    build = builds[0]
    for option in ("--no-cache-dir", "--no-binary llama-cpp-python", "--force-reinstall", "$LLAMA_REQ"):
        assert option in build, f"{option} missing from: {build}"


def test_the_build_proves_portability_and_the_self_check_reports_the_cpu_path() -> None:
    commands = _commands(BUILD_BUNDLE)
    checked = [cmd for cmd in commands if cmd.startswith("check_portable_libs ")]
    assert any("$(llama_lib_dir)" in cmd for cmd in checked), "the build environment's libraries"
    assert any("_internal/llama_cpp/lib" in cmd for cmd in checked), "the libraries in the bundle"
    text = "\n".join(commands)
    assert '"$APP" --system-info' in text
    assert "AVX2 = 1" in text, "the self-check requires llama.cpp's AVX2 path"
    assert "qemu-x86_64 -cpu Haswell" in text


@pytest.mark.parametrize("recipe", [WINDOWS, MACOS], ids=lambda p: p.name)
def test_the_windows_and_macos_recipes_also_bypass_the_wheel_cache(recipe: Path) -> None:
    text = " ".join(_commands(recipe))
    for option in ("--no-cache-dir", "--no-binary llama-cpp-python", "--force-reinstall"):
        assert option in text, f"{option} missing from {recipe.name}"
    assert "GGML_NATIVE=OFF" in text


def test_windows_and_intel_macs_use_the_same_portable_flags() -> None:
    windows = re.search(r'\$PortableCmakeArgs = "([^"]+)"', WINDOWS.read_text())
    assert windows, "build.ps1 sets $PortableCmakeArgs"
    assert _cmake_flags(windows.group(1)) == _cmake_flags(_bundle_cmake_args())
    macos = re.findall(r'LLAMA_CMAKE_ARGS="([^"]+)"', MACOS.read_text())
    assert len(macos) == 2, "build_app.sh: one set for Apple silicon, one for Intel"
    assert _cmake_flags(macos[0]) == {"GGML_NATIVE": "OFF"}
    assert _cmake_flags(macos[1]) == _cmake_flags(_bundle_cmake_args())


C_SOURCES = {
    # flags, source: each exports one function the compiler cannot optimize away
    "avx2": (
        ["-mavx2", "-mfma", "-mf16c"],
        "#include <immintrin.h>\n"
        "void f(float *a, const float *b) { __m256 x = _mm256_loadu_ps(a), y = _mm256_loadu_ps(b);"
        " _mm256_storeu_ps(a, _mm256_fmadd_ps(x, y, x)); }\n",
    ),
    "avx512": (
        ["-mavx512f"],
        "#include <immintrin.h>\n"
        "void f(float *a, const float *b) { __m512 x = _mm512_loadu_ps(a), y = _mm512_loadu_ps(b);"
        " _mm512_storeu_ps(a, _mm512_fmadd_ps(x, y, x)); }\n",
    ),
    "avxvnni": (
        ["-mavx2", "-mavxvnni"],
        "#include <immintrin.h>\n"
        "void f(__m256i *a, const __m256i *b) { *a = _mm256_dpbusd_avx_epi32(*a, *b, *b); }\n",
    ),
    "amx": (
        ["-mamx-tile", "-mamx-int8"],
        "#include <immintrin.h>\n"
        "void f(const void *cfg, const void *p) { _tile_loadconfig(cfg); _tile_loadd(0, p, 64);"
        " _tile_stored(0, (void *)p, 64); _tile_release(); }\n",
    ),
}


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("gcc") is None or shutil.which("objdump") is None:
        pytest.skip("gcc and objdump are needed to compile the sample libraries")
    folders: dict[str, Path] = {}
    for name, (flags, source) in C_SOURCES.items():
        folder = tmp_path_factory.mktemp(name)
        (folder / "f.c").write_text(source)
        result = subprocess.run(
            [
                "gcc",
                "-O2",
                "-shared",
                "-fPIC",
                *flags,
                "-o",
                str(folder / f"lib{name}.so"),
                str(folder / "f.c"),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.skip(f"this gcc cannot compile {name} code: {result.stderr.strip()[:200]}")
        folders[name] = folder
    return folders


def _check(*folders: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_LIBS), *map(str, folders)], capture_output=True, text=True)


def test_the_portability_check_accepts_avx2_code(libs: dict[str, Path]) -> None:
    result = _check(libs["avx2"])
    assert result.returncode == 0, result.stderr
    assert "runs on Haswell" in result.stdout and "libavx2.so" in result.stdout


@pytest.mark.parametrize("isa", ["avx512", "avxvnni", "amx"])
def test_the_portability_check_rejects_newer_instructions(libs: dict[str, Path], isa: str) -> None:
    result = _check(libs["avx2"], libs[isa])
    assert result.returncode == 1
    assert f"lib{isa}.so has" in result.stderr and "a Haswell (AVX2-only) CPU lacks" in result.stderr


def test_the_portability_check_refuses_an_empty_folder(tmp_path: Path) -> None:
    result = _check(tmp_path)
    assert result.returncode == 1 and "no shared libraries" in result.stderr
