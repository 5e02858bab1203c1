"""Real stand-ins for a deployment's shared services: an S3 server and a PostgreSQL catalog.

* :func:`s3` — moto's ``ThreadedMotoServer`` (an S3-compatible HTTP server from PyPI) on a free
  port, with one bucket; DuckDB's httpfs talks to it exactly as to MinIO or AWS (path-style
  URLs on a private endpoint).
* :func:`pg_catalog` (tests/fixtures/postgres.py) — a fresh database in the tests' own
  PostgreSQL cluster for one test's DuckLake catalog, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.brokers import free_port

KEY_ID = "aircarbon-test"
SECRET = "aircarbon-test-secret"  # moto accepts any credentials
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    client: Any  # a boto3 S3 client, to look at the bucket from outside DuckDB

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def env(self) -> dict[str, str]:
        """The settings a deployment sets for its object store."""
        return {
            "AIRCARBON_WAREHOUSE_S3_ENDPOINT": self.endpoint,
            "AIRCARBON_WAREHOUSE_S3_KEY_ID": KEY_ID,
            "AIRCARBON_WAREHOUSE_S3_SECRET": SECRET,
            "AIRCARBON_WAREHOUSE_S3_REGION": REGION,
        }


@pytest.fixture
def s3() -> Iterator[S3Server]:
    import boto3
    from moto import server as server_mod

    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )
        bucket = f"aircarbon-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        yield S3Server(endpoint, bucket, client)
    finally:
        server.stop()
