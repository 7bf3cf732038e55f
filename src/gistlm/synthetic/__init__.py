"""Deterministic synthetic raw hospital extract for the GIST liver-metastasis study NCT06038552.

The real extract cannot be shared, so this package fabricates one with a KNOWN data-generating
model: four raw tables (patients, liver_metastases, treatments, follow_up) plus ``truth.json``.

Data-generating model (time unit: months from liver-metastasis (LM) diagnosis)
-----------------------------------------------------------------------------
* Baseline covariates x are drawn vectorised (age, sex, primary site, mutation, tumour burden
  driven by a latent score, ECOG, labs).
* Every patient has an *intended* local treatment (none / hepatic resection (HR) / RFA-TACE)
  from a multinomial logit on baseline covariates (confounding by indication) and an intended
  date 3-18 months after starting imatinib.
* Death: h(t) = h0(t) exp(b'x + site_shift + g_HR 1[t >= t_HR] + g_RT 1[t >= t_RT]) with a Weibull
  baseline h0; the piecewise cumulative hazard is inverted in closed form.
* A local treatment is only *observed* if it happens before death or censoring, so grouping
  patients by "ever treated" produces genuine immortal-time bias.
* Censoring: administrative at the data cut-off (minus a last-visit gap) and random loss to
  follow-up; progression and later TKI lines are markers derived from the death time (deaths
  are preceded by progression) and do not enter the hazard.

``generate_extract(n_patients=None)`` builds the study-sized extract with exact group quotas and
exactly known attrition; ``generate_extract(n_patients=N)`` a natural cohort (fast, vectorised).

Modules, in the order the generator runs them: ``parameters`` (the true parameters, codes and
random streams), ``model`` (covariates, treatment, death, censoring, TKI lines), ``defects``
(ineligible and malformed records), ``tables`` (the four raw tables, site folders), ``truth``
(truth.json and its calibration figures), ``generate`` (the two modes and the command line).
"""

from gistlm.synthetic.defects import MALFORMED
from gistlm.synthetic.generate import generate_extract, main
from gistlm.synthetic.parameters import (
    ATTRITION_STEPS,
    GROUPS,
    LAB_LIMITS,
    LABS,
    MUTATIONS,
    PRIMARY_SITES,
    TREATMENTS,
    CohortParameters,
)
from gistlm.synthetic.tables import TABLE_COLUMNS, TABLES, write_extract

__all__ = [
    "ATTRITION_STEPS",
    "GROUPS",
    "LAB_LIMITS",
    "LABS",
    "MALFORMED",
    "MUTATIONS",
    "PRIMARY_SITES",
    "TABLE_COLUMNS",
    "TABLES",
    "TREATMENTS",
    "CohortParameters",
    "generate_extract",
    "main",
    "write_extract",
]
