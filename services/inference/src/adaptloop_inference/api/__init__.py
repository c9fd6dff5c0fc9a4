"""The OpenAI-compatible HTTP API and the service's operational endpoints."""
