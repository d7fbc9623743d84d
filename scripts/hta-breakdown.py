# Runs Holistic Trace Analysis on trace sets (files per set given as JSON on stdin) and prints its temporal breakdown, comm/compute overlap and load time per set as JSON.
#
# stdin: {"sets": [{"name": str, "files": [path, ...]}], "runs": int, "warmup": int (untimed loads first)}
# stdout: {"sets": [{"name", "loadS": [s, ...], "ranks": [{"rank", "idleUs", "computeUs", "nonComputeUs", "kernelUs",
#          "idlePct", "computePct", "nonComputePct", "overlapPct"}]}], "hta": version}
# HTA itself is not part of pipeprof: install it with `pip install HolisticTraceAnalysis` (or point PYTHONPATH at its source).
import json
import logging
import math
import sys
import time
import warnings

try:
    import hta
    from hta.common.trace_file import create_rank_to_trace_dict
    from hta.trace_analysis import TraceAnalysis
except ImportError as e:
    sys.stderr.write(f"Holistic Trace Analysis is not importable by {sys.executable} ({e}); install it with: pip install HolisticTraceAnalysis (or set PYTHONPATH to its source)\n")
    sys.exit(2)


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def main() -> None:
    logging.getLogger("hta").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # HTA's 0/0 overlap of a rank without NCCL kernels, pandas' deprecations
    job = json.load(sys.stdin)
    runs = max(1, int(job.get("runs", 1)))
    out = []
    for s in job["sets"]:
        ok, files = create_rank_to_trace_dict(s["files"])  # HTA's own rank lookup ("rank": N in the file's text)
        if not ok or len(files) != len(s["files"]):
            raise SystemExit(f"{s['name']}: HTA found ranks {sorted(files)} in {len(s['files'])} files; each file must name its own rank")
        load_s = []
        for i in range(max(0, int(job.get("warmup", 0))) + runs):
            t0 = time.perf_counter()
            analysis = TraceAnalysis(trace_files=dict(files))
            if i >= int(job.get("warmup", 0)):
                load_s.append(time.perf_counter() - t0)
        tb = analysis.get_temporal_breakdown(visualize=False)
        ov = analysis.get_comm_comp_overlap(visualize=False)
        overlap = {int(r["rank"]): num(r["comp_comm_overlap_pctg"]) for _, r in ov.iterrows()}
        ranks = []
        for _, r in tb.iterrows():
            span = float(r["kernel_time(us)"])
            ranks.append({
                "rank": int(r["rank"]),
                "idleUs": float(r["idle_time(us)"]), "computeUs": float(r["compute_time(us)"]),
                "nonComputeUs": float(r["non_compute_time(us)"]), "kernelUs": span,
                # Unrounded shares from HTA's µs columns (its *_pctg columns are the same, rounded to 2 decimals).
                "idlePct": 100 * float(r["idle_time(us)"]) / span, "computePct": 100 * float(r["compute_time(us)"]) / span,
                "nonComputePct": 100 * float(r["non_compute_time(us)"]) / span,
                "overlapPct": overlap.get(int(r["rank"])),
            })
        out.append({"name": s["name"], "loadS": load_s, "ranks": ranks})
    json.dump({"hta": getattr(hta, "__version__", None), "sets": out}, sys.stdout)


if __name__ == "__main__":
    main()
