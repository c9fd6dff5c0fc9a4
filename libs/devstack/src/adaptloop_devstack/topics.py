"""Create every contract topic and its dead-letter topic (used by docker-compose and Kubernetes jobs).

Environment: ADAPTLOOP_KAFKA_BOOTSTRAP, ADAPTLOOP_TOPIC_PREFIX, ADAPTLOOP_TOPIC_REPLICATION_FACTOR (default 1;
use 3 on a production cluster), and the shared client settings ADAPTLOOP_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_*
(adaptloop_kafka.connection) for a secured cluster.
"""

from __future__ import annotations

import os

from adaptloop_contracts import TopicNames
from adaptloop_kafka import ensure_topics, wait_for_broker


def main() -> None:
    bootstrap = os.environ.get("ADAPTLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    names = TopicNames(os.environ.get("ADAPTLOOP_TOPIC_PREFIX", ""))
    wait_for_broker(bootstrap, timeout_s=120)
    replication = int(os.environ.get("ADAPTLOOP_TOPIC_REPLICATION_FACTOR", "1"))
    created = ensure_topics(bootstrap, names.all_with_partitions(), replication_factor=replication)
    print(f"topics ready on {bootstrap}; created {len(created)}: {', '.join(sorted(created)) or 'none'}")


if __name__ == "__main__":
    main()
