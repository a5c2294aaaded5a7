"""Table of bench/run_train_bench.sh: verdict metrics per variant and training budget.

usage: python3 bench/train_table.py OUT_DIR VARIANT... -- BUDGET...
Reads OUT_DIR/<variant>_<budget>/{summary.json,run.json}; prints a Markdown table with the
training steps and minutes actually reached, the generated set's metrics (and the Gaussian
null's verdict) and, per metric, the ratio to the first variant at the same budget.
"""
import json
import sys

ROWS = [
    ("P(k)", "reduced_chi2", "P(k) χ²"),
    ("P(k)", "max_abs_ratio_minus_1", "P max|r−1|"),
    ("PDF", "reduced_chi2", "PDF χ²"),
    ("PDF", "wasserstein1", "PDF W1"),
    ("V0", "reduced_chi2", "V0 χ²"),
    ("V1", "reduced_chi2", "V1 χ²"),
    ("V2", "reduced_chi2", "V2 χ²"),
    ("skewness, kurtosis", "reduced_chi2", "skew/kurt χ²"),
    ("PDF of ν", "reduced_chi2", "PDF(ν) χ²"),
    ("V0(ν)", "reduced_chi2", "V0(ν) χ²"),
    ("V1(ν)", "reduced_chi2", "V1(ν) χ²"),
    ("V2(ν)", "reduced_chi2", "V2(ν) χ²"),
]


def metric(summary, stat, name):
    for r in summary["rows"]:
        if r["statistic"] == stat:
            for m in r["metrics"]:
                if m["name"] == name:
                    return m["value"], m["threshold"], m["pass"]
    return None, None, None


def main():
    args = sys.argv[1:]
    sep = args.index("--")
    out, variants, budgets = args[0], args[1:sep], args[sep + 1:]
    data = {}
    for v in variants:
        for b in budgets:
            d = f"{out}/{v}_{b}"
            s = json.load(open(f"{d}/summary.json"))
            r = json.load(open(f"{d}/run.json"))
            try:
                n = json.load(open(f"{d}/null_summary.json"))
            except OSError:
                n = None
            data[v, b] = (s, r, n)
    head = ["variant", "budget", "steps", "train min", "verdict", "lines passed", "null"]
    head += [label for _, _, label in ROWS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for b in budgets:
        for v in variants:
            s, r, nl = data[v, b]
            t = r.get("training") or {}
            cells = [v, f"{b} min", str(t.get("steps", "?")), f"{t.get('wall_s', 0) / 60:.2f}",
                     s["verdict"]]
            ms = [metric(s, st, n) for st, n, _ in ROWS]
            cells.append(f"{sum(1 for m in ms if m[2])}/{len(ms)}")
            cells.append("—" if nl is None else ("fails" if nl["pass"] is False else nl["verdict"]))
            base = data[variants[0], b][0]
            for (st, n, _), (val, thr, ok) in zip(ROWS, ms):
                if val is None:
                    cells.append("—")
                    continue
                bv = metric(base, st, n)[0]
                ratio = f" ({val / bv:.2f}×)" if v != variants[0] and bv else ""
                cells.append(f"{val:.3g}{'' if ok else '✗'}{ratio}")
            print("| " + " | ".join(cells) + " |")
    print()
    print("✗ = above the threshold; (r×) = ratio to the first variant at the same budget.")
    th = data[variants[0], budgets[-1]][0]
    thr = [metric(th, st, n)[1] for st, n, _ in ROWS]
    print("Thresholds at the last budget: " + ", ".join(
        f"{label} ≤ {t:.3g}" for (_, _, label), t in zip(ROWS, thr) if t is not None))


if __name__ == "__main__":
    main()
