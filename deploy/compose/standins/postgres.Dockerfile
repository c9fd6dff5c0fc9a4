# syntax=docker/dockerfile:1
# Test stand-in for the postgres image where no image can be pulled: Debian's postgresql package with an
# entrypoint that honours the same POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB variables and data
# directory. Used only by deploy/compose/test-standins.yml; users run postgres from docker-compose.yml.
ARG BASE_IMAGE=localhost/bookworm-python:local
FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY deploy/compose/standins/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
CMD ["bash", "/usr/local/bin/postgres-entrypoint.sh"]
