; Hark for Windows: a per-user installer (no administrator rights) for the PyInstaller
; one-folder build.
;
;   makensis /DVERSION=0.1.0 packaging\windows\hark.nsi
;
; Defines (all optional; packaging/build.py passes them):
;   VERSION     the version shown and stored (default 0.0.0)
;   VI_VERSION  the same as four numbers for the file properties (default 0.0.0.0)
;   SOURCE_DIR  the one-folder build: hark.exe, hark-cli.exe, _internal\ (default ..\..\dist\hark)
;   OUTFILE     the installer to write (default ..\..\dist\Hark-VERSION-setup.exe)
;   ICON        an .ico for the installer and uninstaller (default: NSIS's own)
;
; Installs to %LOCALAPPDATA%\Programs\Hark with a Start-menu entry and an optional "start
; when I sign in" (HKCU Run). The uninstaller removes the program; the user's settings,
; history, logs and downloaded models (%LOCALAPPDATA%\hark, platformdirs' folder for
; "hark") and the API keys in Credential Manager stay unless the user ticks "Also remove
; my settings and history". Relative paths are relative to this file (makensis changes
; to the script's folder).

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef VI_VERSION
  !define VI_VERSION "0.0.0.0"
!endif
!ifndef SOURCE_DIR
  !define SOURCE_DIR "..\..\dist\hark"
!endif
!ifndef OUTFILE
  !define OUTFILE "..\..\dist\Hark-${VERSION}-setup.exe"
!endif

!define APP_NAME "Hark"
!define APP_EXE "hark.exe"
!define CLI_EXE "hark-cli.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hark"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define DATA_DIR "$LOCALAPPDATA\hark"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Hark"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel user
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VI_VERSION}"
VIAddVersionKey /LANG=1033 "ProductName" "${APP_NAME}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APP_NAME} installer"
VIAddVersionKey /LANG=1033 "LegalCopyright" "MIT License"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "Sections.nsh"

!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME} now"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; -- helpers ---------------------------------------------------------------------------

; A running hark.exe (or hark-cli.exe) is locked: Windows refuses to open it for writing.
; Ask the user to quit it rather than fail halfway through replacing or removing files.
!macro DEFINE_ENSURE_NOT_RUNNING PREFIX
Function ${PREFIX}EnsureNotRunning
  ${Do}
    StrCpy $1 ""
    ${If} ${FileExists} "$INSTDIR\${APP_EXE}"
      ClearErrors
      FileOpen $0 "$INSTDIR\${APP_EXE}" a
      ${If} ${Errors}
        StrCpy $1 "${APP_EXE}"
      ${Else}
        FileClose $0
      ${EndIf}
    ${EndIf}
    ${If} ${FileExists} "$INSTDIR\${CLI_EXE}"
      ClearErrors
      FileOpen $0 "$INSTDIR\${CLI_EXE}" a
      ${If} ${Errors}
        StrCpy $1 "${CLI_EXE}"
      ${Else}
        FileClose $0
      ${EndIf}
    ${EndIf}
    ${If} $1 == ""
      Return
    ${EndIf}
    MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "${APP_NAME} is running ($1). Quit it (tray icon > Quit), then press Retry." /SD IDCANCEL IDRETRY +2
    Abort
  ${Loop}
FunctionEnd
!macroend
!insertmacro DEFINE_ENSURE_NOT_RUNNING ""
!insertmacro DEFINE_ENSURE_NOT_RUNNING "un."

; `hark-cli keys delete PROVIDER` for every provider whose API key Hark may have stored.
!macro REMOVE_KEYS
  !insertmacro REMOVE_KEY baseten
  !insertmacro REMOVE_KEY together
  !insertmacro REMOVE_KEY fireworks
!macroend
!macro REMOVE_KEY PROVIDER
  nsExec::Exec '"$INSTDIR\${CLI_EXE}" keys delete ${PROVIDER}'
  Pop $0
!macroend

; -- install ---------------------------------------------------------------------------

Section "!${APP_NAME} (required)" SecApp
  SectionIn RO
  SetShellVarContext current
  Call EnsureNotRunning
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the whole program: nothing stale from an older build stays behind.
  RMDir /r "$INSTDIR\_internal"
  File /r "${SOURCE_DIR}\*"

  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortCut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0

  ; Start at login only when that component is ticked (this run decides, also on upgrade).
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section /o "Start ${APP_NAME} when I sign in" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}" '"$INSTDIR\${APP_EXE}"'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The ${APP_NAME} tray app, the hark-cli command and a Start-menu entry."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Start ${APP_NAME} in the tray each time you sign in to Windows (you can change this in Task Manager > Startup apps)."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

; -- uninstall ---------------------------------------------------------------------------

Function un.onInit
  Call un.EnsureNotRunning
FunctionEnd

; Runs first (sections run in the order they are written): hark-cli.exe must still exist
; to remove the API keys from Credential Manager.
Section /o "un.Also remove my settings and history" SecUnData
  SetShellVarContext current
  ${If} ${FileExists} "$INSTDIR\${CLI_EXE}"
    !insertmacro REMOVE_KEYS
  ${EndIf}
  RMDir /r "${DATA_DIR}"
SectionEnd

Section "!un.${APP_NAME} (required)" SecUnApp
  SectionIn RO
  SetShellVarContext current
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR" ; only when empty: never delete files the user put there
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecUnData} "Also delete your settings, transcript history, logs, downloaded speech models (${DATA_DIR}) and the API keys Hark stored in Credential Manager. Leave unticked to keep them for a later install."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecUnApp} "The ${APP_NAME} program, its Start-menu entry and its start-at-login entry."
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END
