"""The Write workspace: Markdown editors with ghost-text continuation, bound to exact text documents."""

from studio.ui.write.editor import MarkdownEditor
from studio.ui.write.ghost_text import ContinuationHandle, ContinuationProvider, SuggestionState
from studio.ui.write.markdown_highlighter import MarkdownHighlighter
from studio.ui.write.workspace import UnsavedChoice, WriteWorkspace

__all__ = [
    "ContinuationHandle",
    "ContinuationProvider",
    "MarkdownEditor",
    "MarkdownHighlighter",
    "SuggestionState",
    "UnsavedChoice",
    "WriteWorkspace",
]
