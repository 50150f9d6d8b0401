"""evalharness: evaluation harness and CI quality gate for OpenAI-compatible endpoints."""

__version__ = "0.1.0"
