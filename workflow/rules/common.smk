# Shared definitions of the rules: the raw tables and the code each rule runs.
import ast
from pathlib import Path

PACKAGE = Path(workflow.basedir) / "src" / "gistlm"
RAW_TABLES = ["patients", "liver_metastases", "treatments", "follow_up"]


wildcard_constraints:
    table="|".join(RAW_TABLES),


def package_code(*modules):
    """Files of the gistlm modules a rule runs, with every gistlm module they import.

    Declared as rule inputs so that editing one reruns exactly the rules that use it.
    """
    found, todo = set(), list(modules)
    while todo:
        path = PACKAGE / f"{todo.pop()}.py"
        if path in found:
            continue
        found.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gistlm."):
                todo.append(node.module.split(".", 1)[1])
            elif isinstance(node, ast.Import):
                todo += [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("gistlm.")]
    return sorted(str(path.relative_to(workflow.basedir)) for path in found)


def setting(*keys):
    """A config value for `params:`, dicts with sorted keys at every level.

    Snakemake compares params by their text, so without sorting, merely reordering keys
    in the YAML would rerun the rule.
    """
    value = config
    for key in keys:
        value = value[key]
    return _sorted_keys(value)


def _sorted_keys(value):
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def pseudonym_key_fingerprint():
    """Fingerprint of the pseudonymisation key in use; a missing release key fails in the rule."""
    from gistlm.extract_errors import ExtractError
    from gistlm.pseudonyms import key_fingerprint, load_key

    privacy = config["privacy"]
    try:
        return key_fingerprint(load_key(privacy["key_env"], privacy.get("key_file"), privacy["release"])[0])
    except ExtractError:
        return "no key"


def raw_table_path(wildcards):
    """The user's file for one raw table, from config `raw.<table>`."""
    return config["raw"][wildcards.table]


def interim(name):
    return expand(f"results/interim/{{table}}.{name}", table=RAW_TABLES)


def validated_tables():
    return expand("results/validated/{table}.parquet", table=RAW_TABLES)


def analysis_plan():
    """The config sections the report's methods paragraph describes."""
    return {
        "eligibility": setting("eligibility"),
        "groups": setting("groups"),
        "outcome": setting("outcome"),
        "covariate_cutoffs": setting("covariate_cutoffs"),
        "cox_covariates": setting("survival", "cox_covariates"),
        "alpha": setting("survival", "alpha"),
        "rate_months": setting("survival", "rate_months"),
        "privacy": setting("privacy"),
        "latest_date": setting("validation", "latest_date"),
    }


def provenance_records():
    """The provenance record of every job of the run (each rule writes its own)."""
    single = ["validate_extract", "apply_eligibility", "derive_analysis_cohort", "patient_ledger",
              "data_quality_suite", "kaplan_meier", "cox_regression", "baseline_table",
              "draw_figures", "render_report",
              # causal analyses (workflow/rules/causal.smk)
              "local_treatment_dates", "time_varying_cox", "landmark_analysis", "clone_censor_weight",
              "propensity_weights", "iptw_survival", "restricted_mean_survival", "e_values",
              "bootstrap_gather", "draw_causal_figures", "render_causal_section"]
    chunks = expand("results/provenance/bootstrap_chunk/{chunk}.json",
                    chunk=range(config["causal"]["bootstrap"]["chunks"]))
    return expand("results/provenance/ingest_table/{table}.json", table=RAW_TABLES) + [
        f"results/provenance/{name}.json" for name in single
    ] + chunks


# Too short to be worth a cluster job (0.3 s measured): runs on the submitting host.
localrules: gather_provenance
