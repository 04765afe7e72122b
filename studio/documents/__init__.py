"""Qt-free documents: exact plain-text files and crash recovery."""

from studio.documents.recovery import LockFile, LockInfo, RecoveryEntry, RecoveryStore, new_document_id
from studio.documents.text_document import (
    BinaryFileError,
    ChangedOnDiskError,
    DiskStamp,
    DocumentError,
    FileTooLargeError,
    Newline,
    NoPathError,
    SaveFailedError,
    TextDocument,
    TextFormat,
    UnencodableTextError,
    UnreadableDocumentError,
)

__all__ = [
    "BinaryFileError",
    "ChangedOnDiskError",
    "DiskStamp",
    "DocumentError",
    "FileTooLargeError",
    "LockFile",
    "LockInfo",
    "Newline",
    "NoPathError",
    "RecoveryEntry",
    "RecoveryStore",
    "SaveFailedError",
    "TextDocument",
    "TextFormat",
    "UnencodableTextError",
    "UnreadableDocumentError",
    "new_document_id",
]
