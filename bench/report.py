"""The benchmark's figures (issue 13's table), its printed table and its plot.

bench/run.py calls these on the run it just made. On saved results they redraw:

    .venv/bin/python bench/report.py bench/results/baseline-sqlite.json      # the table again
    .venv/bin/python bench/report.py --plot out.png before.json after.json   # one plot of both
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

KB = 1024


def size_label(size: int) -> str:
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


def _ratio_spread(numerators: list[float], denominators: list[float]) -> dict[str, float]:
    """Median and p90 of the per-round ratios (samples i of both lists come from one round)."""
    from measure import spread

    return spread([n / d for n, d in zip(numerators, denominators, strict=True)])


def per_size_ratios(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    floor = samples["floor"]
    return {fig: _ratio_spread(values, floor) for fig, values in samples.items() if fig != "floor"}


def _figure(
    key: str,
    label: str,
    value: float | None,
    *,
    p90: float | None = None,
    limit: float | None = None,
    at_least: bool = False,
    unit: str = "×",
    detail: str = "",
    met: bool | None = None,
) -> dict[str, Any]:
    if met is None and limit is not None and value is not None:
        met = value >= limit if at_least else value <= limit
    target = None if limit is None else f"{'≥' if at_least else '≤'} {limit:g}"
    return {
        "key": key,
        "label": label,
        "target": target,
        "value": value,
        "p90": p90,
        "unit": unit,
        "met": met,
        "detail": detail,
    }


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of issue 13's table, plus the API list and a wizard step, from one run."""
    sizes: list[int] = result["sizes"]
    lo, hi = str(min(sizes)), str(max(sizes))
    per = result["per_size"]
    lo_l, hi_l = size_label(int(lo)), size_label(int(hi))

    def ratio(size: str, fig: str) -> dict[str, float]:
        return per[size]["ratio_to_floor"][fig]

    growth = _ratio_spread(per[hi]["samples_ms"]["list"], per[lo]["samples_ms"]["list"])
    out = [
        _figure(
            "list_growth",
            f"list at {hi_l} ÷ list at {lo_l}",
            growth["median"],
            p90=growth["p90"],
            limit=1.2,
        ),
    ]
    for key, fig, size, limit, name in (
        ("list_floor_low", "list", lo, 3, f"list ÷ floor at {lo_l}"),
        ("list_floor_high", "list", hi, 3, f"list ÷ floor at {hi_l}"),
        ("search_floor_high", "search", hi, 4, f"search ?q= at {hi_l} ÷ floor"),
        ("filter_floor_high", "filter", hi, 4, f"label filter at {hi_l} ÷ floor"),
    ):
        r = ratio(size, fig)
        out.append(_figure(key, name, r["median"], p90=r["p90"], limit=limit))
    counts = [int(per[str(s)]["queries"]["list"]) for s in sizes]
    out.append(
        _figure(
            "list_queries",
            "queries per list page",
            float(max(counts)),
            unit="queries",
            detail=" / ".join(f"{c} at {size_label(s)}" for c, s in zip(counts, sizes, strict=True))
            + (", constant" if len(set(counts)) == 1 else ", grows with N"),
            met=max(counts) <= 12 and len(set(counts)) == 1,
            limit=12,
        )
    )
    load = per[hi]["first_load"]
    html = load["resources"][0]
    out.append(
        _figure(
            "first_load_kb",
            f"first load of the list page on the wire, at {hi_l}",
            round(load["total_wire_bytes"] / KB, 1),
            unit="KB",
            limit=25,
            detail=f"HTML {html['wire_bytes'] / KB:.1f} KB ({html['encoding']}), "
            f"{len(load['resources']) - 1} static files",
        )
    )
    for fig, name in (("api_list", "API list (limit 200)"), ("wizard_post", "wizard step POST")):
        for size in (lo, hi):
            r = ratio(size, fig)
            out.append(
                _figure(
                    f"{fig}_floor_{'low' if size == lo else 'high'}",
                    f"{name} at {size_label(int(size))} ÷ floor",
                    r["median"],
                    p90=r["p90"],
                )
            )
    activations = result.get("activations") or {}
    if "create_to_active_median_s" in activations:
        out.append(
            _figure(
                "activation_median_s",
                "custom credentials create → Active, one at a time",
                activations["create_to_active_median_s"],
                p90=activations.get("create_to_active_p90_s"),
                unit="s",
                limit=0.3,
            )
        )
    if "burst_activations_per_s" in activations:
        run = (activations.get("raw") or {}).get("settings") or {}
        out.append(
            _figure(
                "burst_activations_per_s",
                f"a burst of {run.get('burst', 50)} creates on {run.get('workers', 2)} workers",
                activations["burst_activations_per_s"],
                p90=activations.get("burst_activations_per_s_p90"),
                unit="activations/s",
                limit=20,
                at_least=True,
            )
        )
    return out


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "queries":
        return f"{value:g}"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def table(result: dict[str, Any]) -> str:
    rows = [("figure", "target", "median", "p90", "met", "")]
    for f in result["figures"]:
        met = {True: "yes", False: "NO", None: ""}[f["met"]]
        unit = "" if f["unit"] == "×" else f" {f['unit']}"
        rows.append(
            (
                f["label"],
                f["target"] + unit if f["target"] else "",
                _fmt(f["value"], f["unit"]),
                _fmt(f["p90"], f["unit"]),
                met,
                f["detail"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = ["", f"latency in ms (median / p90 of {result['settings']['rounds']} rounds)"]
    figs = ["floor", "list", "search", "filter", "api_list", "wizard_post"]
    head.append(f"{'secrets':>8}  " + "  ".join(f"{f:>15}" for f in figs) + "  queries: list")
    for size in result["sizes"]:
        lat = result["per_size"][str(size)]["latency_ms"]
        cells = [f"{lat[f]['median']:>7.1f} /{lat[f]['p90']:>6.1f}" for f in figs]
        queries = result["per_size"][str(size)]["queries"]["list"]
        head.append(f"{size:>8}  " + "  ".join(cells) + f"  {queries}")
    title = (
        f"Benchmark on {result['database']} at {result['commit'][:10]}"
        f"{' (uncommitted changes)' if result.get('dirty') else ''}: ratios to the floor "
        "measured in the same rounds"
    )
    note = result.get("activations_note")
    return "\n".join([title, "", *lines, *([f"({note})"] if note else []), *head])


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """List, search and filter latency against N (left), and as multiples of the floor with
    the targets (right); one line style per result file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = {"list": "tab:blue", "search": "tab:orange", "filter": "tab:green", "floor": "grey"}
    styles = ["-", "--", ":", "-."]
    for index, result in enumerate(results):
        sizes = result["sizes"]
        tag = f"{result['database']} {result['commit'][:7]}" if len(results) > 1 else ""
        style = styles[index % len(styles)]
        for fig_name, colour in colours.items():
            lat = [result["per_size"][str(s)]["latency_ms"][fig_name] for s in sizes]
            med = [x["median"] for x in lat]
            err = [[0] * len(lat), [x["p90"] - x["median"] for x in lat]]
            name = f"{fig_name} {tag}".strip()
            left.errorbar(sizes, med, yerr=err, color=colour, linestyle=style, marker="o",
                          capsize=3, label=name)  # fmt: skip
            if fig_name != "floor":
                ratios = [result["per_size"][str(s)]["ratio_to_floor"][fig_name] for s in sizes]
                right.plot(sizes, [r["median"] for r in ratios], color=colour, linestyle=style,
                           marker="o", label=name)  # fmt: skip
    right.axhline(3, color="tab:blue", linewidth=0.8, alpha=0.6)
    right.axhline(4, color="tab:orange", linewidth=0.8, alpha=0.6)
    right.text(min(results[0]["sizes"]), 3, " list target ≤ 3", va="bottom", fontsize=8)
    right.text(min(results[0]["sizes"]), 4, " search / filter target ≤ 4", va="bottom", fontsize=8)
    all_sizes = sorted({s for r in results for s in r["sizes"]})
    plain = FuncFormatter(lambda y, _: f"{y:g}")
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(all_sizes, [size_label(s) for s in all_sizes])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(plain)
        axis.yaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("secrets (N)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    left.set_ylabel("ms per request (median, bar to p90)")
    right.set_ylabel("multiple of the floor (median of rounds)")
    first = results[0]
    fig.suptitle(
        f"Secrets list, search and label filter against N ({first['database']}, "
        f"gunicorn {first['settings']['workers']} sync workers, {first['machine']['cpus']} CPUs, "
        f"{first['commit'][:7]})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description="Print or plot saved benchmark results.")
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path, help="draw one plot of all the results here")
    args = parser.parse_args()
    loaded = [json.loads(p.read_text()) for p in args.results]
    for result in loaded:
        print(table(result), end="\n\n")
    if args.plot:
        plot(loaded, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
