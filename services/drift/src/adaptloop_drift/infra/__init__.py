"""I/O of the drift service: Kafka consumers and producers, checkpoints, the faust app, HTTP."""
