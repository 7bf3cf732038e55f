"""gistlm: the NCT06038552 GIST liver-metastasis survival analysis.

Modules are imported one by one by the workflow rules; keep this file free of imports so
that a rule depends only on the modules it really uses.
"""
