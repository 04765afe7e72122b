# Build Studio for Windows: PyInstaller bundle, self-check, then the Inno Setup installer.
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 [-Python py -3.11] [-SkipInstaller]
#
# Needs: Python 3.11 x64, Inno Setup 6 (iscc on PATH or in its default folder). On CI:
#   choco install innosetup -y   (GitHub's windows runners already have Inno Setup 6)
# The build environment gets a CPU-only torch (TORCH_VERSION from installer\install_user.py) from the
# PyTorch index, which keeps the installer below Inno Setup's 2 GB single-file limit; set
# $env:STUDIO_TORCH_INDEX to another index to change it. llama-cpp-python is compiled for x86-64-v3
# (AVX2; Haswell and newer), not for the build machine, with the flags of installer/build_bundle.sh.
param(
    [string]$Python = "py",
    [string[]]$PythonArgs = @("-3.11"),
    [switch]$SkipInstaller
)
$ErrorActionPreference = "Stop"
# Native commands do not stop the script on failure by themselves: check each exit code.
function Invoke-Native([string]$What, [scriptblock]$Command) {
    & $Command
    if ($LASTEXITCODE) { throw "$What failed with exit code $LASTEXITCODE" }
}
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root
$Venv = Join-Path $Root "build\windows-venv"
$Py = Join-Path $Venv "Scripts\python.exe"

if (-not (Test-Path $Py)) {
    Invoke-Native "venv creation" { & $Python @PythonArgs -m venv $Venv }
}
$TorchIndex = if ($env:STUDIO_TORCH_INDEX) { $env:STUDIO_TORCH_INDEX } else { "https://download.pytorch.org/whl/cpu" }
$TorchVersion = (Select-String -Path installer\install_user.py -Pattern '^TORCH_VERSION = "(.*)"$').Matches[0].Groups[1].Value
$PortableCmakeArgs = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF"
Invoke-Native "pip upgrade" { & $Py -m pip install --upgrade pip }
Invoke-Native "torch install" { & $Py -m pip install "torch==$TorchVersion" --index-url $TorchIndex }
$LlamaReq = & $Py -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print(next(d for d in deps if d.startswith('llama-cpp-python')))"
# --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back a build for this machine.
$env:CMAKE_ARGS = $PortableCmakeArgs
$env:FORCE_CMAKE = "1"
Invoke-Native "llama-cpp-python build" {
    & $Py -m pip install --no-cache-dir --no-binary llama-cpp-python --force-reinstall --no-deps $LlamaReq
}
Remove-Item Env:CMAKE_ARGS, Env:FORCE_CMAKE
Invoke-Native "Studio install" { & $Py -m pip install . "pyinstaller>=6.11" }

$Version = & $Py -c "import studio; print(studio.__version__)"
Invoke-Native "PyInstaller" {
    & $Py -m PyInstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller installer\pyinstaller\studio.spec
}

# Self-check of the bundle, offscreen, with scratch settings/data folders. (Windows PowerShell turns a
# native command's stderr into errors when redirected, so failures are judged by exit codes here.)
$ErrorActionPreference = "Continue"
$Scratch = Join-Path $env:TEMP ("studio-check-" + [guid]::NewGuid())
New-Item -ItemType Directory $Scratch | Out-Null
$env:STUDIO_CONFIG_DIR = Join-Path $Scratch "config"
$env:STUDIO_DATA_DIR = Join-Path $Scratch "data"
$env:QT_QPA_PLATFORM = "offscreen"
$env:HF_HUB_OFFLINE = "1"
$Cli = Join-Path $Root "dist\studio\studio-cli.exe"
$out = & $Cli --version
if ($LASTEXITCODE -or -not ($out -match [regex]::Escape($Version))) { throw "studio-cli --version failed: $out" }
Write-Host "==> $out"
$out = & $Cli text "Hello" --max-tokens 8
if ($LASTEXITCODE -or -not $out) { throw "studio-cli text failed" }
Write-Host "==> generated: $out"
& $Cli image --help *> $null
if ($LASTEXITCODE) {
    Write-Host "==> SKIPPED image check: this build has no 'studio image' command yet"
} else {
    $png = Join-Path $Scratch "check.png"
    $tiny = Join-Path $Scratch "tiny-sd"
    & $Py -c "import sys; from pathlib import Path; from studio.testing.tiny_diffusion import save_tiny_pipeline; save_tiny_pipeline(Path(sys.argv[1]))" $tiny
    if ($LASTEXITCODE) { throw "could not write the tiny pipeline" }
    & $Cli image apple --model $tiny --steps 2 --size 64x64 --seed 1 --output $png
    if ($LASTEXITCODE -or -not (Test-Path $png)) { throw "studio-cli image failed" }
    Write-Host "==> image check passed"
}
Remove-Item -Recurse -Force $Scratch

$ErrorActionPreference = "Stop"
if ($SkipInstaller) { exit 0 }
$Iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
Invoke-Native "Inno Setup" { & $Iscc "/DAppVersion=$Version" installer\windows\studio.iss }
Write-Host "==> dist\Studio-$Version-windows-x64-setup.exe"
