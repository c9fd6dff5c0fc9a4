"""I/O of the inference service: the vLLM engine, the registry's HTTP API and Kafka."""
