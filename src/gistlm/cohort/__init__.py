"""Cohort: eligibility, treatment groups, the analysis cohort and its Table 1
(workflow/rules/eligibility.smk, groups.smk)."""
