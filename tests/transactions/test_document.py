"""The OpenAPI document describes the upload as the checks apply it."""

from portal.transactions import validation

UPLOAD_PATH = "/api/v1/device/transactions"


def test_the_upload_documents_its_body_key_answers_and_outcomes(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"][UPLOAD_PATH]["post"]
    schemas = spec["components"]["schemas"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/Upload"
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key"]
    assert {"200", "400", "401", "409", "413", "422"} <= set(operation["responses"])
    assert set(schemas["Transaction"]["properties"]) == validation.TRANSACTION_FIELDS
    assert set(schemas["TransactionLine"]["properties"]) == validation.LINE_FIELDS
    assert set(schemas["TransactionPayment"]["properties"]) == validation.PAYMENT_FIELDS
    outcomes = schemas["TransactionResult"]["properties"]["status"]["enum"]
    assert outcomes == ["accepted", "duplicate", "conflict", "rejected"]
