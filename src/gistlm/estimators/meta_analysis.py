"""DerSimonian-Laird random-effects pooling of log hazard ratios (statsmodels, with two fixes)."""

import numpy as np


def dersimonian_laird(log_hr: np.ndarray, se: np.ndarray, alpha: float) -> dict:
    """Pooled HR with its CI and Wald p, I² and Cochran's Q p-value, from two or more
    estimates with their standard errors."""
    # statsmodels is imported here: it costs a job ~1 s of CPU, and few rules pool
    from scipy import special
    from statsmodels.stats.meta_analysis import combine_effects

    with np.errstate(invalid="ignore"):  # statsmodels takes square roots of a negative tau²
        pooled = combine_effects(np.asarray(log_hr), np.asarray(se) ** 2, method_re="dl", alpha=alpha)
        # DerSimonian-Laird truncates tau² at 0 (then random = fixed effect); statsmodels 0.15
        # keeps a negative tau², which would narrow the interval below the fixed-effect one
        effect = pooled.summary_frame().loc["random effect" if pooled.tau2 > 0 else "fixed effect"]
    return {
        "hr": np.exp(effect["eff"]),
        "ci_lower": np.exp(effect["ci_low"]),
        "ci_upper": np.exp(effect["ci_upp"]),
        "p_value": 2 * special.ndtr(-abs(effect["eff"] / effect["sd_eff"])),
        # I² is 0 when Q falls below its degrees of freedom (no excess variation)
        "i2": max(0.0, pooled.i2),
        "heterogeneity_p": pooled.test_homogeneity().pvalue,
    }
