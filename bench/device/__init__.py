"""The device side: what runs on a device (the runner), and the host's half of its formats."""
