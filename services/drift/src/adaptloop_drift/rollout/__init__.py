"""Safe rollout: canary verdicts and the post-promotion guard, decided from live ratings."""
