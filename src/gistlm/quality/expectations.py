"""The data-quality suite of the analysis cohort, run by great-expectations.

Each expectation carries a severity from the config: a failed `critical` one stops the run,
a failed `warning` one is listed in the report. The GX context is ephemeral, so no global
GX state is read or left behind. The result pages (results/data_docs/) are written by
`gistlm.quality.pages`, not GX's Data Docs, which load their styles and scripts from CDNs.
"""

import os

import pandas as pd

from gistlm.extract.errors import ExtractError
from gistlm.quality.pages import write_validation_pages

# GX would otherwise try to send usage analytics from this offline machine.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

RESULT_COLUMNS = ["check", "expectation", "column", "severity", "success", "unexpected", "details"]


def expectations(settings: dict, groups: list[str], covariates: list[str]) -> list[tuple[str, object]]:
    """(check name, GX expectation) pairs of the suite, in the order they are reported."""
    e = gx.expectations
    pairs = [
        ("unique_ids", e.ExpectColumnValuesToBeUnique(column="patient_id")),
        ("outcome_not_null", e.ExpectColumnValuesToNotBeNull(column="os_months")),
        ("outcome_not_null", e.ExpectColumnValuesToNotBeNull(column="death")),
        (
            "os_range",
            e.ExpectColumnValuesToBeBetween(column="os_months", min_value=0, max_value=settings["max_months"]),
        ),
        ("death_binary", e.ExpectColumnValuesToBeInSet(column="death", value_set=[0, 1])),
        ("group_labels", e.ExpectColumnValuesToBeInSet(column="group", value_set=groups)),
        ("group_sizes", e.ExpectColumnDistinctValuesToContainSet(column="group", value_set=groups)),
    ]
    pairs += [
        (
            "covariate_missingness",
            e.ExpectColumnValuesToNotBeNull(column=name, mostly=1 - settings["max_missing_fraction"]),
        )
        for name in covariates
    ]
    pairs += [
        ("plausible_ranges", e.ExpectColumnValuesToBeBetween(column=name, min_value=low, max_value=high))
        for name, (low, high) in settings["plausible_ranges"].items()
    ]
    return pairs


def group_size_check(cohort: pd.DataFrame, groups: list[str], minimum: int) -> dict:
    """Groups smaller than the minimum: GX has no per-value count expectation, so count here."""
    sizes = cohort["group"].astype(str).value_counts().reindex(groups, fill_value=0)
    small = sizes[sizes < minimum]
    return {
        "check": "group_sizes",
        "expectation": f"every group has at least {minimum} patients",
        "column": "group",
        "success": small.empty,
        "unexpected": len(small),
        "details": ", ".join(f"{g}: {n}" for g, n in small.items()) or "all groups large enough",
    }


def run_suite(
    cohort: pd.DataFrame, settings: dict, groups: list[str], covariates: list[str], docs_dir: str
) -> pd.DataFrame:
    """Validate the cohort, write its result pages to docs_dir; one result row per expectation."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("cohort")
        .add_dataframe_asset("analysis_cohort")
        .add_batch_definition_whole_dataframe("all_patients")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="analysis_cohort"))
    checks = expectations(settings, groups, covariates)
    for check, expectation in checks:
        expectation.meta = {"check": check, "severity": settings["severity"][check]}
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="analysis_cohort", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="analysis_cohort", validation_definitions=[definition]))
    result = checkpoint.run(batch_parameters={"dataframe": cohort.assign(group=cohort["group"].astype(str))})
    rows = [_result_row(item) for run in result.run_results.values() for item in run.results]
    rows.append(
        {
            **group_size_check(cohort, groups, settings["min_group_size"]),
            "severity": settings["severity"]["group_sizes"],
        }
    )
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    write_validation_pages({"analysis_cohort": results}, docs_dir)
    return results


def _result_row(item) -> dict:
    config = item.expectation_config
    return {
        "check": config.meta["check"],
        "expectation": config.type,
        "column": config.kwargs.get("column"),
        "severity": config.meta["severity"],
        "success": bool(item.success),
        "unexpected": item.result.get("unexpected_count", 0),
        "details": str(item.result.get("partial_unexpected_list", item.result.get("observed_value", "")))[:200],
    }


def stop_on_critical(results: pd.DataFrame, cohort_path: str) -> None:
    """A failed critical expectation is a data problem the analysis must not run past."""
    failed = results[(results["severity"] == "critical") & ~results["success"]]
    if len(failed):
        listed = "; ".join(
            f"{row.check} on {row.column} ({row.unexpected} unexpected: {row.details})" for row in failed.itertuples()
        )
        raise ExtractError(
            f"critical data-quality expectation(s) failed on {cohort_path}: {listed}. See results/data_docs/index.html."
        )
