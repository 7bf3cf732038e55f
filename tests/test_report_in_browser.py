"""The report as a reader sees it: headless Chromium opens results/report.html."""

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# the flags this offline, root-run machine needs (no sandbox, no background networking)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium not installed: apt-get install chromium (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def test_report_opens_without_console_errors_or_broken_images(finished_run, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("console", lambda message, errors=errors: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((finished_run / "results" / "report.html").as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete && e.naturalWidth > 0])")
    assert len(images) >= 2
    assert all(ok for _, ok in images), images
    assert errors == []
    headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
    assert headings[:4] == ["Design and setting", "Participants", "Variables", "Data sources and data quality"]
    assert "Provenance" in headings and "Limitations" in headings
    screenshot = tmp_path / "report-screenshot.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 50_000


def test_a_pdf_of_the_report_is_made_when_asked_for(finished_run, tmp_path):
    if CHROMIUM is None:
        pytest.skip("Chromium not installed: apt-get install chromium (.ci/run installs it)")
    from benchmarks.workflow_runs import clone_run, planned_rules, snakemake

    run = clone_run(finished_run, tmp_path / "run")
    assert planned_rules(run, "results/report.pdf") == {"report_pdf"}
    snakemake(run, "results/report.pdf")
    pdf = (run / "results" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 100_000


def test_every_page_renders_with_the_network_off(finished_run, browser, tmp_path):
    """The report (and its release copy) and the data-quality pages in Chromium with networking
    off: no request leaves the machine, nothing fails to load, the pages show their content."""
    results = finished_run / "results"
    pages = sorted(results.rglob("*.html"))
    assert {results / "report.html", results / "release" / "report.html", results / "data_docs" / "index.html"} <= set(
        pages
    )
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    outside, failed = [], []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("file:", "data:"))
            else (outside.append(route.request.url), route.abort())
        ),
    )
    for path in pages:
        page = context.new_page()
        errors = []
        page.on("console", lambda message, errors=errors: message.type == "error" and errors.append(message.text))
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
        assert all(images), path
        assert errors == [], (path, errors)
        page.close()
    assert outside == [] and failed == [], (outside, failed)
    page = context.new_page()
    page.goto((results / "data_docs" / "index.html").as_uri())
    assert page.locator("a", has_text="analysis_cohort").count() == 1  # the validation is listed offline
    page.goto((results / "release" / "report.html").as_uri())
    table_one = page.locator("table", has_text="Primary tumour site, n (%)")
    assert table_one.count() == 1
    assert table_one.locator("td", has_text="Stomach").count() == 1
    assert table_one.locator("td", has_text="Male, n (%)").count() == 1
    screenshot = tmp_path / "release-report-offline.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 50_000
    context.close()
