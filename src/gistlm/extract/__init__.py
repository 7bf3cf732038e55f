"""Extract: the raw hospital tables read into typed columns, with pseudonymous ids (workflow/rules/ingestion.smk)."""
