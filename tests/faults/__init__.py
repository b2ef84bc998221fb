"""Fault injection for the reliability tests and the demo: the TCP ``FaultProxy``."""
