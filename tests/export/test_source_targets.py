"""The source exports where they are meant to run: the C file as a static armhf binary under
qemu-arm, built for a Cortex-M4F (its size in flash and its stack), and the ES module in headless
Chromium. Each needs Debian packages that `make test` installs (see Makefile); run by hand
without them, a test fails naming the command that installs its tool."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest

from houseprice.export.c_source import HEADER_NAME, SOURCE_NAME
from houseprice.export.js_source import MODULE_NAME
from houseprice.export.source_gate import C_FLAGS, build_c_harness, run_c_harness
from tests.conftest import BOUND, EXAMPLES, relative_diff

pytestmark = pytest.mark.slow
HOUSE = json.loads((EXAMPLES / "house.json").read_text())
CORTEX_M4F = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
FLASH_BUDGET = 40 * 1024  # bytes of code and constants for the default model (13 x 500)
STACK_BUDGET = 128  # bytes of stack for one call


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: apt-get install {package} (make test installs it)")
    return found


def test_c_as_a_static_armhf_binary_under_qemu(sources, onnx_prices, tmp_path):
    compiler = _tool("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf libc6-dev-armhf-cross")
    qemu = _tool("qemu-arm-static", "qemu-user-static")
    header, source = (sources / HEADER_NAME).read_bytes(), (sources / SOURCE_NAME).read_bytes()
    binary = build_c_harness(tmp_path, [compiler, "-static"], header, source)
    kind = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True).stdout
    assert kind.startswith("ELF 32-bit LSB executable, ARM, EABI5") and "statically" in kind
    rows, prices = onnx_prices
    found = run_c_harness([qemu, str(binary)], tmp_path, rows)
    assert relative_diff(found, prices) < BOUND
    (tmp_path / "x86").mkdir()
    x86 = build_c_harness(tmp_path / "x86", ["gcc"], header, source)
    assert relative_diff(found, run_c_harness([str(x86)], tmp_path, rows)) < BOUND


MAIN = """\
#include "houseprice_model.h"
volatile float sink;
int main(void)
{
    static const float house[HOUSEPRICE_N_FEATURES] = {0};
    float price = 0.0f;
    int code = houseprice_predict(house, &price);
    sink = price;
    return code;
}
"""


def test_c_for_a_cortex_m4f_fits_in_flash_with_no_ram(sources, tmp_path):
    """Compiled as a Cortex-M4F firmware would be, linked against newlib's libm."""
    compiler = _tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    size = _tool("arm-none-eabi-size", "binutils-arm-none-eabi")
    flags = [*C_FLAGS[:1], *C_FLAGS[2:], *CORTEX_M4F, "-Os"]  # -Os for -O2, as firmware builds
    shutil.copy(sources / HEADER_NAME, tmp_path)
    compile_ = [compiler, *flags, "-fstack-usage", "-c", str(sources / SOURCE_NAME)]
    subprocess.run([*compile_, "-o", "model.o"], cwd=tmp_path, check=True, capture_output=True)
    text, data, bss = _sizes(size, tmp_path / "model.o")
    assert 0 < text <= FLASH_BUDGET and data == 0 and bss == 0, (text, data, bss)
    usage = (tmp_path / "model.su").read_text()
    stack = int(re.search(r"houseprice_predict\t(\d+)\tstatic", usage)[1])
    assert 0 < stack <= STACK_BUDGET, usage
    (tmp_path / "main.c").write_text(MAIN)
    link = [compiler, *flags, "--specs=nosys.specs", "main.c", str(sources / SOURCE_NAME), "-lm"]
    done = subprocess.run([*link, "-o", "firmware.elf"], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()  # logf and expf resolve in newlib


def _sizes(size: str, path) -> tuple[int, int, int]:
    out = subprocess.run([size, str(path)], capture_output=True, text=True, check=True).stdout
    text, data, bss = out.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


PAGE = """\
<!doctype html>
<pre id="out">running</pre>
<script type="module">
  import { featureNames, predict, predictMany } from "./MODULE";
  const rows = ROWS;
  const houses = rows.map((row) => Object.fromEntries(featureNames.map((n, i) => [n, row[i]])));
  let refused;
  try { predict({ ...houses[0], RM: "6.5" }); } catch (e) { refused = e.message; }
  const result = { prices: predictMany(houses), refused };
  document.getElementById("out").textContent = "RESULT" + JSON.stringify(result) + "END";
</script>
"""


def test_the_es_module_in_headless_chromium(sources, onnx_prices, tmp_path):
    browser = _tool("chromium", "chromium")
    rows, prices = onnx_prices
    shutil.copy(sources / MODULE_NAME, tmp_path)
    page = PAGE.replace("MODULE", MODULE_NAME).replace("ROWS", json.dumps(rows.tolist()))
    (tmp_path / "page.html").write_text(page)
    with _http_server(tmp_path) as port:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"]
        command += ["--virtual-time-budget=20000", f"http://127.0.0.1:{port}/page.html"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r"RESULT(.*)END", done.stdout)
    assert found, (done.stdout[-2000:], done.stderr[-2000:])
    result = json.loads(found[1])
    assert relative_diff(np.array(result["prices"]), prices) < BOUND
    assert result["refused"] == 'house: RM: expected a finite number, got "6.5"'


class _http_server:
    """The folder over HTTP on an ephemeral loopback port (browsers load no modules from file:)."""

    def __init__(self, folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> int:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.server_address[1]

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass
