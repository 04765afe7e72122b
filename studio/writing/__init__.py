"""Qt-free writing tools: prompts and context for the Write workspace."""
