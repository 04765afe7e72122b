; Inno Setup 6 script for Studio on Windows (x64).
;
; Build on a Windows machine (or CI runner) after the PyInstaller bundle exists in dist\studio:
;   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
; or by hand:
;   iscc /DAppVersion=0.1.0 installer\windows\studio.iss
; Output: dist\Studio-<version>-windows-x64-setup.exe
;
; The installer is per-user by default (no administrator rights; {autopf} is then
; %LOCALAPPDATA%\Programs) and offers an all-users install from its first page. It adds a Start menu
; entry, makes Studio the handler of .ora images and offers it in "Open with" for .md and .txt files.
; Uninstalling removes the program files; Studio's settings, downloaded models and the user's
; documents stay unless the user ticks the box the uninstaller asks about.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Studio"
#define AppId "io.github.studio_app.Studio"
#define AppExe "Studio.exe"
#define CliExe "studio-cli.exe"
#define RepoRoot "..\.."
#define BundleDir RepoRoot + "\dist\studio"

[Setup]
; Never change AppId: upgrades and the uninstaller find the installed copy by it.
AppId={{4C0F7D31-B7DA-45DA-9024-C3D5FCDB7A60}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=The Studio developers
AppPublisherURL=https://github.com/studio-app/studio
AppSupportURL=https://github.com/studio-app/studio/issues
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
ChangesAssociations=yes
#if FileExists(AddBackslash(SourcePath) + RepoRoot + "\LICENSE")
LicenseFile={#RepoRoot}\LICENSE
#endif
SetupIconFile={#RepoRoot}\resources\windows\studio.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
OutputDir={#RepoRoot}\dist
OutputBaseFilename=Studio-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
; A bundle with a CUDA build of torch exceeds the 2 GB a single setup .exe may hold: then split it.
DiskSpanning=no
WizardStyle=modern
; Close a running Studio before replacing its files (upgrades) or removing them.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "assocora"; Description: "Open OpenRaster images (.ora) with Studio"; GroupDescription: "File types:"
Name: "assocmd"; Description: "Offer Studio in ""Open with"" for Markdown (.md) and text files"; GroupDescription: "File types:"

[InstallDelete]
; An upgrade replaces the whole bundle: drop the old one so no stale library lingers.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; AppUserModelID: "{#AppId}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon; AppUserModelID: "{#AppId}"

[Registry]
; HKA = HKLM for an all-users install, HKCU for a per-user one.
; Application registration: lets Windows list Studio under "Open with" and Default apps.
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".ora"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".md"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".txt"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; OpenRaster: Studio's own ProgID, the default for .ora when the task is chosen.
Root: HKA; Subkey: "Software\Classes\Studio.OpenRaster"; ValueType: string; ValueName: ""; ValueData: "OpenRaster image"; Flags: uninsdeletekey; Tasks: assocora
Root: HKA; Subkey: "Software\Classes\Studio.OpenRaster\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: assocora
Root: HKA; Subkey: "Software\Classes\Studio.OpenRaster\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: assocora
Root: HKA; Subkey: "Software\Classes\.ora"; ValueType: string; ValueName: ""; ValueData: "Studio.OpenRaster"; Flags: uninsdeletevalue; Tasks: assocora
Root: HKA; Subkey: "Software\Classes\.ora"; ValueType: string; ValueName: "Content Type"; ValueData: "image/openraster"; Tasks: assocora
Root: HKA; Subkey: "Software\Classes\.ora\OpenWithProgids"; ValueType: string; ValueName: "Studio.OpenRaster"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocora
; Markdown and text: only offered ("Open with"), never taken over from the user's editor.
Root: HKA; Subkey: "Software\Classes\Studio.Markdown"; ValueType: string; ValueName: ""; ValueData: "Markdown document"; Flags: uninsdeletekey; Tasks: assocmd
Root: HKA; Subkey: "Software\Classes\Studio.Markdown\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: assocmd
Root: HKA; Subkey: "Software\Classes\Studio.Markdown\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: assocmd
Root: HKA; Subkey: "Software\Classes\.md\OpenWithProgids"; ValueType: string; ValueName: "Studio.Markdown"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocmd
Root: HKA; Subkey: "Software\Classes\.markdown\OpenWithProgids"; ValueType: string; ValueName: "Studio.Markdown"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocmd
Root: HKA; Subkey: "Software\Classes\.txt\OpenWithProgids"; ValueType: string; ValueName: "Studio.Markdown"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocmd

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
{ Studio keeps settings and data with platformdirs: %LOCALAPPDATA%\Studio\Studio (config and data).
  They are the user's, so the uninstaller removes them only when asked (never when silent). }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    DataDir := ExpandConstant('{localappdata}\Studio');
    if DirExists(DataDir) and not UninstallSilent() then
      if MsgBox('Also delete Studio''s settings and downloaded models in ' + DataDir + '?' + #13#10 +
                'Your documents are not affected.', mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
  end;
end;
