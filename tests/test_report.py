"""Report: Table 1 (tableone), the number formatters and the Jinja2 rendering."""

import inspect
import math
import statistics
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import pytest

from gistlm.causal import propensity
from gistlm.cohort.table_one import table_one
from gistlm.report import render
from gistlm.report.render import embed_png, failure_summary, fmt_number, fmt_p, fmt_percent, records, render_report
from gistlm.survival import overall_survival

GROUPS = ["IM", "IM+HR", "IM+RFA/TACE"]
SMD_COLUMNS = {"SMD (IM,IM+HR)", "SMD (IM,IM+RFA/TACE)", "SMD (IM+HR,IM+RFA/TACE)"}


@pytest.fixture(scope="module")
def cohort():
    frame = pd.DataFrame(
        {
            "group": ["IM"] * 4 + ["IM+HR"] * 3 + ["IM+RFA/TACE"] * 3,
            # IM 50/60/70/missing: mean 60, SD 10; IM+HR 40/45/50: 45 (5); IM+RFA/TACE 65/70/75: 70 (5)
            "age_at_lm_years": [50, 60, 70, np.nan, 40, 45, 50, 65, 70, 75.0],
            "male": [1, 0, 1, np.nan, 1, 1, 0, 0, np.nan, 1.0],
            "mutation": [
                "KIT_exon11",
                "KIT_exon9",
                "KIT_exon11",
                "PDGFRA",
                "KIT_exon11",
                "KIT_exon11",
                "KIT_exon9",
                "KIT_exon9",
                "KIT_exon11",
                "wild_type",
            ],
        }
    )
    frame["group"] = pd.Categorical(frame["group"], categories=GROUPS)
    return frame


@pytest.fixture(scope="module")
def table(cohort):
    return table_one(cohort, GROUPS, ["age_at_lm_years"], ["male", "mutation"])


def test_table_one_columns(table):
    assert list(table.columns) == [
        "variable",
        "level",
        "Missing",
        "Overall",
        *GROUPS,
        "SMD (IM+HR,IM+RFA/TACE)",
        "SMD (IM,IM+HR)",
        "SMD (IM,IM+RFA/TACE)",
    ]
    assert SMD_COLUMNS <= set(table.columns)


def test_table_one_binary_variable_by_hand(table):
    # male among patients with a value: IM 1,0,1 (2/3); IM+HR 1,1,0 (2/3); IM+RFA/TACE 0,1 (1/2); overall 5/8
    male = table[table["variable"] == "male, n (%)"].set_index("level")
    assert list(male.index) == ["0.0", "1.0", "Missing"]
    assert male.loc["1.0", ["Overall", *GROUPS]].tolist() == ["5 (62.5)", "2 (66.7)", "2 (66.7)", "1 (50.0)"]
    assert male.loc["0.0", ["Overall", *GROUPS]].tolist() == ["3 (37.5)", "1 (33.3)", "1 (33.3)", "1 (50.0)"]
    assert male.loc["Missing", ["Overall", *GROUPS]].tolist() == ["2 (20.0)", "1 (25.0)", "0 (0.0)", "1 (33.3)"]

    def smd(p1, p2):
        return abs(p2 - p1) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)

    assert male.loc["0.0", "SMD (IM,IM+HR)"] == "<0.001"  # equal proportions
    assert float(male.loc["0.0", "SMD (IM,IM+RFA/TACE)"]) == pytest.approx(smd(2 / 3, 1 / 2), abs=1e-3)
    assert float(male.loc["0.0", "SMD (IM+HR,IM+RFA/TACE)"]) == pytest.approx(smd(2 / 3, 1 / 2), abs=1e-3)


def test_table_one_overall_column_pools_the_groups(table):
    age = table[table["level"] != "Missing"].set_index("variable").loc["age_at_lm_years, mean (SD)"]
    known = [50, 60, 70, 40, 45, 50, 65, 70, 75]
    assert age["Overall"] == f"{statistics.mean(known):.1f} ({statistics.stdev(known):.1f})"  # 58.3 (12.5)


def test_table_one_has_one_row_per_variable_level(table):
    rows = list(zip(table["variable"], table["level"]))
    assert rows[0] == ("n", "")
    assert rows[1] == ("age_at_lm_years, mean (SD)", "")
    mutation = table[table["variable"] == "mutation, n (%)"]
    assert sorted(mutation["level"]) == ["KIT_exon11", "KIT_exon9", "PDGFRA", "wild_type"]
    counts = mutation.set_index("level")
    assert counts.loc["KIT_exon11", "Overall"] == "5 (50.0)"
    assert counts.loc["KIT_exon11", "IM"] == "2 (50.0)"
    assert counts.loc["PDGFRA", "IM+HR"] == "0 (0.0)"


def test_table_one_counts_and_summaries(table):
    n = table.set_index("variable").loc["n"]
    assert [int(n[column]) for column in ["Overall", *GROUPS]] == [10, 4, 3, 3]
    age = table[table["level"] != "Missing"].set_index("variable").loc["age_at_lm_years, mean (SD)"]
    assert (age["IM"], age["IM+HR"], age["IM+RFA/TACE"]) == ("60.0 (10.0)", "45.0 (5.0)", "70.0 (5.0)")


def test_table_one_smd_of_a_continuous_variable_by_hand(table):
    age = table[table["level"] != "Missing"].set_index("variable").loc["age_at_lm_years, mean (SD)"]

    def smd(m1, s1, m2, s2):
        return (m2 - m1) / math.sqrt((s1**2 + s2**2) / 2)

    assert float(age["SMD (IM,IM+HR)"]) == pytest.approx(smd(60, 10, 45, 5), abs=1e-3)
    assert float(age["SMD (IM,IM+RFA/TACE)"]) == pytest.approx(smd(60, 10, 70, 5), abs=1e-3)
    assert float(age["SMD (IM+HR,IM+RFA/TACE)"]) == pytest.approx(smd(45, 5, 70, 5), abs=1e-3)


def missing_counts(table, variable):
    """The non-blank entries of the Missing column for one variable, as integers."""
    values = table.loc[table["variable"] == variable, "Missing"]
    return [int(value) for value in values if str(value).strip() not in {"", "nan", "None"}]


def test_table_one_missing_column_counts_a_continuous_variable(table):
    assert missing_counts(table, "age_at_lm_years, mean (SD)") == [1]


def test_table_one_missing_column_counts_a_categorical_variable(table):
    # two patients have no `male` value: Missing must say 2 (the report's legend:
    # "Missing = number of patients without a value")
    assert missing_counts(table, "male, n (%)") == [2]
    assert missing_counts(table, "mutation, n (%)") == [0]


def as_written(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def tableone_itself(cohort, continuous, categorical):
    """The table as tableone computes every row of it (the categorical ones included)."""
    from gistlm.cohort.table_one import _with_missing_rows, tableone_rows

    data = cohort[continuous + categorical].copy()
    data["group"] = pd.Categorical(cohort["group"].astype(str), categories=GROUPS)
    return _with_missing_rows(tableone_rows(data, GROUPS, continuous, categorical), data, GROUPS)


def test_table_one_writes_what_tableone_writes(cohort):
    # the categorical rows are counted by gistlm (tableone's take 52 s at 1M patients):
    # the file must not change by a character
    assert as_written(table_one(cohort, GROUPS, ["age_at_lm_years"], ["male", "mutation"])) == as_written(
        tableone_itself(cohort, ["age_at_lm_years"], ["male", "mutation"])
    )


def test_table_one_writes_what_tableone_writes_on_awkward_levels():
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "group": rng.choice(GROUPS, n, p=[0.5, 0.4, 0.1]),
            "size": rng.gamma(2, 3, n),
            "ecog": rng.choice([0, 1, 2, 3], n).astype(float),  # float levels print as 0.0, 1.0
            "site": rng.choice(["stomach", "Small_intestine", "other", "esophagus"], n).astype(object),
            "only_one": np.ones(n),  # a single level: its SMDs are 0
        }
    )
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    frame.loc[rng.random(n) < 0.15, "site"] = None
    frame.loc[frame["group"] == "IM+RFA/TACE", "ecog"] = np.nan  # a group without any value
    frame.loc[(frame["group"] == "IM+HR") & (frame["site"] == "other"), "site"] = "stomach"  # a level a group lacks
    categorical = ["ecog", "site", "only_one"]
    ours = table_one(frame, GROUPS, ["size"], categorical)
    assert as_written(ours) == as_written(tableone_itself(frame, ["size"], categorical))
    site = ours[ours["variable"] == "site, n (%)"].set_index("level")
    assert site.loc["other", "IM+HR"] == "0 (0.0)" and site.loc["Missing", "Overall"].startswith(
        f"{frame['site'].isna().sum()} ("
    )
    # no continuous variable at all: the same categorical rows
    without = table_one(frame, GROUPS, [], categorical)
    assert as_written(without) == as_written(tableone_itself(frame, [], categorical))


def test_table_one_names_a_categorical_variable_without_any_value(cohort):
    # tableone failed on it with a numpy traceback
    from gistlm.extract.errors import ExtractError

    with pytest.raises(
        ExtractError, match=r"`male` \(config key `table_one.categorical`\) has no value for any patient"
    ):
        table_one(cohort.assign(male=np.nan), GROUPS, ["age_at_lm_years"], ["male"])


# --- formatting filters ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.0004, "<0.001"),
        (0.000999, "<0.001"),
        (0.001, "0.001"),
        (0.0123, "0.012"),
        (0.5, "0.500"),
        (1.0, "1.000"),
        (None, "–"),
        (float("nan"), "–"),
        (np.float64(0.04712), "0.047"),
    ],
)
def test_fmt_p(value, expected):
    assert fmt_p(value) == expected


@pytest.mark.parametrize(
    "args, expected",
    [
        ((132.6,), "132.60"),
        ((132.6, 1), "132.6"),
        ((44.83, 0), "45"),
        ((None,), "–"),
        ((float("nan"), 1, "not reached"), "not reached"),
        ((np.float64(0.361), 3), "0.361"),
    ],
)
def test_fmt_number(args, expected):
    assert fmt_number(*args) == expected


@pytest.mark.parametrize(
    "value, expected", [(0.611, "61.1%"), (0.9195, "92.0%"), (1.0, "100.0%"), (None, "–"), (float("nan"), "–")]
)
def test_fmt_percent(value, expected):
    assert fmt_percent(value) == expected


# --- rendering ---------------------------------------------------------------------------


def test_render_report_uses_the_filters(tmp_path):
    template = tmp_path / "tiny.html.j2"
    template.write_text(
        "p={{ p | p }} hr={{ hr | num(3) }} rate={{ rate | pct }} median={{ median | num(1, 'NR') }}\n"
        "{% for row in rows %}[{{ row.group }}:{{ row.n }}]{% endfor %}\n<i>{{ note }}</i>\n",
        encoding="utf-8",
    )
    rows = records(pd.DataFrame({"group": ["IM", "IM+HR"], "n": [126, 81]}))
    html = render_report(
        template, {"p": 0.0004, "hr": 0.3612, "rate": 0.611, "median": float("nan"), "rows": rows, "note": "a < b & c"}
    )
    lines = html.splitlines()
    # "<0.001" is HTML-escaped, so a browser shows it as written
    assert lines[0] == "p=&lt;0.001 hr=0.361 rate=61.1% median=NR"
    # trim_blocks: the newline after a block tag is dropped; .j2 templates are autoescaped,
    # so data cannot inject markup
    assert lines[1] == "[IM:126][IM+HR:81]<i>a &lt; b &amp; c</i>"
    assert len(lines) == 2


def test_render_report_is_strict_about_undefined_variables(tmp_path):
    template = tmp_path / "tiny.html.j2"
    template.write_text("{{ defined }} and {{ not_given }}", encoding="utf-8")
    with pytest.raises(jinja2.UndefinedError, match="not_given"):
        render_report(template, {"defined": 1})


def test_records_turn_missing_values_into_none():
    rows = records(pd.DataFrame({"group": ["IM", "IM+HR"], "median": [132.6, np.nan]}))
    assert rows == [{"group": "IM", "median": 132.6}, {"group": "IM+HR", "median": None}]


def test_failure_summary_counts_by_table_column_and_check():
    failures = pd.DataFrame(
        {
            "table": ["patients", "patients", "follow_up"],
            "row": [2, 3, 4],
            "column": ["sex", "sex", "death_date"],
            "check": ["isin(['M', 'F'])"] * 2 + ["death_date given when dead"],
            "value": ["X", "Y", "nan"],
            "patient_id": ["P01", "P02", "P03"],
        }
    )
    summary = failure_summary(failures)
    assert summary.values.tolist() == [
        ["follow_up", "death_date", "death_date given when dead", 1],
        ["patients", "sex", "isin(['M', 'F'])", 2],
    ]
    assert failure_summary(failures.iloc[0:0]).empty


def test_embed_png_is_a_data_uri(tmp_path):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert embed_png(png) == "data:image/png;base64,iVBORw0KGgo="


def test_small_counts_are_hidden_and_a_lone_one_gets_a_secondary_partner():
    from gistlm.release.disclosure import release_attrition, release_counts, suppress_with_total

    counts = pd.Series([126, 4, 31])
    assert list(release_counts(counts, 5)) == ["126", "<5", "suppressed"]
    assert list(release_counts(pd.Series([126, 4, 3]), 5)) == ["126", "<5", "<5"]
    assert list(release_counts(pd.Series([126, 0, 30]), 5)) == ["126", "0", "30"]
    medians = pd.DataFrame({"group": ["IM", "IM+HR", "IM+RFA/TACE", "All"], "events": [23, 4, 6, 33]})
    hidden = suppress_with_total(medians, ["events"], medians["group"] == "All", 5)
    assert list(hidden["events"]) == ["23", "<5", "suppressed", "33"]
    attrition = pd.DataFrame(
        {
            "step": ["raw extract", "a", "b", "analysis cohort"],
            "remaining": [20, 17, 10, 10],
            "excluded": [0, 3, 7, 0],
            "reason": "",
        }
    )
    released = release_attrition(attrition, 5)
    assert list(released["excluded"]) == [0, "<5", "suppressed", 0]
    assert list(released["remaining"]) == [20, "", "", 10]


# --- Table 1 as a journal prints it ----------------------------------------------------------

DICTIONARY = {
    "age_at_lm_years": {"label": "Age at LM diagnosis, years"},
    "male": {"label": "Sex", "levels": {"0": "Female", "1": "Male"}, "one_row": "1"},
    "primary_site": {
        "label": "Primary tumour site",
        "levels": {"stomach": "Stomach", "small_intestine": "Small intestine", "colorectum": "Colorectum"},
    },
}


@pytest.fixture(scope="module")
def journal_table(tmp_path_factory):
    """60 patients: stomach large in every group; small intestine and colorectum small in some."""
    from gistlm.cohort.table_one import journal_table_one
    from gistlm.report.data_dictionary import resolved

    sites = {
        "IM": [("stomach", 20), ("small_intestine", 7), ("colorectum", 3)],
        "IM+HR": [("stomach", 14), ("small_intestine", 4), ("colorectum", 2)],
        "IM+RFA/TACE": [("stomach", 6), ("small_intestine", 3), ("colorectum", 1)],
    }
    males = {"IM": 15, "IM+HR": 10, "IM+RFA/TACE": 2}
    frames = []
    for group, levels in sites.items():
        site = [name for name, count in levels for _ in range(count)]
        male = [1.0] * males[group] + [0.0] * (len(site) - males[group])
        if group == "IM":
            male[-1] = np.nan  # one IM patient without a recorded sex (a female otherwise)
        frames.append(
            pd.DataFrame(
                {"group": group, "primary_site": site, "male": male, "age_at_lm_years": np.linspace(40, 80, len(site))}
            )
        )
    cohort = pd.concat(frames, ignore_index=True)
    path = tmp_path_factory.mktemp("table_one") / "table_one.csv"
    table_one(cohort, GROUPS, ["age_at_lm_years"], ["male", "primary_site"]).to_csv(path, index=False)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])  # as the rules read it
    return journal_table_one(raw, GROUPS, resolved(DICTIONARY, {}), 5)


def test_journal_table_one_labels_levels_and_binary_rows(journal_table):
    assert list(journal_table["Characteristic"][journal_table["Characteristic"] != ""]) == [
        "Patients, n",
        "Age at LM diagnosis, years, mean (SD)",
        "Male, n (%)",
        "Primary tumour site, n (%)",
    ]
    site = journal_table.index[journal_table["Characteristic"] == "Primary tumour site, n (%)"][0]
    assert list(journal_table.loc[site + 1 : site + 3, "Level"]) == ["Stomach", "Small intestine", "Colorectum"]
    assert "Female" not in set(journal_table["Level"])  # a binary variable is one row
    male = journal_table.index[journal_table["Characteristic"] == "Male, n (%)"][0]
    assert journal_table.loc[male + 1, "Level"] == "Missing"  # missing values as their own line


def test_journal_table_one_hides_only_small_cells_and_their_complements_within_the_variable(journal_table):
    rows = journal_table.set_index("Level")
    # stomach: every count shown, percent of the group
    assert list(rows.loc["Stomach", ["Overall", *GROUPS]]) == ["40 (66.7)", "20 (66.7)", "14 (70.0)", "6 (60.0)"]
    # small intestine IM+HR 4 and IM+RFA/TACE 3, colorectum all groups small: primary; IM's colorectum
    # count alone in its column would follow from IM's 30 patients, so IM's small-intestine 7 goes too
    assert list(rows.loc["Small intestine", ["Overall", *GROUPS]]) == ["14 (23.3)", "suppressed", "<5", "<5"]
    assert list(rows.loc["Colorectum", ["Overall", *GROUPS]]) == ["6 (10.0)", "<5", "<5", "<5"]
    # Male: IM+RFA/TACE's 2 is small; the row adds up to Overall, so IM+HR's 10 (smaller than IM's 15) goes
    male = journal_table[journal_table["Characteristic"] == "Male, n (%)"].iloc[0]
    assert [male[column] for column in ["Overall", *GROUPS]] == ["27 (45.0)", "15 (50.0)", "suppressed", "<5"]
    assert male[[column for column in journal_table.columns if column.startswith("SMD")]].eq("").all()
    age = journal_table[journal_table["Characteristic"].str.startswith("Age at LM")].iloc[0]
    assert age["SMD (IM,IM+HR)"] != ""  # a mean's SMD gives no count away


def test_cox_terms_and_levels_by_name():
    from gistlm.report.data_dictionary import level_label, resolved, term_label

    dictionary = resolved(
        {
            "age_over_cutoff": {
                "label": "Age",
                "levels": {"0": "Age ≤ {age_years} years", "1": "Age > {age_years} years"},
                "one_row": "1",
            },
            "male": DICTIONARY["male"],
        },
        {"age_years": 60},
    )
    assert term_label("age_over_cutoff", dictionary) == "Age > 60 years vs Age ≤ 60 years"
    assert term_label("male", dictionary) == "Male vs Female"
    assert term_label("IM+HR vs IM", dictionary) == "IM+HR vs IM"
    assert level_label("male", 1.0, dictionary) == "Male"
    assert level_label("primary_site", "stomach", dictionary) == "stomach"  # not in the dictionary: as stored


def test_love_plot_names_covariates_by_the_dictionary():
    from gistlm.report.causal_figures import love_plot
    from gistlm.report.data_dictionary import covariate_label, resolved

    dictionary = resolved({**DICTIONARY, "ecog": {"label": "ECOG performance status"}}, {})
    assert covariate_label("male", dictionary) == "Male"
    assert covariate_label("ecog", dictionary) == "ECOG performance status"
    balance = pd.DataFrame(
        {
            "comparison": "IM+HR vs IM",
            "weighting": "entropy balancing",
            "covariate": ["male", "ecog"],
            "smd_unweighted": [0.3, 0.2],
            "smd_weighted": [0.05, 0.02],
        }
    )
    figure = love_plot(balance, 0.1, dictionary)
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["ECOG performance status", "Male"]


def test_methods_text_names_the_code_that_computes_each_estimate():
    """The methods paragraph says which implementation produced each number; a statistician
    reads it as provenance, so it must follow the code (it named lifelines for Kaplan-Meier
    after gistlm's own estimator had replaced it)."""
    methods = (Path(render.__file__).parent / "templates" / "report.html.j2").read_text()
    assert "Kaplan–Meier estimates and their intervals are computed by gistlm as R's survfit" in methods
    assert "log-rank tests by lifelines" in methods
    assert overall_survival.kaplan_meier.__module__ == "gistlm.estimators.kaplan_meier"
    assert "from lifelines.statistics import" in inspect.getsource(overall_survival.logrank_tests)
    assert "lifelines" not in inspect.getsource(overall_survival.fit_kaplan_meier)
    causal = (Path(render.__file__).parent / "templates" / "causal_section.html.j2").read_text()
    assert "Propensity: multinomial logit (unpenalised maximum likelihood by Newton's method, gistlm." in causal
    assert "statsmodels" not in inspect.getsource(propensity)
