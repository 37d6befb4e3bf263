"""Plain-text tables of a benchmark report."""

from __future__ import annotations

from houseprice.bench.records import Report


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_report(report: Report) -> str:
    lines = [
        f"{'format':<44}{'status':<8}{'file':>9}{'test RMSE':>11}{'p50 us':>9}{'p99 us':>9}"
        f"{'houses/s @' + format(report.settings.batch, ','):>20}{'x floor p50':>13}{'x floor batch':>15}",
    ]
    for r in report.rows:
        size = "-" if r.file_bytes is None else f"{r.file_bytes / 1024:.1f} KB"
        status = r.status if r.status == "ok" else ""
        lines.append(
            f"{r.name:<44}{status:<8}{size:>9}{_num(r.test_rmse, '.4f'):>11}{_num(r.p50_us, '.1f'):>9}"
            f"{_num(r.p99_us, '.1f'):>9}{_num(r.houses_per_s, ',.0f'):>20}"
            f"{_num(r.p50_x_floor, '.2f'):>13}{_num(r.batch_x_floor, '.2f'):>15}"
        )
        if r.status != "ok":
            lines.append(f"{'':<44}{r.status}")
    if report.cold_start_ms:
        lines += ["", "cold start, whole process (median ms):"]
        lines += [f"  {name:<40}{ms:>8.0f}" for name, ms in report.cold_start_ms.items()]
    if report.scale:
        s = report.scale
        lines += [
            "",
            f"scale: hp-infer on {s['houses']:,.0f} JSON Lines houses ({s['file_mb']:.0f} MB): "
            f"{s['seconds']:.2f} s (median of {s['runs']}), {s['houses_per_s']:,.0f} houses/s, peak memory {s['peak_rss_mb']:.0f} MB "
            f"(PSS of all processes; largest process RSS {s['largest_process_rss_mb']:.0f} MB); "
            f"the same houses in 3 line shapes mixed: {s['mixed_shapes_houses_per_s']:,.0f} houses/s",
        ]
    if report.graph:
        g = report.graph
        lines += [
            "",
            f"graph: {_num(g['nodes'], 'd')} ONNX nodes; with a batch of 1, NNAPI takes them in "
            f"{_num(g['nnapi_partitions'], 'd')} partition(s) leaving {_num(g['nnapi_nodes_left'], 'd')}, "
            f"CoreML MLProgram in {_num(g['coreml_mlprogram_partitions'], 'd')} leaving "
            f"{_num(g['coreml_mlprogram_nodes_left'], 'd')} (onnxruntime's mobile checker)",
        ]
    if report.targets:
        lines += ["", "targets:"]
        for t in report.targets:
            mark = {True: "met", False: "NOT MET", None: "not measured"}[t["met"]]
            kind = " (absolute)" if t["kind"] == "absolute" else ""
            lines.append(
                f"  {t['target']:<55}{_num(t['measured'], ',.3g'):>10}  {t['bound']:<10}{mark}{kind}"
            )
    m = report.machine
    lines += [
        "",
        f"machine: {m['cpus']} CPUs {m['machine']}, Python {m['python']}, onnxruntime "
        f"{m['onnxruntime']}, numpy {m['numpy']}, torch {m['torch'] or 'not installed'}",
    ]
    return "\n".join(lines)
