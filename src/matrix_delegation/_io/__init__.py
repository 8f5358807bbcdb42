"""The network edge: the only code that performs DNS queries or HTTP requests."""
