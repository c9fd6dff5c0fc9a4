"""Create every contract topic and its dead-letter topic (used by docker-compose and Kubernetes jobs)."""

from __future__ import annotations

import os

from adaptloop_contracts import TopicNames
from adaptloop_kafka import ensure_topics, wait_for_broker


def main() -> None:
    bootstrap = os.environ.get("ADAPTLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    names = TopicNames(os.environ.get("ADAPTLOOP_TOPIC_PREFIX", ""))
    wait_for_broker(bootstrap, timeout_s=120)
    created = ensure_topics(bootstrap, names.all_with_partitions())
    print(f"topics ready on {bootstrap}; created {len(created)}: {', '.join(sorted(created)) or 'none'}")


if __name__ == "__main__":
    main()
