"""The local stack: the Kafka-protocol broker, topics, PostgreSQL databases and the five services."""
