"""The reference Spine server: the national services a load test and a CI gate run against.

It behaves like the service it models rather than answering 200 to everything: MESH speaks the
protocol NHS England's ``mesh-client`` speaks (NHSMESH authentication, chunking, gzip,
acknowledgement, expiry), and every FHIR-style API shares one platform — ``X-Request-ID``
de-duplication, OperationOutcome errors, rate limits, maintenance and fault injection, audit,
Prometheus metrics — over one storage layer (SQLite in WAL mode by default, PostgreSQL for real
deployments). Build it with :func:`harness.server.app.create_app`.
"""
