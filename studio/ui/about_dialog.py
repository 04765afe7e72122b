"""Help ▸ About: Studio's version and the system report a bug report needs, with a Copy button.

The facts that need llama.cpp or torch imported come from ``studio --system-info --json`` run in a child
process (the GUI never imports those libraries); the dialog shows everything else at once and fills the rest in
when the child answers, or says why it could not.
"""

from __future__ import annotations

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio import __version__
from studio.settings import Settings
from studio.system_info import SystemReport, child_command, collect

CHILD_TIMEOUT_MS = 180_000
"""How long the child process may take (importing torch on a busy 2-core machine takes a while)."""


def _last_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


class AboutDialog(QDialog):
    """Version, a one-line description, and the system report in a read-only view with Copy and Close."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        settings: Settings | None = None,
        command: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Studio")
        self.setAccessibleName("About Studio")
        self.report: SystemReport = collect(qt_runtime=qVersion(), settings=settings)

        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        icon = QApplication.windowIcon()
        if not icon.isNull():
            logo = QLabel()
            logo.setPixmap(icon.pixmap(56, 56))
            logo.setAlignment(Qt.AlignmentFlag.AlignTop)
            header.addWidget(logo)
        title = QLabel(
            f"<b style='font-size:large'>Studio {__version__}</b><br>"
            "Write and paint with local AI models, offline and private."
        )
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        header.addWidget(title, 1)
        layout.addLayout(header)

        hint = QLabel("System information (copy it into a bug report):")
        layout.addWidget(hint)
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setAccessibleName("System information")
        self.text_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        hint.setBuddy(self.text_view)
        layout.addWidget(self.text_view, 1)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        self._set_status("")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the system information to the clipboard")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        screen = (
            parent.screen() if parent is not None else QGuiApplication.primaryScreen()
        ).availableGeometry()
        self.resize(min(720, int(screen.width() * 0.9)), min(560, int(screen.height() * 0.85)))

        self._stderr = b""
        self._timed_out = False
        self._process: QProcess | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._show_report()
        if self.report.pending:
            self._start_child(command or child_command())

    @property
    def checking(self) -> bool:
        """True while the child process has not answered yet."""
        return self._process is not None

    def copy_to_clipboard(self) -> None:
        """Put the report's plain text on the clipboard."""
        QGuiApplication.clipboard().setText(self.report.to_text())
        self._set_status(
            "Copied to the clipboard." + (" (Still checking llama.cpp and torch.)" if self.checking else "")
        )

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    def _show_report(self) -> None:
        scroll = self.text_view.verticalScrollBar().value()
        self.text_view.setPlainText(self.report.to_text())
        self.text_view.verticalScrollBar().setValue(scroll)

    def _start_child(self, command: list[str]) -> None:
        self._set_status("Checking llama.cpp and torch in a separate process…")
        process = QProcess(self)
        process.setProcessEnvironment(QProcessEnvironment.systemEnvironment())
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        self._timer.start(CHILD_TIMEOUT_MS)
        process.start(command[0], command[1:])

    def _on_stderr(self) -> None:
        if self._process is not None:
            self._stderr = (self._stderr + bytes(self._process.readAllStandardError().data()))[-8192:]

    def _on_timeout(self) -> None:
        if self._process is not None:
            self._timed_out = True
            self._process.kill()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._fail(f"could not start the check process: {self._process.errorString()}")

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        self._on_stderr()
        output = bytes(process.readAllStandardOutput().data())
        detail = _last_line(self._stderr)
        if self._timed_out:
            self._fail(f"the check process took longer than {CHILD_TIMEOUT_MS // 1000} s")
        elif exit_status is QProcess.ExitStatus.CrashExit:
            self._fail("the check process crashed" + (f": {detail}" if detail else ""))
        elif exit_code != 0:
            self._fail(
                f"the check process exited with status {exit_code}" + (f": {detail}" if detail else "")
            )
        else:
            try:
                report = SystemReport.from_json(output.decode(errors="replace"))
            except ValueError as exc:
                self._fail(f"the check process printed no report ({exc})")
            else:
                self._finish(report, "")

    def _fail(self, reason: str) -> None:
        self.report.fail_pending(reason)
        self._finish(self.report, f"Could not check llama.cpp and torch: {reason}.")

    def _finish(self, report: SystemReport, status: str) -> None:
        self._timer.stop()
        if self._process is not None:
            self._process.deleteLater()
            self._process = None
        self.report = report
        self._set_status(status)
        self._show_report()

    def done(self, result: int) -> None:
        """Closing stops a child process that is still working."""
        process, self._process = self._process, None
        self._timer.stop()
        if process is not None:
            process.blockSignals(True)
            process.kill()
            process.waitForFinished(2000)
        super().done(result)
