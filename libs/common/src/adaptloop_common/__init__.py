"""Cross-cutting pieces every adaptloop service uses the same way."""
