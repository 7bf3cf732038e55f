# Shared definitions of the rules: the sites and raw tables, and the code each rule runs.
import ast
import functools
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import strip_wildcard_constraints

from gistlm.configuration import is_synthetic

PACKAGE = Path(workflow.basedir) / "src" / "gistlm"
RAW_TABLES = ["patients", "liver_metastases", "treatments", "follow_up"]
# the site of a single extract (config `raw`); its name appears only in file paths
SINGLE_SITE = "main"
# written by rule disclosure_register (release.smk, included last) and read by the analyses before it
DISCLOSURE_REGISTER = "results/cohort/disclosure_register.csv"


def extract_sites():
    """Site name -> its four raw table paths: config `sites`, or `raw` as the one site."""
    if not config["sites"]:
        return {SINGLE_SITE: config["raw"]}
    names = [site["name"] for site in config["sites"]]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise WorkflowError(f"config `sites`: site names must be unique; repeated: {', '.join(repeated)}")
    return {site["name"]: site for site in config["sites"]}


SITES = extract_sites()


wildcard_constraints:
    site="|".join(map(re.escape, SITES)),


def package_code(*modules):
    """Files of the gistlm modules a rule runs, with every gistlm module they import.

    Declared as rule inputs so that editing one reruns exactly the rules that use it. Dotted
    modules are followed into subpackages (`estimators.cox` is src/gistlm/estimators/cox.py),
    with the `__init__.py` of each subpackage on the way, which Python runs on import; both
    `from gistlm.estimators import cox` and `from gistlm.estimators.cox import CoxFitter`. Found
    from the workflow's folder, named from the working directory (`--directory` may differ).
    """
    found, todo = set(), [(name, True) for name in modules]
    while todo:
        name, must_exist = todo.pop()
        path = module_file(name)
        if path is None:
            if must_exist:
                raise WorkflowError(f"package_code: no module gistlm.{name} in {PACKAGE}")
            continue  # `from gistlm.x import name`: a name defined in x, not a module
        if path in found:
            continue
        found.add(path)
        parts = name.split(".")
        todo += [(".".join(parts[:depth]), True) for depth in range(1, len(parts))]
        todo += _imported_modules(path)
    return sorted(os.path.relpath(path) for path in found)


def shipped(path):
    """A file shipped with the workflow (`path` from its folder), named from the working directory.

    Not workflow.source_path: Snakemake 9 hands rules its source-cache entry, which looks newer
    on every run and reran the report each time.
    """
    return os.path.relpath(Path(workflow.basedir) / path)


@functools.cache
def _imported_modules(path):
    """(module, must exist) for each gistlm import of one file, anywhere in it (a function's
    own imports too); `from gistlm.x import name` may import a module or a name of x.

    Cached: each rule asks again for the modules the others share, and parsing every file
    once per rule made the workflow's parse (so every no-op rerun) seconds slower. Only the
    lines that begin a gistlm import are parsed (ruff allows one statement per line; 0.08 s
    of every Snakemake start for the whole files); if they do not parse on their own (a
    docstring line that looks like one), the whole file is. Only statements are walked (an
    import is a statement), not the expressions in them.
    """
    text = path.read_text()
    # `from gistlm... import` with its parenthesised names over lines, or `import gistlm...`
    found = re.findall(r"^[ \t]*(?:from[ \t]+gistlm\b[^\n(]*(?:\([^)]*\))?|import[ \t]+gistlm\b)[^\n]*", text, re.M)
    try:
        tree = ast.parse("\n".join(statement.strip() for statement in found))
    except SyntaxError:
        tree = ast.parse(text)
    names, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gistlm" and not node.level:
            inner = node.module.partition(".")[2]
            if inner:
                names.append((inner, True))
            names += [(f"{inner}.{a.name}".lstrip("."), False) for a in node.names]
        elif isinstance(node, ast.Import):
            names += [(a.name.partition(".")[2], True) for a in node.names if a.name.startswith("gistlm.")]
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            todo += getattr(node, field, [])
    return names


def module_file(name):
    """The file of gistlm module `name` (dotted, without `gistlm.`): a module or a subpackage's
    `__init__.py`; None if there is neither."""
    base = PACKAGE.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


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


def bootstrap_settings():
    """The IPTW analysis the bootstrap repeats: the same for the replicates and the cohort's own estimates."""
    return {
        "weighting": setting("causal", "weighting"),
        "propensity": setting("causal", "propensity"),
        "survival_at_months": setting("causal", "survival_at_months"),
        "rmst_horizons_months": setting("causal", "rmst_horizons_months"),
    }


def pseudonym_key_fingerprint():
    """Fingerprint of the pseudonymisation key in use; a missing release key fails in the rule."""
    from gistlm.extract.errors import ExtractError
    from gistlm.extract.pseudonyms import key_fingerprint, load_key

    privacy = config["privacy"]
    try:
        return key_fingerprint(load_key(privacy["key_env"], privacy.get("key_file"), privacy["release"])[0])
    except ExtractError:
        return "no key"


def raw_tables_of_site(wildcards):
    """The user's file of each raw table of one site (config `sites` or `raw`), named by table."""
    return {table: SITES[wildcards.site][table] for table in RAW_TABLES}


def raw_files(table):
    """The user's file of one raw table for every site, in site order."""
    return [SITES[site][table] for site in SITES]


def raw_patients_file(wildcards):
    """The site's raw patients file as configured: it names the ledger entry of a row without an id."""
    return SITES[wildcards.site]["patients"]


def pseudonym_namespace(wildcards):
    """Ids are unique only within a site: with several sites the site is part of the hashed id."""
    return wildcards.site if config["sites"] else ""


def by_table(path, suffix=""):
    """One named file per raw table: `path` with its {table} filled in (other wildcards stay)."""
    return {table + suffix: str(path).replace("{table}", table) for table in RAW_TABLES}


def all_sites(path):
    """`path` (with {site}) for every site."""
    return expand(path, site=SITES)


def validated_tables():
    """The pooled validated tables (every site, with a `site` column), named by table."""
    return {table: rules.pool_sites.output[table] for table in RAW_TABLES}


def analysis_plan():
    """The config sections the report's methods paragraph describes."""
    return {
        "eligibility": setting("eligibility"),
        "groups": setting("groups"),
        "outcome": setting("outcome"),
        "covariate_cutoffs": setting("covariate_cutoffs"),
        "data_dictionary": setting("data_dictionary"),
        "cox_covariates": setting("survival", "cox_covariates"),
        "alpha": setting("survival", "alpha"),
        "rate_months": setting("survival", "rate_months"),
        "privacy": setting("privacy"),
        "latest_date": setting("validation", "latest_date"),
        "sites": sorted(SITES) if config["sites"] else [],
        "stratify_by_site": stratified_by_site(),
        "synthetic_extract": is_synthetic(config, workflow.basedir),
        "ph_test_transform": setting("survival", "ph_test_transform"),
    }


def stratified_by_site():
    """Cox models get a baseline hazard per site only when there are several sites."""
    return bool(config["sites"]) and len(SITES) > 1 and config["survival"]["stratify_by_site"]


# Rules with a provenance record that the run does not gather, and why.
NOT_GATHERED = {
    "gather_provenance": "it is the gathering",
    "report_pdf": "made only when asked for",
}


def provenance_records(wildcards):
    """The provenance record of every job of the run: each rule's `provenance` output, for every site
    and bootstrap chunk it is written for.

    Read from the workflow's rules when the jobs are planned (every rule is defined by then), so
    that a new rule's record cannot be left out.
    """
    values = {"site": list(SITES), "chunk": range(config["causal"]["bootstrap"]["chunks"])}
    records = []
    for step in workflow.rules:
        if "provenance" in step.output.keys() and step.name not in NOT_GATHERED:
            pattern = strip_wildcard_constraints(step.output.provenance)
            records += expand(pattern, **{name: values[name] for name in step.wildcard_names})
    return sorted(records)


def declare_software():
    """One software declaration for the whole workflow: every rule that runs a script gets the gistlm env.

    Called once all rules are defined; Snakemake 9's global conda directive would not do it, as it
    injects the env into Snakemake's own process only (script jobs run with its Python), and
    `--lint` asks each rule for its software.
    """
    software = workflow.source_path("../envs/gistlm.yaml")
    for step in workflow.rules:
        if step.script:
            step.conda_env = software


# On a cluster these run on the submitting host, not as Slurm jobs: they only assemble and
# check small result files (at 1M patients each takes at most 2 s and 140 MB; the cohort-wide
# work of E-values and bootstrap intervals is in unweighted_diagnostics and
# bootstrap_estimates). As Slurm jobs they were a third round after the analyses' groups:
# submission, start-up, ~3 s of srun and Snakemake per job one after the other, and polling.
localrules:
    gather_provenance,
    e_values,
    bootstrap_gather,
    render_causal_section,
    render_report,
    release_tables,
    disclosure_audit,
    release_manifest,
