# Build Studio for Windows: PyInstaller bundle, self-check, then the Inno Setup installer.
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 [-Python py -3.11] [-SkipInstaller]
#
# Needs: Python 3.11 x64, Inno Setup 6 (iscc on PATH or in its default folder). On CI:
#   choco install innosetup -y   (GitHub's windows runners already have Inno Setup 6)
# The build environment gets a CPU-only torch from the PyTorch index, which keeps the installer
# below Inno Setup's 2 GB single-file limit; set $env:STUDIO_TORCH_INDEX to another index to change it.
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
Invoke-Native "pip upgrade" { & $Py -m pip install --upgrade pip }
Invoke-Native "torch install" { & $Py -m pip install torch --index-url $TorchIndex }
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
