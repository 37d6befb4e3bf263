"""The pricing page at / in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven through selenium against the real server. A person's path: open the
page, fill the form, price; a bad value and the server's error; a model reload."""

from __future__ import annotations

import json
import shutil
import signal

import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.runtime.model_files import info, sum_model
from tests.serve.test_server import serving

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


@pytest.fixture
def browser(tmp_path):
    for tool in (CHROMIUM, DRIVER):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def _text(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def _inputs(driver) -> dict:
    from selenium.webdriver.common.by import By

    return {
        e.get_attribute("name"): e for e in driver.find_elements(By.CSS_SELECTOR, "#fields input")
    }


def _submit(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "submit").click()


def _price_shown(driver) -> str:
    """The price once shown (or the error shown instead, marked with a leading '!')."""
    shown = _wait(
        driver, lambda d: _text(d, "price") or (_text(d, "error") and "!" + _text(d, "error"))
    )
    return shown


def test_fill_the_form_and_get_hp_infers_price_then_an_error_naming_the_field(
    exported, browser, tmp_path
):
    house = json.loads((EXAMPLES / "house.json").read_text())
    printed = run_cli("hp-infer", str(EXAMPLES / "house.json"), "--model", str(exported.onnx))
    assert printed.returncode == 0, printed.stderr
    expected = str(json.loads(printed.stdout)["price"])  # as hp-infer prints it: 5 decimals
    with serving(exported.onnx, "--workers", "1") as server:
        browser.get(server.url + "/")
        inputs = _wait(browser, lambda d: _inputs(d) or None)
        assert list(inputs) == list(house)  # one input per feature, in the model's order
        assert "trained on" in browser.page_source
        for name, value in house.items():
            inputs[name].send_keys(str(value))
        _submit(browser)
        assert _price_shown(browser) == expected
        assert _text(browser, "unit") == "MEDV, $1000s" and _text(browser, "error") == ""

        inputs["RM"].clear()
        inputs["RM"].send_keys("six")
        _submit(browser)
        error = _wait(browser, lambda d: _text(d, "error"))
        assert error == "body: RM: 'six' is not a number" and _text(browser, "price") == ""

        inputs["RM"].clear()
        inputs["LSTAT"].clear()
        inputs["LSTAT"].send_keys("900")
        inputs["RM"].send_keys(str(house["RM"]))
        _submit(browser)
        _price_shown(browser)
        assert "LSTAT outside the training range" in _text(browser, "warnings")
        # No script error and nothing blocked by the page's Content-Security-Policy (the 422 above
        # is logged as a network entry).
        logged = [e for e in browser.get_log("browser") if e["source"] != "network"]
        assert logged == []


def test_the_page_follows_a_model_reload(exported, browser, tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    with serving(model, "--workers", "1") as server:
        browser.get(server.url + "/")
        before = _wait(browser, lambda d: _inputs(d) or None)
        assert len(before) == 13
        sum_model(model, 3, info(3).to_metadata())  # three features now, priced at their sum
        server.process.send_signal(signal.SIGHUP)
        _wait(browser, lambda d: _reloaded(server))
        _submit(browser)
        note = _wait(browser, lambda d: _text(d, "error"))
        assert note == "The model was reloaded: check the fields and price again."
        inputs = _inputs(browser)
        assert list(inputs) == ["CRIM", "ZN", "INDUS"]
        assert inputs["CRIM"].get_attribute("value") == ""  # not typed yet
        for name, value in zip(inputs, ("1", "2", "0.5"), strict=True):
            inputs[name].send_keys(value)
        _submit(browser)
        assert _price_shown(browser) == "3.5"


def _reloaded(server) -> bool:
    described = json.loads(server.call("GET", "/v1/model")[2])
    return len(described["features"]) == 3
