"""The estimators every analysis uses, each written once: the weighted Kaplan-Meier
(kaplan_meier), the weighted Cox model (cox, on the Efron partial likelihood of
partial_likelihood), the multinomial logit of the propensity model (multinomial_logit), the
DerSimonian-Laird pooling of site estimates (meta_analysis) and entropy balancing
(balancing); distinct_rows lets the first two sum over identical rows once.
tests/test_r_reference.py checks Kaplan-Meier and Cox against R's survival package,
tests/test_multinomial_logit.py the multinomial logit against an exact fit in R, and
tests/test_balancing.py entropy balancing against a dual solved with R's optim."""
