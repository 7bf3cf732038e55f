"""Release: disclosure control of every count, the audit, and the tables authors receive
(workflow/rules/release.smk)."""
