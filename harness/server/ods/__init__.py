"""Organisation lookups (the ODS FHIR API): a small read used to exercise the platform."""
