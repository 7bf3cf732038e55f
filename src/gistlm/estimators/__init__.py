"""The estimators every analysis uses, each written once: the weighted Kaplan-Meier
(kaplan_meier), the weighted Cox model (cox, on the Efron partial likelihood of
partial_likelihood), the DerSimonian-Laird pooling of site estimates (meta_analysis) and
entropy balancing (balancing). tests/test_r_reference.py checks the first two against R's
survival package, tests/test_balancing.py the last against a dual solved with R's optim."""
