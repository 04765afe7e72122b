"""The Rewrite commands of the Write workspace: one ``QAction`` per selection action, the free instruction
(Ctrl+K), saved actions, Regenerate and alternatives, for whichever editor is current."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from studio.ui.actions import make_action
from studio.ui.write.editor import MarkdownEditor
from studio.writing.actions import BUILTIN_ACTIONS, UserActions, WritingAction


class RewriteCommands(QObject):
    """The Rewrite commands for whichever editor ``current_editor`` returns: the actions, free instruction
    (Ctrl+K), Translate to…, saved actions, Regenerate and alternatives. :meth:`fill_menu` (re)builds a menu."""

    def __init__(
        self,
        parent: QWidget,
        current_editor: Callable[[], MarkdownEditor | None],
        user_actions: UserActions | None = None,
    ) -> None:
        super().__init__(parent)
        self._current_editor = current_editor
        self.user_actions = user_actions or UserActions()
        window = Qt.ShortcutContext.WindowShortcut
        self.action_commands: dict[str, QAction] = {}
        for action in BUILTIN_ACTIONS:
            self.action_commands[action.name] = make_action(
                parent,
                action.label if not action.group else f"{action.group}: {action.label}",
                lambda action=action: self.run(action),  # type: ignore[misc]
                description=f"{action.label.rstrip('…')} the selected text (shown as a diff to accept or reject)",
            )
        self.instruction = make_action(
            parent,
            "Edit with Instruction…",
            self.ask_instruction,
            shortcut=QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_K),
            description="Tell the AI what to do with the selected text",
            context=window,
        )
        self.regenerate = make_action(
            parent,
            "Regenerate",
            lambda: self._with_editor("regenerate"),
            description="Write another alternative",
        )
        self.next_alternative = make_action(
            parent,
            "Next Alternative",
            lambda: self._with_editor("next"),
            shortcut=QKeySequence(Qt.Modifier.ALT | Qt.Key.Key_BracketRight),
            description="Show the next alternative (a new one at the end)",
            context=window,
        )
        self.previous_alternative = make_action(
            parent,
            "Previous Alternative",
            lambda: self._with_editor("previous"),
            shortcut=QKeySequence(Qt.Modifier.ALT | Qt.Key.Key_BracketLeft),
            description="Show the previous alternative",
            context=window,
        )

    def actions(self) -> list[QAction]:
        """Every command (for a workspace's action set)."""
        return [
            *self.action_commands.values(),
            self.instruction,
            self.regenerate,
            self.next_alternative,
            self.previous_alternative,
        ]

    def fill_menu(self, menu: QMenu) -> QMenu:
        """Put the commands in ``menu`` (cleared first): actions, tone and sense submenus, saved actions."""
        menu.clear()
        groups: dict[str, QMenu] = {}
        for action in BUILTIN_ACTIONS:
            command = self.action_commands[action.name]
            if action.group:
                if action.group not in groups:
                    groups[action.group] = menu.addMenu(action.group)
                sub = groups[action.group]
                item = sub.addAction(action.label)
                item.setStatusTip(command.statusTip())
                item.triggered.connect(command.trigger)
            else:
                menu.addAction(command)
        saved = self.user_actions.actions()
        menu.addSeparator()
        menu.addAction(self.instruction)
        if saved:
            own = menu.addMenu("My Actions")
            for action in saved:
                item = own.addAction(action.label)
                item.setStatusTip(action.value_map().get("instruction", ""))
                item.triggered.connect(lambda _checked=False, action=action: self.run(action))
        menu.addSeparator()
        menu.addAction(self.regenerate)
        menu.addAction(self.next_alternative)
        menu.addAction(self.previous_alternative)
        return menu

    def run(self, action: WritingAction, editor: MarkdownEditor | None = None) -> bool:
        """Run ``action`` on the editor's selection (asking for its value first, like Translate's language)."""
        editor = editor or self._current_editor()
        if editor is None:
            return False
        if action.asks_for:
            editor.open_inline_prompt(
                f"{action.label.rstrip('…')} which {action.asks_for}? (Enter runs, Esc closes)",
                lambda value: editor.start_rewrite(action.with_value(action.asks_for, value)),
            )
            return True
        return editor.start_rewrite(action)

    def ask_instruction(self) -> None:
        """Open the editor's free-instruction prompt (Ctrl+K)."""
        editor = self._current_editor()
        if editor is not None:
            editor.instruction_action.trigger()

    def _with_editor(self, what: str) -> None:
        editor = self._current_editor()
        if editor is None:
            return
        if what == "regenerate":
            editor.regenerate_rewrite()
        elif what == "next":
            editor.next_alternative()
        else:
            editor.previous_alternative()
