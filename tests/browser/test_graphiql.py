"""GraphiQL in Debian's headless Chromium, against `registry serve` on loopback, with every other host cut off:
the page loads from the node alone, opens with the operations and the token explained, and runs Eligibility."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from registry.web.graphiql import example_variables
from tests.conftest import TEST_DATA
from tests.factories import institution, practitioner
from tests.ops import DOCUMENTS
from tests.processes import clean_env, run_registry, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Every name resolves to nothing and every other address goes to a closed proxy port; only 127.0.0.1 is reached.
OFFLINE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
    "--window-size=1400,1000",
]
NETWORK_SCHEMES = {"http", "https", "ws", "wss", "ftp"}
EXAMPLE = example_variables()


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[str, str]]:
    """A node with the example practitioner registered; yields its base URL and a national token."""
    path = TEST_DATA / "node-browser"
    shutil.rmtree(path, ignore_errors=True)
    env = clean_env()
    process, base, _ = serve(path, env)
    try:
        token = run_registry("token", "--data-dir", str(path), "--role", "national", env=env)
        code, institution_code = EXAMPLE["practitionerCode"], EXAMPLE["institutionCode"]
        for name, data in (
            ("RegisterInstitution", institution(institution_code)),
            ("RegisterPractitioner", practitioner(code, institutions=(institution_code,))),
        ):
            body = {"query": DOCUMENTS[name], "operationName": name, "variables": {"input": data}}
            response = httpx.post(f"{base}/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
            assert "errors" not in response.json(), response.text
        yield base, token
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(path, ignore_errors=True)


def _processes_using(marker: str) -> list[int]:
    """PIDs whose command line names `marker` (this test's own browser profile)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"the browser test needs Debian's Chromium and ChromeDriver; missing: {', '.join(missing)}. "
            "Run tools/test, which installs them (apt-get install chromium chromium-driver)."
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*OFFLINE_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # The DevTools log lists every request the page starts, including ones that fail.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(str(CHROMEDRIVER), env={**os.environ, "SE_OFFLINE": "true"})
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()  # closes Chromium, then stops chromedriver by its PID
        for pid in _processes_using(str(profile)):  # anything of this profile that outlived quit()
            os.kill(pid, signal.SIGKILL)


def open_graphiql(driver: WebDriver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 60).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")),
        "GraphiQL's query editor never appeared",
    )


def editor_text(driver: WebDriver, selector: str) -> str:
    text: str = driver.execute_script(f"return document.querySelector({json.dumps(selector)}).CodeMirror.getValue()")
    return text


QUERY = ".graphiql-query-editor .CodeMirror"
VISIBLE_TOOL = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = (By.CSS_SELECTOR, ".graphiql-response .CodeMirror-code")


def run_operation(driver: WebDriver, name: str) -> str:
    """Press ▶, pick the operation by name, and return what the result pane shows once its answer changed."""
    previous = driver.find_element(*RESULT).text
    driver.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    item = f"//*[@role='menuitem'][normalize-space()='{name}']"
    WebDriverWait(driver, 10).until(ec.element_to_be_clickable((By.XPATH, item)), f"no {name} in the menu").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(*RESULT).text.strip() not in ("", previous.strip()), "no answer in the result pane"
    )
    text: str = driver.find_element(*RESULT).text
    return text


def requested_urls(driver: WebDriver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_graphiql_runs_eligibility_offline(node: tuple[str, str], browser: WebDriver) -> None:
    base, token = node
    open_graphiql(browser, f"{base}/graphql")

    # It opens ready to use: every documented operation, variables for Eligibility, the token explained.
    document = editor_text(browser, QUERY)
    assert "query Eligibility(" in document and "query Sanctions(" in document
    headers = browser.find_element(By.CSS_SELECTOR, VISIBLE_TOOL).text
    assert '"Authorization"' in headers and "registry token --role national" in headers
    browser.find_element(By.CSS_SELECTOR, "button[data-name='variables']").click()
    assert json.loads(editor_text(browser, VISIBLE_TOOL))["practitionerCode"] == EXAMPLE["practitionerCode"]

    # With the placeholder still in Headers, the node refuses, and says why.
    assert "invalid token" in run_operation(browser, "Eligibility")

    browser.find_element(By.CSS_SELECTOR, "button[data-name='headers']").click()
    header = json.dumps({"Authorization": f"Bearer {token}"})
    browser.execute_script(
        f"document.querySelector({json.dumps(VISIBLE_TOOL)}).CodeMirror.setValue(arguments[0])", header
    )
    result = run_operation(browser, "Eligibility")
    assert (
        '"eligible": true' in result
        and '"status": "NORMAL"' in result
        and f'"practitionerCode": "{EXAMPLE["practitionerCode"]}"' in result
    )

    # Nothing left the machine: every network request the browser started (failed ones included) went to the
    # node; the rest are data: URLs and Chromium's own chrome:// pages.
    urls = requested_urls(browser)
    assert f"{base}/graphql/static/graphiql.min.js" in urls and f"{base}/graphql" in urls
    elsewhere = [url for url in urls if urlsplit(url).scheme in NETWORK_SCHEMES and not url.startswith(f"{base}/")]
    assert elsewhere == [], f"the browser requested resources beyond the node: {elsewhere}"
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(name.startswith(f"{base}/") for name in resources), resources
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert all("401" in message for message in errors), errors  # only the refusal above


def test_a_query_link_opens_graphiql_with_that_query(node: tuple[str, str], browser: WebDriver) -> None:
    base, _ = node
    query = 'query Link { policy(regionCode: "520201") { jurisdiction version } }'
    variables = '{"unused": 1}'
    open_graphiql(browser, f"{base}/graphql?query={quote(query)}&variables={quote(variables)}")
    assert editor_text(browser, QUERY) == query
    browser.find_element(By.CSS_SELECTOR, "button[data-name='variables']").click()
    assert editor_text(browser, VISIBLE_TOOL) == variables
    # Only a browser gets the page: a client's GET still runs nothing.
    refused = httpx.get(f"{base}/graphql", params={"query": query}, headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "not allowed" in refused.text
