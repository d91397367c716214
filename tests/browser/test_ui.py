"""The operator's UIs in a real browser (Debian's headless Chromium through chromedriver).

A fresh data directory gets small sample exports; `dagster dev` serves the project's
definitions on a free loopback port; the test dismisses the first-visit pop-up, checks that
the asset groups and checks are shown, launches `weekly_refresh_job` through the UI's GraphQL
API (the same call the "Materialize" button makes), waits for success and screenshots the
run, the lineage and an asset's checks. Then `mlflow server` on the run's tracking store must
show the three registered models. Screenshots go to test-artifacts/browser/ (gitignored).

Skipped with C360_SKIP_BROWSER=1, or when Chromium is missing outside CI; under CI=true a
missing Chromium fails (`make test` installs it: `make browser`).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from tests.browser.servers import (
    CHROMEDRIVER,
    CHROMIUM,
    chromium,
    free_port,
    graphql,
    server,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("C360_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"
CUSTOMERS = 400
END_DATE = date(2026, 11, 8)  # a past Sunday
GROUPS = ["raw", "reference", "staging", "identity", "marts", "ml", "bi", "serving", "privacy"]
MODELS = ["customer_segmentation", "customer_value", "customer_churn"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if os.environ.get("C360_SKIP_BROWSER") == "1":
    pytest.skip("C360_SKIP_BROWSER=1", allow_module_level=True)
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing: run `make browser`", pytrace=False)
    pytest.skip("Chromium not installed (`make browser` installs it)", allow_module_level=True)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def wait_for(driver, predicate, timeout: float = 60, what: str = "") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: predicate(d), message=f"timed out waiting for {what}")


def body_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    """A data directory with sample exports and a Dagster instance, and the environment
    every server of this module runs with."""
    from pipelines.sample_data import generate

    data_dir = tmp_path_factory.mktemp("c360-ui")
    generate(data_dir, customers=CUSTOMERS, seed=11, end_date=END_DATE)
    environment = {**os.environ, "C360_DATA_DIR": str(data_dir),
                   "DAGSTER_HOME": str(data_dir / "dagster"),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for var in ("C360_WAREHOUSE", "C360_LANDING_DIR", "C360_SERVING_DIR",
                "MLFLOW_TRACKING_URI", "C360_MLFLOW_ARTIFACTS"):
        environment.pop(var, None)
    (data_dir / "dagster").mkdir()
    (data_dir / "dagster/dagster.yaml").write_bytes(
        (REPO / "pipelines/dagster.yaml").read_bytes())
    return environment


@pytest.fixture(scope="module")
def dagster_ui(env, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "dagster.log"
    cmd = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml",
           "-h", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    try:
        with server(cmd, f"{url}/server_info", log, env, REPO, timeout=240):
            yield url
    finally:
        print(f"dagster dev log: {log}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def location(url: str) -> tuple[str, str]:
    data = graphql(f"{url}/graphql", """
        { workspaceOrError { ... on Workspace { locationEntries {
            name locationOrLoadError { __typename ... on RepositoryLocation {
                repositories { name } } ... on PythonError { message } } } } } }""")
    entry = data["workspaceOrError"]["locationEntries"][0]
    loaded = entry["locationOrLoadError"]
    assert loaded["__typename"] == "RepositoryLocation", loaded
    return entry["name"], loaded["repositories"][0]["name"]


def launch_weekly_refresh(url: str) -> str:
    from pipelines.demo import snapshot_range

    first, last = snapshot_range(END_DATE)
    loc, repo = location(url)
    data = graphql(f"{url}/graphql", """
        mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
            __typename ... on LaunchRunSuccess { run { runId } }
            ... on PythonError { message } ... on InvalidSubsetError { message }
            ... on RunConfigValidationInvalid { errors { message } } } }""",
        {"p": {"selector": {"repositoryLocationName": loc, "repositoryName": repo,
                            "jobName": "weekly_refresh_job"},
               "executionMetadata": {"tags": [
                   {"key": "dagster/asset_partition_range_start", "value": first},
                   {"key": "dagster/asset_partition_range_end", "value": last},
                   {"key": "customer360/run", "value": "browser-test"}]}}})
    result = data["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def wait_run(url: str, run_id: str, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = graphql(f"{url}/graphql", """query($id: ID!) { runOrError(runId: $id) {
            ... on Run { status } } }""", {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(3)
    raise TimeoutError(f"run {run_id} still running after {timeout} s")


@pytest.fixture(scope="module")
def refresh_run(dagster_ui, browser):
    """Runs after the first-visit checks (they need the instance's first visit)."""
    run_id = launch_weekly_refresh(dagster_ui)
    return run_id, wait_run(dagster_ui, run_id)


def test_asset_graph_shows_groups_after_dismissing_the_first_visit_popup(dagster_ui, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{dagster_ui}/asset-groups")
    wait_for(browser, lambda d: "Join the Dagster community" in body_text(d), 90,
             "the first-visit pop-up")
    browser.find_element(By.XPATH, "//button[normalize-space()='Skip']").click()
    wait_for(browser, lambda d: "Join the Dagster community" not in body_text(d), 20,
             "the pop-up to close")
    wait_for(browser, lambda d: all(g in body_text(d).split() for g in GROUPS), 60,
             "the asset groups")
    screenshot(browser, "dagster_asset_graph")
    browser.refresh()  # dismissed for good: the browser remembers it
    wait_for(browser, lambda d: "identity" in body_text(d).split(), 60, "the graph again")
    assert "Join the Dagster community" not in body_text(browser)


def test_weekly_refresh_launched_from_the_ui_api_succeeds(dagster_ui, browser, refresh_run):
    run_id, status = refresh_run
    browser.get(f"{dagster_ui}/runs/{run_id}")
    wait_for(browser, lambda d: "RUN_SUCCESS" in body_text(d) or "RUN_FAILURE" in body_text(d),
             120, "the run's event log")
    screenshot(browser, "dagster_run")
    assert status == "SUCCESS", f"run {run_id} ended {status}; see the screenshot"
    loc, _ = location(dagster_ui)
    browser.get(f"{dagster_ui}/locations/{loc}/asset-groups/identity")
    wait_for(browser, lambda d: "customer_map" in body_text(d), 60, "the identity group's graph")
    time.sleep(3)  # let the graph lay out and colour the materialised assets
    screenshot(browser, "dagster_identity_group")


def test_asset_checks_show_their_expectations_and_results(dagster_ui, browser, refresh_run):
    assert refresh_run[1] == "SUCCESS"
    browser.get(f"{dagster_ui}/assets/marts/customer_360?view=checks&checkDetail=ge_customer_360")
    wait_for(browser, lambda d: "rows_validated" in body_text(d), 90, "the check's metadata")
    text = body_text(browser)
    assert "Great Expectations suite customer_360.json" in text  # the check's description
    assert "Passed" in text
    page = Path(next(line for line in text.splitlines() if line.endswith("customer_360.html")))
    assert page.exists() and "https://cdn" not in page.read_text(encoding="utf-8")
    screenshot(browser, "dagster_asset_checks")
    browser.get(page.as_uri())  # the offline Data Docs page the check links
    wait_for(browser, lambda d: "Expectation Validation Result" in body_text(d), 30, "Data Docs")
    assert "customer_id" in body_text(browser)  # the suite's columns and their expectations
    screenshot(browser, "ge_data_docs_customer_360")


def test_identity_asset_shows_its_materialisation_metadata(dagster_ui, browser, refresh_run):
    assert refresh_run[1] == "SUCCESS"
    browser.get(f"{dagster_ui}/assets/identity/customer_map")
    wait_for(browser, lambda d: "match_rules" in body_text(d), 90, "the metadata")
    screenshot(browser, "dagster_identity_asset")


def dismiss_mlflow_popups(driver) -> None:
    """MLflow 3's first visit shows a registry-UI announcement and an assistant panel."""
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Try it now']"):
        button.click()
    time.sleep(1)
    for button in driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        if button.is_displayed():
            button.click()
    time.sleep(1)


def test_mlflow_ui_lists_the_three_registered_models(env, refresh_run, browser,
                                                     tmp_path_factory):
    assert refresh_run[1] == "SUCCESS"
    data_dir = Path(env["C360_DATA_DIR"])
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "mlflow.log"
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server",
           "--backend-store-uri", f"sqlite:///{data_dir / 'mlflow/mlflow.db'}",
           "--default-artifact-root", str(data_dir / "mlflow/artifacts"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with server(cmd, f"{url}/health", log, env, REPO, timeout=120):
        browser.get(f"{url}/#/models")
        wait_for(browser, lambda d: all(m in body_text(d) for m in MODELS), 90,
                 "the registered models")
        dismiss_mlflow_popups(browser)
        wait_for(browser, lambda d: body_text(d).count("@ champion") >= 3
                 or body_text(d).count("champion") >= 3, 30, "the champion aliases")
        screenshot(browser, "mlflow_registered_models")
        browser.get(f"{url}/#/models/customer_churn")
        wait_for(browser, lambda d: "Version 1" in body_text(d), 60, "the model's versions")
        screenshot(browser, "mlflow_customer_churn")
