"""The API's request and response schemas, in one place (one module per resource).

These pydantic models are what validates every request body and query, what the responses are
checked against, and what /api/v2/openapi.json is generated from: the wire contract is written
once. Field names, enums and limits follow reference/sm-api.md (IBM's SDK models).
"""
