"""Read API of the hub (JSON, JWT) and its OpenAPI document."""
