"""Schemathesis hooks for `just fuzz-api` (loaded through SCHEMATHESIS_HOOKS).

GET /v1/batches/{id}/results answers NDJSON, one ResultLine a line; the document describes
the body as the array of its lines, so each line is read here and the array is checked
against the schema like any JSON answer.
"""

import json

import schemathesis


@schemathesis.deserializer("application/x-ndjson")
def ndjson_lines(ctx, response):
    text = response.content.decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
