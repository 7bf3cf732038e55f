"""Overall survival of the analysis cohort: Kaplan-Meier, log-rank, Cox, PH tests (workflow/rules/survival.smk)."""
