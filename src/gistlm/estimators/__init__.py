"""The survival estimators every analysis uses, each written once: the weighted Kaplan-Meier
(kaplan_meier) and the weighted Cox model (cox, on the Efron partial likelihood of
partial_likelihood), each checked against R's survival package in tests/test_r_reference.py."""
