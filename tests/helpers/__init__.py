"""Helpers shared by the test packages: media generation and analysis shortcuts."""
