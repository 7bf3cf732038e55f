"""Quality: schema and cross-table validation, quarantine, site pooling, the patient ledger and the
data-quality suite (workflow/rules/validation.smk)."""
