"""HTTP routes of the trainer: jobs and governance (costs, lineage)."""
