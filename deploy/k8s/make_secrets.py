"""Write the Secrets the manifests read, with fresh tokens, to stdout (Python 3 standard library only).

    python3 deploy/k8s/make_secrets.py --database-url 'postgresql+psycopg://USER:PASSWORD@HOST:5432/adaptloop' \\
        > secrets.yaml
    kubectl apply -f secrets.yaml

Makes one random token per client (the trainer, inference, drift) and one admin token for
you (printed on stderr, nowhere else: keep it, the `adaptloop` CLI and the admin endpoints
take it). The services receive only the tokens' sha256 digests (adaptloop-token-digests).
The database URLs are required: there are no defaults. `--database-url` serves all three
schemas; `--registry-database-url`, `--ingest-database-url`, `--trainer-database-url` give a
service its own URL (a role per service). `--inference-api-key` (repeatable) makes inference
require API keys from its clients. Names and keys are those of secrets.example.yaml.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys

NAMESPACE = "adaptloop"
CLIENTS = ("trainer", "inference", "drift")
"""Services that call another one; each gets a token with role `trainer`."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secret(name: str, data: dict[str, str]) -> str:
    lines = ["---", "apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}", f"  namespace: {NAMESPACE}",
             "type: Opaque", "stringData:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in data.items()]
    return "\n".join(lines) + "\n"


def render(urls: dict[str, str], api_keys: list[str], admin: str, clients: dict[str, str]) -> str:
    digests = [f"ops:admin:{digest(admin)}"] + [f"{name}:trainer:{digest(token)}" for name, token in clients.items()]
    return "".join([
        secret("adaptloop-database", {f"{service}-url": url for service, url in urls.items()}),
        secret("adaptloop-token-digests", {"tokens": ",".join(digests),
                                           "inference-api-keys": ",".join(digest(k) for k in api_keys)}),
        secret("adaptloop-client-tokens", clients),
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL for every schema")
    for service in ("registry", "ingest", "trainer"):
        parser.add_argument(f"--{service}-database-url", help=f"the {service}'s own URL")
    parser.add_argument("--inference-api-key", action="append", default=[], help="an API key inference accepts")
    args = parser.parse_args(argv)
    urls = {service: getattr(args, f"{service}_database_url") or args.database_url
            for service in ("registry", "ingest", "trainer")}
    missing = [service for service, url in urls.items() if not url]
    if missing:
        parser.error(f"no database URL for {', '.join(missing)}: pass --database-url (or one per service)")
    admin = secrets.token_urlsafe(32)
    clients = {name: secrets.token_urlsafe(32) for name in CLIENTS}
    sys.stdout.write(render(urls, args.inference_api_key, admin, clients))
    print(f"admin token (role admin, actor ops), shown only here: {admin}", file=sys.stderr)


if __name__ == "__main__":
    main()
