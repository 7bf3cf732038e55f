"""Causal analyses: immortal time, target-trial emulation, weighting, bootstrap, effect measures
(workflow/rules/causal.smk)."""
