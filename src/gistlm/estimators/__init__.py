"""The estimators every analysis uses, each written once: the weighted Kaplan-Meier
(kaplan_meier), the weighted Cox model (cox, on the Efron partial likelihood of
partial_likelihood) and the DerSimonian-Laird pooling of site estimates (meta_analysis);
tests/test_r_reference.py checks the first two against R's survival package."""
