"""Every GraphQL operation the real wandb clients sent (captured per version into tests/fixtures/wandb_queries/
with RUNTREE_GRAPHQL_CAPTURE while tests/integration/test_wandb_versions.py's scripts ran) validates against
the schema runtree serves; the artifact operations, which runtree refuses, are the only exception and get
runtree's message instead of graphql-core's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import parse, validate

from runtree.server.wandb import graphql as gql
from tests.integration.wandb_venvs import VERSIONS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wandb_queries"


def _operations(version: str) -> list[dict[str, str]]:
    ops: list[dict[str, str]] = json.loads((FIXTURES / f"{version}.json").read_text())
    return ops


@pytest.mark.parametrize("version", VERSIONS)
def test_every_captured_operation_is_served(version: str) -> None:
    ops = _operations(version)
    assert len(ops) >= 15  # init, log, files, fork, rewind, resume, sync and wandb.Api() each send several
    schema = gql.executable_schema()
    refused = []
    for op in ops:
        errors = validate(schema, parse(op["query"]))
        if gql._ARTIFACT_OPS.search(op["query"]):
            refused.append(op["operationName"])
            continue
        assert not errors, f"wandb {version} {op['operationName']}: {[e.message for e in errors]}\n{op['query']}"
    assert len(refused) <= 2  # CreateArtifact (a Table before 0.31), answered with gql.NO_ARTIFACTS


@pytest.mark.parametrize("version", VERSIONS)
def test_the_public_api_operations_are_captured(version: str) -> None:
    # wandb 0.31 sends operationName "" for wandb.Api()'s operations: the names are in the texts
    names = {m for op in _operations(version) for m in re.findall(r"\b(?:query|mutation)\s+(\w+)", op["query"])}
    assert {"Runs", "Run", "RunFiles", "RunSampledHistory", "UpsertBucket", "RewindRun"} <= names
    assert ("RunParquetHistory" in names) == (version == VERSIONS[-1])  # 0.31's scan_history
