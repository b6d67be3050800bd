"""What every layer may use: the error families and the settings read from the
environment."""
