"""The federation checker."""
