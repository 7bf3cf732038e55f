"""gistlm.estimators.multinomial_logit against R (tests/reference/multinomial_logit.R) and
statsmodels' MNLogit, which it replaced in the propensity model."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import MNLogit

from gistlm.estimators.multinomial_logit import fit_by_distinct_rows, fit_multinomial_logit, probabilities

REFERENCE = Path(__file__).parent / "reference"
COVARIATES = ["age", "sex", "wt.loss"]


@pytest.fixture(scope="module")
def lung():
    data = pd.read_csv(REFERENCE / "multinomial_logit_lung_input.csv")
    exog = np.column_stack([np.ones(len(data)), data[COVARIATES].to_numpy(float)])
    return exog, data["ph.ecog"].to_numpy(), data["weight"].to_numpy(float)


def test_weighted_fit_equals_rs_exact_fit(lung):
    exog, codes, weights = lung
    expected = pd.read_csv(REFERENCE / "multinomial_logit_lung_coefficients.csv")[["group_1", "group_2"]]
    coefficients, converged = fit_multinomial_logit(exog, codes, weights)
    assert converged
    np.testing.assert_allclose(coefficients, expected.to_numpy(), rtol=1e-9, atol=1e-12)


def test_frequency_weights_equal_repeated_rows_and_statsmodels(lung):
    exog, codes, weights = lung
    repeated = np.repeat(np.arange(len(codes)), weights.astype(int))
    coefficients, converged, fitted = fit_by_distinct_rows(exog[repeated], codes[repeated])
    weighted = fit_multinomial_logit(exog, codes, weights)[0]
    assert converged
    np.testing.assert_allclose(coefficients, weighted, rtol=1e-12)
    theirs = MNLogit(codes[repeated], exog[repeated]).fit(method="newton", disp=0)
    np.testing.assert_allclose(coefficients, theirs.params, rtol=1e-9)
    np.testing.assert_allclose(fitted, theirs.predict(exog[repeated]), rtol=1e-10)
    np.testing.assert_allclose(fitted.sum(axis=1), 1.0)


def test_a_start_at_the_maximum_stops_at_once_and_separation_does_not_converge(lung):
    exog, codes, weights = lung
    coefficients = fit_multinomial_logit(exog, codes, weights)[0]
    again, converged = fit_multinomial_logit(exog, codes, weights, start=coefficients, max_iter=1)
    assert converged and np.allclose(again, coefficients, rtol=1e-12)
    # group 1 exactly where x > 0: the coefficient runs to infinity
    x = np.column_stack([np.ones(6), [-2.0, -1, 1, 2, -1.5, 1.5]])
    assert not fit_multinomial_logit(x, np.array([0, 0, 1, 1, 0, 1]), np.ones(6))[1]
    # extreme linear predictors give probabilities, not NaN
    assert np.isfinite(probabilities(x, np.array([[0.0], [800.0]]))).all()


@pytest.mark.slow  # reruns R: it checks the stored reference the tests above compare with
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_the_r_reference_regenerates_identically(tmp_path):
    shutil.copy(REFERENCE / "multinomial_logit.R", tmp_path)
    subprocess.run(["Rscript", "multinomial_logit.R"], cwd=tmp_path, check=True, capture_output=True)
    for name in ["multinomial_logit_lung_input.csv", "multinomial_logit_lung_coefficients.csv"]:
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name), pd.read_csv(REFERENCE / name), rtol=1e-12)
