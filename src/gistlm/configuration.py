"""The configuration is the statistical analysis plan: checked before any job, summarised after.

Every mistake a statistician can make in the YAML stops the run while Snakemake builds the
DAG, with one paragraph naming the config key, where it was set and what to write instead:
an unknown key (with the nearest valid one), a value the schema rejects, a user config that
names only some of the raw tables (the others would silently come from the shipped synthetic
extract), and settings that disagree with each other, the extract contract or the columns
of the analysis cohort. After a successful run, `closing_summary` tells the user which
extract was analysed and what became of its patients.
"""

import ast
import codecs
import datetime
import difflib
import hashlib
import sys
from pathlib import Path

import yaml

from gistlm.extract.errors import ExtractError, report_extract_errors

RAW_TABLES = ["patients", "liver_metastases", "treatments", "follow_up"]
# the synthetic extract shipped with the workflow (the default `raw` of config/config.yaml)
SHIPPED_EXTRACT = Path("resources", "extract")
SYNTHETIC_WARNING = (
    "synthetic demonstration data, not patients: this run analysed the shipped extract "
    f"{SHIPPED_EXTRACT}/; name your own four tables in a config file "
    "(snakemake --cores 4 --configfile my_extract.yaml)"
)


# --- checks run from the Snakefile -------------------------------------------------------


def check_settings(config: dict, workflow) -> None:
    """Unknown keys, schema violations and an incomplete user extract; exits with one paragraph."""
    user = UserSettings(workflow)
    with report_extract_errors():
        # libyaml's parser when installed: the pure-Python one took ~0.3 s of every run's start
        schema = yaml.load(
            Path(workflow.basedir, "config", "schema.yaml").read_text(),
            Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader),
        )
        mistakes = schema_mistakes(config, schema, user)
        mistakes += incomplete_user_extract(user)
        raise_mistakes(mistakes)


def check_consistency(config: dict, workflow) -> None:
    """Settings that pass the schema but disagree with Python, the calendar, the extract
    contract, the analysis cohort or each other; exits with one paragraph."""
    user = UserSettings(workflow)
    with report_extract_errors():
        mistakes = (
            mixed_extract_mistakes(config, workflow.basedir)
            + encoding_mistakes(config)
            + date_mistakes(config)
            + lab_mistakes(config)
            + group_mistakes(config)
            + covariate_mistakes(config)
        )
        raise_mistakes([f"config key `{key}` ({user.where(key)}) {text}" for key, text in mistakes])


class UserSettings:
    """What the user gave on the command line (--configfile, --config) over config/config.yaml."""

    def __init__(self, workflow):
        settings = workflow.config_settings
        self.config = settings.overwrite_config or {}
        # as the user typed them (Snakemake makes them absolute)
        self.files = [str(shown_path(Path(path))) for path in settings.configfiles]

    def where(self, key: str) -> str:
        """Where the value of a config key (`a.b[2].c`) came from, for the message."""
        value = self.config
        # the section the user named is enough: list items are never merged, only replaced
        for part in key.split("[")[0].split("."):
            if not isinstance(value, dict) or part not in value:
                return "set in config/config.yaml"
            value = value[part]
        return "set in " + (", ".join(self.files) if self.files else "--config")


def shown_path(path: Path) -> Path:
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def raise_mistakes(mistakes: list[str]) -> None:
    if len(mistakes) == 1:
        raise ExtractError(sentence(mistakes[0]))
    if mistakes:
        numbered = " ".join(f"({number}) {sentence(text)}" for number, text in enumerate(mistakes, 1))
        raise ExtractError(f"{len(mistakes)} mistakes in the configuration: {numbered}")


def sentence(text: str) -> str:
    return text if text.endswith(("?", ".")) else f"{text}."


# --- the schema, with unknown keys named ---------------------------------------------------


def schema_mistakes(config: dict, schema: dict, user: UserSettings) -> list[str]:
    """Each schema violation as a sentence naming the config key, in the order of the keys."""
    from jsonschema import Draft202012Validator

    errors = list(Draft202012Validator(schema).iter_errors(config))
    # a misspelt key also makes the right one missing: name the misspelling only
    misspelt = {tuple(error.absolute_path) for error in errors if error.validator == "additionalProperties"}
    mistakes = []
    for error in sorted(errors, key=lambda error: [str(part) for part in error.absolute_path]):
        place = list(error.absolute_path)
        if error.validator == "additionalProperties":
            valid = sorted(error.schema.get("properties", {}))
            mistakes += [unknown_key(place, key, valid, user) for key in sorted(set(error.instance) - set(valid))]
        elif error.validator == "required" and tuple(place) not in misspelt:
            missing = dotted([*place, error.message.split("'")[1]])
            mistakes.append(
                f"config key `{missing}` is missing (needed beside the settings in {user.where(missing)})"
                if place
                else f"config section `{missing}` is missing"
            )
        elif error.validator == "enum":
            key = dotted(place)
            mistakes.append(
                f"config key `{key}` ({user.where(key)}) is `{error.instance}`, which is not one of "
                f"{', '.join(map(str, error.validator_value))}{nearest(error.instance, error.validator_value)}"
            )
        elif error.validator != "required":
            key = dotted(place)
            mistakes.append(f"config key `{key}` ({user.where(key)}) is not valid: {error.message}")
    return mistakes


def unknown_key(place: list, key: str, valid: list[str], user: UserSettings) -> str:
    name = dotted([*place, key])
    text = f"config key `{name}` ({user.where(name)}) is not known"
    nearest_key = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    if nearest_key:
        return f"{text}; did you mean `{dotted([*place, nearest_key[0]])}`?"
    return f"{text}; the keys known there are {', '.join(valid)}"


def dotted(place: list) -> str:
    """`sites[1].patients` style name of a place in the config (list items counted from 1)."""
    name = ""
    for part in place:
        name += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def incomplete_user_extract(user: UserSettings) -> list[str]:
    """A user config that names some raw tables must name all four: the others would
    otherwise come from the shipped synthetic extract, mixed with the user's data."""
    raw = user.config.get("raw") or {}
    named = [table for table in RAW_TABLES if table in raw]
    if user.config.get("sites") or not named or len(named) == len(RAW_TABLES):
        return []
    missing = ", ".join(f"`raw.{table}`" for table in RAW_TABLES if table not in raw)
    return [
        f"your configuration ({user.where('raw')[len('set in ') :]}) names "
        f"{', '.join(f'`raw.{table}`' for table in named)} but not {missing}: a configuration "
        "that names one raw table must name all four, so that the shipped synthetic extract "
        f"({SHIPPED_EXTRACT}/) is never mixed with your data; add the missing path"
    ]


# --- consistency (after the schema filled in the defaults) --------------------------------


def mixed_extract_mistakes(config: dict, basedir: str | Path) -> list[tuple[str, str]]:
    """Tables of the shipped synthetic extract beside the user's own: never analysed together."""
    shipped = [
        (site, table)
        for site, tables in analysed_tables(config).items()
        for table, path in tables.items()
        if from_shipped_extract(path, basedir)
    ]
    if not shipped or len(shipped) == len(RAW_TABLES) * len(analysed_tables(config)):
        return []
    names = [site["name"] for site in config["sites"]]
    return [
        (
            f"sites[{names.index(site) + 1}].{table}" if config["sites"] else f"raw.{table}",
            f"is `{analysed_tables(config)[site][table]}`, a table of the shipped synthetic extract, while other "
            "tables are your own: synthetic and real patients are never analysed together; name your own file",
        )
        for site, table in shipped
    ]


def encoding_mistakes(config: dict) -> list[tuple[str, str]]:
    encoding = config["raw"]["encoding"]
    try:
        codecs.lookup(encoding)
    except LookupError:
        return [
            (
                "raw.encoding",
                f"is `{encoding}`, which Python does not know as a text encoding; use e.g. utf-8 or gb18030",
            )
        ]
    return []


def date_mistakes(config: dict) -> list[tuple[str, str]]:
    latest = config["validation"]["latest_date"]
    try:
        datetime.date.fromisoformat(latest)
    except ValueError as error:
        return [("validation.latest_date", f"is `{latest}`, which is not a date ({error}); write YYYY-MM-DD")]
    return []


def lab_mistakes(config: dict) -> list[tuple[str, str]]:
    """Lab limits apply to numeric columns of the liver_metastases contract (values at LM diagnosis)."""
    columns = numeric_contract_columns("LiverMetastases")
    return [
        (
            f"eligibility.labs.{lab}",
            "names no numeric column of the liver_metastases table "
            f"(src/gistlm/extract/schema.py){nearest(lab, columns)}",
        )
        for lab in config["eligibility"]["labs"]
        if lab not in columns
    ]


# the data dictionary: pandera models whose numeric fields are annotated with one of these
SCHEMA_FILE = Path(__file__).parent / "extract" / "schema.py"
NUMERIC_FIELDS = {"Series[float]", "Series[pd.Int64Dtype]"}


def numeric_contract_columns(model: str) -> list[str]:
    """Numeric columns of one raw table's pandera model (`LiverMetastases`), in contract order.

    Read from the model's annotations in src/gistlm/extract/schema.py, not from the model:
    the Snakefile checks the settings at every start, and importing pandera cost 0.1 s of it.
    """
    tree = ast.parse(SCHEMA_FILE.read_text())
    fields = next(node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == model)
    return [
        field.target.id
        for field in fields
        if isinstance(field, ast.AnnAssign) and ast.unparse(field.annotation) in NUMERIC_FIELDS
    ]


def group_mistakes(config: dict) -> list[tuple[str, str]]:
    """Labels, reference, default and precedence must name the same groups."""
    groups = config["groups"]
    labels = groups["labels"]
    known = f"one of `groups.labels` ({', '.join(labels)})"
    mistakes = [
        (f"groups.{key}", f"is `{groups[key]}`, which is not {known}{nearest(groups[key], labels)}")
        for key in ["reference", "default"]
        if groups[key] not in labels
    ]
    ruled = [rule["label"] for rule in groups["precedence"]]
    mistakes += [
        (f"groups.precedence[{number}].label", f"is `{label}`, which is not {known}{nearest(label, labels)}")
        for number, label in enumerate(ruled, 1)
        if label not in labels
    ]
    if repeated := sorted({label for label in ruled if ruled.count(label) > 1}):
        mistakes.append(
            (
                "groups.precedence",
                f"gives the label {', '.join(repeated)} to more than one rule; each local-treatment group has one rule",
            )
        )
    if groups["default"] in ruled:
        mistakes.append(
            (
                "groups.default",
                f"(`{groups['default']}`) is the group of patients without local "
                "treatment, so no `groups.precedence` rule may assign it",
            )
        )
    if mistakes:
        return mistakes
    if unassigned := [label for label in labels if label != groups["default"] and label not in ruled]:
        mistakes.append(
            (
                "groups.labels",
                f"lists {', '.join(unassigned)}, which neither `groups.default` nor any "
                "`groups.precedence` rule assigns, so that group would be empty",
            )
        )
    if groups["reference"] != groups["default"]:
        mistakes.append(
            (
                "groups.reference",
                f"is `{groups['reference']}`, but every analysis compares a local "
                f"treatment with none: it must be the group of `groups.default` (`{groups['default']}`)",
            )
        )
    return mistakes


def covariate_mistakes(config: dict) -> list[tuple[str, str]]:
    """Every covariate list names columns of the analysis cohort (src/gistlm/cohort/analysis_cohort.py)."""
    from gistlm.cohort.analysis_cohort import COHORT_COLUMNS, COVARIATES

    lists = {
        "survival.cox_covariates": (config["survival"]["cox_covariates"], COVARIATES),
        "table_one.continuous": (config["table_one"]["continuous"], COVARIATES),
        "table_one.categorical": (config["table_one"]["categorical"], COVARIATES),
        "quality.plausible_ranges": (list(config["quality"]["plausible_ranges"]), COHORT_COLUMNS),
        "causal.propensity.covariates": (config["causal"]["propensity"]["covariates"], COVARIATES),
        "causal.clone_censor_weight.covariates": (config["causal"]["clone_censor_weight"]["covariates"], COVARIATES),
    }
    return [
        (
            key,
            f"names `{name}`, which is not a column of the analysis cohort (src/gistlm/cohort/analysis_cohort.py)"
            f"{nearest(name, columns)}",
        )
        for key, (names, columns) in lists.items()
        for name in names
        if name not in columns
    ]


def nearest(name, valid: list) -> str:
    """'; did you mean `x`?' for the closest valid name (case ignored), or the valid names."""
    folded = {str(option).casefold(): str(option) for option in valid}
    match = difflib.get_close_matches(str(name).casefold(), list(folded), n=1, cutoff=0.6)
    if match:
        return f"; did you mean `{folded[match[0]]}`?"
    return f"; valid: {', '.join(map(str, valid))}"


# --- what was analysed ---------------------------------------------------------------------


def analysed_tables(config: dict) -> dict[str, dict[str, str]]:
    """Site -> table -> path of every raw table the run reads."""
    if config["sites"]:
        return {site["name"]: {table: site[table] for table in RAW_TABLES} for site in config["sites"]}
    return {"main": {table: config["raw"][table] for table in RAW_TABLES}}


def is_synthetic(config: dict, basedir: str | Path) -> bool:
    """Does the run read any table of the shipped synthetic extract?"""
    return any(
        from_shipped_extract(path, basedir) for tables in analysed_tables(config).values() for path in tables.values()
    )


def from_shipped_extract(path: str, basedir: str | Path) -> bool:
    # the extract ships with the workflow (basedir); a relative `path` is the user's, from the working directory
    return (Path(basedir) / SHIPPED_EXTRACT).resolve() in Path(path).resolve().parents


def announce_synthetic(config: dict, workflow) -> None:
    """Warn on the console, before the first job, that the demonstration data is analysed."""
    if is_synthetic(config, workflow.basedir):
        print(f"\ngistlm: WARNING: {SYNTHETIC_WARNING}.\n", file=sys.stderr)


def print_closing_summary(config: dict, workflow) -> None:
    print(closing_summary(config, workflow), file=sys.stderr)


def closing_summary(config: dict, workflow) -> str:
    """After a successful run: extract (paths, SHA-256), patients' fates, report, warnings.

    Paths are the working directory's (`snakemake --directory`), not the workflow's folder.
    """
    basedir = Path(workflow.basedir)
    lines = ["", "gistlm: run complete.", "Extract analysed:"]
    for site, tables in analysed_tables(config).items():
        for table, path in tables.items():
            lines.append(f"  {site + ' ' if config['sites'] else ''}{table}: {path} (sha256 {file_sha256(path)[:12]})")
    warnings = [SYNTHETIC_WARNING] if is_synthetic(config, basedir) else []
    counts = ledger_counts(Path("results", "validation", "ledger_counts.csv"))
    if counts:
        raw = counts.get(
            "raw patients", sum(counts.get(status, 0) for status in ["analysed", "excluded", "quarantined"])
        )
        lines.append(
            f"Raw patients: {raw}; analysed {counts.get('analysed', 0)}, excluded "
            f"{counts.get('excluded', 0)} (results/cohort/attrition.csv), quarantined "
            f"{counts.get('quarantined', 0)} (results/validation/quarantine.csv)."
        )
        if counts.get("quarantined"):
            share = counts["quarantined"] / raw if raw else 0
            warnings.append(
                f"{counts['quarantined']} of {raw} patients ({share:.0%}) were quarantined for data "
                "faults and are not analysed; see results/validation/quarantine.csv and "
                "results/validation/failure_cases.csv"
            )
    if Path("results", "report.html").exists():
        lines.append("Report: results/report.html")
    lines += [f"WARNING: {warning}." for warning in warnings]
    return "\n".join(lines) + "\n"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ledger_counts(path: Path) -> dict[str, int]:
    """results/validation/ledger_counts.csv as status -> patients (empty if not made)."""
    import csv

    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {row["status"]: int(row["patients"]) for row in rows}
