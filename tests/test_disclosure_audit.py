"""One disclosure decision per count (gistlm.release.count_register) and the audit that tries to undo it
(gistlm.release.audit), on a cohort whose IM+HR group has 3 deaths."""

import numpy as np
import pandas as pd
import pytest

from gistlm.release.audit import RECOVERABLE, audit, manifest
from gistlm.release.count_register import PUBLISHED, build_register, cohort_cells, decide, released
from gistlm.survival.overall_survival import median_os, site_hazard_ratios

GROUPS = ["IM", "IM+HR", "IM+RFA/TACE"]
MINIMUM = 5
# group: (patients, deaths); IM+HR has 3 deaths (primary), IM+RFA/TACE 8
SIZES = {"IM": (60, 30), "IM+HR": (40, 3), "IM+RFA/TACE": (25, 8)}


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(11)
    frames = []
    for group, (patients, deaths) in SIZES.items():
        frames.append(
            pd.DataFrame(
                {
                    "group": group,
                    "site": "main",
                    "os_months": rng.uniform(1, 120, patients),
                    "death": [1] * deaths + [0] * (patients - deaths),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def register(cohort):
    return decide(build_register(cohort_cells(cohort, GROUPS)), MINIMUM)


def ccw_cox(deaths_hr: int, deaths_rfa: int, deaths_im: int) -> pd.DataFrame:
    """The counts columns of results/causal/ccw_cox.csv: every patient in every arm; the
    arms' deaths here equal their groups' (no death in the grace period)."""
    return pd.DataFrame(
        {
            "model": "clone-censor-weight",
            "term": ["IM+HR vs IM", "IM+RFA/TACE vs IM"],
            "arm": ["IM+HR within 12 months", "IM+RFA/TACE within 12 months"],
            "n": 125,
            "events": [deaths_hr, deaths_rfa],
            "events_reference": deaths_im,
        }
    )


def tables(cohort, register, unsuppressed: str | None = None) -> dict[str, pd.DataFrame]:
    """The released tables as the rules write them; `unsuppressed` names one file written
    with its true counts (as a table that bypassed the register would)."""
    raw = {
        "median_os.csv": median_os(cohort, GROUPS, 0.05),
        "follow_up.csv": median_os(cohort, GROUPS, 0.05, reverse=True),
        "site_hazard_ratios.csv": site_hazard_ratios(cohort, GROUPS, "IM", 0.05),
        "ccw_cox.csv": ccw_cox(3, 8, 30),
    }
    out = {}
    for name, table in raw.items():
        table = table if name == unsuppressed else released(table, register, PUBLISHED[name], MINIMUM)
        out[name] = table.astype(str)
    return out


def status(register) -> dict[str, str]:
    return register.set_index("cell")["status"].to_dict()


def test_register_hides_the_small_cell_and_its_complements_once(register):
    decided = status(register)
    assert decided["deaths[group=IM+HR]"] == "primary"
    # n = deaths + censored and the groups' sum to All: hand-derived partners
    assert {cell for cell, s in decided.items() if s == "complementary"} == {
        "censored[group=IM+HR]",
        "deaths[group=IM+RFA/TACE]",
        "censored[group=IM+RFA/TACE]",
    }
    assert {cell for cell, s in decided.items() if s == "shown"} >= {
        "patients[group=IM+HR]",
        "patients[group=All]",
        "deaths[group=All]",
        "deaths[group=IM]",
    }


def test_every_file_writes_a_cell_the_same_way(cohort, register):
    released_tables = tables(cohort, register)
    follow_up = released_tables["follow_up.csv"].set_index("group")
    median = released_tables["median_os.csv"].set_index("group")
    sites = released_tables["site_hazard_ratios.csv"].set_index("term")
    ccw = released_tables["ccw_cox.csv"].set_index("term")
    assert median.loc["IM+HR", "events"] == "<5" and median.loc["IM+RFA/TACE", "events"] == "suppressed"
    assert follow_up.loc["IM+HR", "events"] == "suppressed"  # n - censored would give the 3 deaths
    assert follow_up.loc["IM", "events"] == "30" and follow_up.loc["IM+HR", "n"] == "40"
    assert sites.loc["IM+HR vs IM", "deaths_in_group"] == "<5"
    assert sites.loc["IM+RFA/TACE vs IM", "deaths_in_group"] == "suppressed"
    assert ccw["events"].tolist() == ["<5", "suppressed"] and ccw["events_reference"].tolist() == ["30", "30"]


def test_audit_finds_nothing_recoverable_when_every_file_follows_the_register(cohort, register):
    result = audit(register, tables(cohort, register)).set_index("cell")
    assert (result["status"] != RECOVERABLE).all()
    assert result.loc["deaths[group=IM+HR]", "status"] == "protected"
    assert result.loc["deaths[group=IM+RFA/TACE]", "status"] == "protected"


@pytest.mark.parametrize(
    "file, cell, route",
    [
        # n - censored = deaths
        ("follow_up.csv", "deaths[group=IM+HR]", "deaths[group=IM+HR] + censored[group=IM+HR] = patients[group=IM+HR]"),
        # the deaths per site are the group's deaths, and the groups add up to All
        ("site_hazard_ratios.csv", "deaths[group=IM+RFA/TACE]", "published as 8"),
        ("site_hazard_ratios.csv", "deaths[group=IM+HR]", "published as 3"),
        ("median_os.csv", "deaths[group=IM+HR]", "published as 3"),
        # the arms' deaths are the groups' deaths counted another way
        ("ccw_cox.csv", "deaths[group=IM+HR]", "the deaths of arm 'IM+HR within 12 months'"),
        ("ccw_cox.csv", "deaths[group=IM+RFA/TACE]", "the deaths of arm 'IM+RFA/TACE within 12 months'"),
    ],
)
def test_audit_catches_each_route_when_one_file_is_not_suppressed(cohort, register, file, cell, route):
    result = audit(register, tables(cohort, register, unsuppressed=file)).set_index("cell")
    assert result.loc[cell, "status"] == RECOVERABLE
    assert file in result.loc[cell, "file"]
    assert route in result.loc[cell, "check"]


def test_audit_recovers_a_cell_through_the_group_sum(cohort, register):
    """IM+RFA/TACE's deaths published in the site table: with All and IM shown, IM+HR's 3 deaths
    follow from deaths[All] - deaths[IM] - deaths[IM+RFA/TACE] once its censored count is out too."""
    released_tables = tables(cohort, register)
    sites = released_tables["site_hazard_ratios.csv"]
    sites.loc[sites["term"] == "IM+RFA/TACE vs IM", "deaths_in_group"] = "8"
    result = audit(register, released_tables).set_index("cell")
    assert result.loc["deaths[group=IM+HR]", "status"] == RECOVERABLE
    assert (
        "deaths[group=All]" in result.loc["deaths[group=IM+HR]", "check"]
        or "several relations" in result.loc["deaths[group=IM+HR]", "check"]
    )


def test_several_sites_each_site_count_is_a_cell_and_the_pooled_rows_add_up():
    rng = np.random.default_rng(3)
    frames = [
        pd.DataFrame(
            {
                "site": site,
                "group": group,
                "os_months": rng.uniform(1, 100, n),
                "death": [1] * deaths + [0] * (n - deaths),
            }
        )
        for site in ["S01", "S02"]
        for group, (n, deaths) in {"IM": (40, 15), "IM+HR": (30, 3), "IM+RFA/TACE": (20, 6)}.items()
    ]
    cohort = pd.concat(frames, ignore_index=True)
    register = decide(build_register(cohort_cells(cohort, GROUPS)), MINIMUM)
    decided = status(register)
    assert decided["deaths[site=S01, group=IM+HR]"] == "primary" and decided["deaths[group=IM+HR]"] == "shown"  # 6
    sites = site_hazard_ratios(cohort, GROUPS, "IM", 0.05)
    released_sites = released(sites, register, PUBLISHED["site_hazard_ratios.csv"], MINIMUM).astype(str)
    assert released_sites["deaths_in_group"].tolist()[:6] == ["<5", "suppressed", "<5", "suppressed", "6", "12"]
    tables = {
        "site_hazard_ratios.csv": released_sites,
        "median_os.csv": released(
            median_os(cohort, GROUPS, 0.05), register, PUBLISHED["median_os.csv"], MINIMUM
        ).astype(str),
    }
    assert (audit(register, tables)["status"] != RECOVERABLE).all()
    tables["site_hazard_ratios.csv"] = sites.astype(str)
    result = audit(register, tables).set_index("cell")
    assert result.loc["deaths[site=S01, group=IM+HR]", "status"] == RECOVERABLE


def test_manifest_lists_every_file_with_its_hash_and_verdict(tmp_path, cohort, register):
    import hashlib

    (tmp_path / "tables").mkdir()
    for name, table in tables(cohort, register).items():
        table.to_csv(tmp_path / "tables" / name, index=False)
    (tmp_path / "report.html").write_text("<html></html>")
    result = audit(register, tables(cohort, register))
    listed = manifest(tmp_path, result).set_index("file")
    assert sorted(listed.index) == [
        "report.html",
        *sorted(f"tables/{name}" for name in PUBLISHED if (tmp_path / "tables" / name).exists()),
    ]
    assert listed.loc["report.html", "sha256"] == hashlib.sha256(b"<html></html>").hexdigest()
    assert listed.loc["report.html", "bytes"] == 13
    assert listed.loc["tables/follow_up.csv", "audit"] == "passed (counts audited)"


# --- the default run's release folder (real snakemake) ------------------------------------


def test_default_release_folder_gives_no_hidden_count_away(finished_run):
    import hashlib

    release = finished_run / "results" / "release"
    result = pd.read_csv(release / "disclosure_audit.csv", keep_default_na=False)
    assert (result["status"] != RECOVERABLE).all()
    assert set(result.loc[result["cell"] == "deaths[group=IM+HR]", "status"]) == {"protected"}
    tables = release / "tables"
    follow_up = pd.read_csv(tables / "follow_up.csv", dtype=str).set_index("group")
    median = pd.read_csv(tables / "median_os.csv", dtype=str).set_index("group")
    # route 1 of issue 11: n - censored in follow_up.csv gave IM+HR's deaths (81 - 77 = 4)
    assert median.loc["IM+HR", "events"] == "<5"
    assert not follow_up.loc["IM+HR", "events"].isdigit() or not follow_up.loc["IM+HR", "n"].isdigit()
    # route 2: IM+RFA/TACE's 6 deaths in the site and clone-censor-weight tables, then 33 - 23 - 6 = 4
    sites = pd.read_csv(tables / "site_hazard_ratios.csv", dtype=str).set_index("term")
    ccw = pd.read_csv(tables / "ccw_cox.csv", dtype=str).set_index("term")
    weights = pd.read_csv(tables / "ccw_weights.csv", dtype=str).set_index("arm")
    assert not median.loc["IM+RFA/TACE", "events"].isdigit()
    assert not sites.loc["IM+RFA/TACE vs IM", "deaths_in_group"].isdigit()
    assert not ccw.loc["IM+RFA/TACE vs IM", "events"].isdigit()
    assert not weights.loc["IM+RFA/TACE within 12 months", "deaths"].isdigit()
    # the manifest: every file, its hash and size; nothing patient-level in the folder
    manifest_rows = pd.read_csv(release / "MANIFEST.tsv", sep="\t").set_index("file")
    files = sorted(
        p.relative_to(release).as_posix()
        for p in release.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.tsv", ".snakemake_timestamp")
    )
    assert sorted(manifest_rows.index) == files
    assert {"report.html", "disclosure_audit.csv", "tables/table_one.csv", "figures/km.png"} <= set(files)
    for file in files:
        assert manifest_rows.loc[file, "sha256"] == hashlib.sha256((release / file).read_bytes()).hexdigest()
        assert manifest_rows.loc[file, "bytes"] == (release / file).stat().st_size
        if file.endswith(".csv"):
            assert "patient_id" not in pd.read_csv(release / file, nrows=0).columns, file
    assert manifest_rows["audit"].str.startswith("passed").all()


def test_default_table_one_shows_large_levels_and_word_copy_matches(finished_run):
    from docx import Document

    tables = finished_run / "results" / "release" / "tables"
    table_one = pd.read_csv(tables / "table_one.csv", dtype=str, keep_default_na=False)
    stomach = table_one.set_index("Level").loc["Stomach"]
    assert stomach["Overall"].startswith("151 (") and stomach["IM"].startswith("76 (")  # stomach is over half
    assert "Sex" not in set(table_one["Characteristic"]) and "Male, n (%)" in set(table_one["Characteristic"])
    assert "Primary tumour site, n (%)" in set(table_one["Characteristic"])
    word = Document(tables / "table_one.docx").tables[0]
    assert [[cell.text for cell in row.cells] for row in word.rows] == [
        list(table_one.columns),
        *table_one.values.tolist(),
    ]
    excel = pd.read_excel(tables / "table_one.xlsx", dtype=str, nrows=len(table_one)).fillna("")
    assert excel.values.tolist() == table_one.values.tolist()
    # the report prints the same Table 1
    report = (finished_run / "results" / "release" / "report.html").read_text(encoding="utf-8")
    assert '<td class="l">Stomach</td>' in report and "Primary tumour site, n (%)" in report


def test_release_mode_refuses_to_finish_when_a_file_gives_a_count_away(finished_run, tmp_path, monkeypatch):
    from benchmarks.workflow_runs import clone_run, edit_config, snakemake

    run = clone_run(finished_run, tmp_path / "run")
    edit_config(run, lambda config: config["privacy"].update(release=True))
    monkeypatch.setenv("GISTLM_PSEUDONYM_KEY", "audit-test-key")
    # a table writing its own counts, bypassing the register: follow_up.csv with raw counts
    script = run / "workflow" / "scripts" / "kaplan_meier.py"
    text = script.read_text()
    bypass = text.replace(
        'released(median_os(cohort, groups, alpha, reverse=True), register, PUBLISHED["follow_up.csv"], minimum)',
        "median_os(cohort, groups, alpha, reverse=True)",
    )
    assert bypass != text
    script.write_text(bypass)
    failed = snakemake(run, "release", check=False)
    assert failed.returncode != 0
    log = (run / "results" / "logs" / "disclosure_audit.log").read_text()
    assert "deaths[group=IM+HR] in follow_up.csv" in log and "nothing is released" in log
    # the earlier run's manifest is withdrawn: nothing in the folder reads as releasable
    assert not (run / "results" / "release" / "MANIFEST.tsv").exists()
