"""The adaptloop dashboard: one page over the registry, trainer and drift services."""
