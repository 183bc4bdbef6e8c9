"""The ChatKit server: protocol handling, the agent, the thread store and the web UI."""
