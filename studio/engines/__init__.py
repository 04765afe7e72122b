"""Qt-free engines behind one request/event protocol, run in engine processes."""
