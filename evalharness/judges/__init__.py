"""LLM judges: endpoint config, sandboxed templates, and the client that asks for structured verdicts."""
