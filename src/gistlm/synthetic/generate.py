"""The two generation modes, `generate_extract`, and the command line."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from gistlm.synthetic.defects import ELIGIBLE, NO_LAB_FAILURE, inject_defects, natural_defects, quota_defects
from gistlm.synthetic.model import Patients, realised_group, select, simulate_patients, site_log_hazard_shifts
from gistlm.synthetic.parameters import CohortParameters, Group, Stream, random_stream
from gistlm.synthetic.tables import raw_tables, write_extract
from gistlm.synthetic.truth import truth_record

DEFAULT_SEED = 20230630
DEFAULT_PARAMETERS = CohortParameters()  # frozen: one shared default is safe
MAX_POOL_ATTEMPTS = 20


def candidate_pool_seed(seed: int, attempt: int) -> int:
    return seed if attempt == 0 else int(np.random.SeedSequence([seed, attempt]).generate_state(1)[0])


def quota_cohort(seed: int, params: CohortParameters, n_sites: int) -> Patients:
    """Exact quotas: generate eligible candidates until each realised group is full."""
    quotas = np.array([params.quota_im, params.quota_hr, params.quota_rt])  # indexed by Group
    codes, failing_labs = quota_defects(params)
    n_pool = 4 * int(quotas.sum() + len(codes))
    shifts = site_log_hazard_shifts(seed, n_sites, params)
    for attempt in range(MAX_POOL_ATTEMPTS):
        pool = simulate_patients(candidate_pool_seed(seed, attempt), n_pool, params, n_sites, shifts)
        group = realised_group(pool)
        rank_in_group = np.zeros(n_pool, np.int64)
        for code in Group:
            rank_in_group[group == code] = np.arange((group == code).sum())
        chosen = rank_in_group < quotas[group]
        spare = np.nonzero(~chosen)[0]
        if all((group == code).sum() >= quotas[code] for code in Group) and spare.size >= len(codes):
            break
        n_pool *= 2
    else:  # pragma: no cover - only with absurd parameters
        raise RuntimeError("could not fill the group quotas")
    # Ineligible and malformed patients come from the unused candidates, in pool order.
    defective = spare[: len(codes)]
    defect = np.full(n_pool, ELIGIBLE, np.int64)
    defect[defective] = codes
    lab_fail = np.full(n_pool, NO_LAB_FAILURE)
    lab_fail[defective] = failing_labs
    keep = np.sort(np.concatenate([np.nonzero(chosen)[0], defective]))
    return inject_defects(seed, select({**pool, "defect": defect, "lab_fail": lab_fail}, keep))


def natural_cohort(seed: int, n: int, params: CohortParameters, n_sites: int) -> Patients:
    """Natural cohort: ineligibility at fixed rates, groups arising from the model."""
    patients = simulate_patients(seed, n, params, n_sites, site_log_hazard_shifts(seed, n_sites, params))
    defect, lab_fail = natural_defects(seed, n, params)
    return inject_defects(seed, {**patients, "defect": defect, "lab_fail": lab_fail})


def order_patients(seed: int, patients: Patients, shuffle: bool) -> Patients:
    """Deterministic shuffle (interleaves ineligible patients), then group by site for ids."""
    n = patients["lm_day"].size
    order = random_stream(seed, Stream.PATIENT_ORDER).permutation(n) if shuffle else np.arange(n)
    order = order[np.argsort(patients["site"][order], kind="stable")]
    return select(patients, order)


def generate_extract(
    seed: int = DEFAULT_SEED,
    n_patients: int | None = None,
    sites: int = 1,
    params: CohortParameters = DEFAULT_PARAMETERS,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Return the four raw tables and the truth dict.

    n_patients=None: the study-sized extract (exact group quotas, exactly known attrition,
    three malformed records). n_patients=N: a natural cohort of N patients (vectorised).
    """
    if sites < 1:
        raise ValueError("sites must be >= 1")
    if n_patients is None:
        patients = order_patients(seed, quota_cohort(seed, params, sites), shuffle=True)
        mode = "quota"
    else:
        if n_patients < 1:
            raise ValueError("n_patients must be >= 1")
        patients = order_patients(seed, natural_cohort(seed, n_patients, params, sites), shuffle=False)
        mode = "natural"
    tables = raw_tables(patients, sites)
    ids = tables["patients"]["patient_id"].to_numpy()
    return tables, truth_record(seed, patients, params, sites, ids, mode)


def main(argv: list[str] | None = None, prog: str = "python -m gistlm.synthetic") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Write a synthetic raw hospital extract and truth.json.")
    parser.add_argument(
        "--patients",
        type=int,
        default=None,
        help="natural cohort of N patients (default: the 238-patient study extract)",
    )
    parser.add_argument("--sites", type=int, default=1, help="number of hospitals (default 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", default="resources/extract")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    args = parser.parse_args(argv)
    if args.sites < 1 or (args.patients is not None and args.patients < 1):
        parser.error(
            "--sites and --patients take a whole number of 1 or more (--patients left out: the "
            "238-patient study extract)."
        )
    tables, truth = generate_extract(seed=args.seed, n_patients=args.patients, sites=args.sites)
    files = write_extract(tables, truth, args.out, fmt=args.format)
    print(
        f"wrote {len(files)} files to {args.out}: {truth['n_patients_total']} patients, "
        f"{truth['n_eligible']} eligible {truth['n_by_group']}"
    )
    return 0
