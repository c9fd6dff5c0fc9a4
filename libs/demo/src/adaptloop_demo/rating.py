"""How the simulated users rate an answer; defined with the scenarios so offline evaluation shares it."""

from adaptloop_scenarios.rating import POOR_BELOW, overlap_f1, score, tokens

__all__ = ["POOR_BELOW", "overlap_f1", "score", "tokens"]
