"""What one judge -> worker round trip costs, isolated and inline.

Why: a judge makes 1300 to 1700 requests per submission, and beyond the
suites' own work (the floor in ``bench_class.py``) most of what isolation
costs is in them.  This times three kinds of request against the
reference solutions, prepared as ``grader run`` prepares a submission (in
the run's scratch folder, the only place the sandboxed worker can read):

- ``getattr``: a module attribute, the smallest request there is;
- ``call``: ``activations.relu`` on a 4x4 tensor (one tensor each way);
- ``forward``: ``sequential.CIFAR10Net`` on one 3x32x32 image.

Each is timed through the in-process channel (the same encoding both ways,
no second process) and through a sandboxed worker on the judge's CPU, as
``grader run`` places it; the rounds alternate, so a drift of this
machine's speed shows as a spread rather than as a difference.  It prints
the median wall time per request and the judge's own CPU time per request
(the rest of an isolated request is the worker's time and the switches).

    python benchmarks/bench_roundtrip.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000, help="requests per kind and round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from grader import protocol, sandbox
    from grader.channels import InlineChannel, ProcessChannel
    from grader.forkserver import make_scratch, remove_scratch
    from grader.submissions import prepare
    from grader.worker.limits import pin_to_cpu

    scratch = make_scratch()
    zygote = None
    try:
        zygote, protections = sandbox.launch_zygote(scratch)
        sub = Path(scratch) / "subs" / "reference"
        prepare(ROOT / "solutions", sub)
        zygote.wait_ready()
        cpu = sorted(os.sched_getaffinity(0))[0]
        pin_to_cpu(cpu)
        limits = dict(zygote.limits, cpu=cpu)
        image = torch.randn(1, 3, 32, 32)
        small = torch.randn(4, 4)

        def request(channel, op: str, **kw):
            blobs: list[bytes] = []
            payload = protocol.encode(kw, blobs)
            reply, rblobs = channel.request({"op": op, "args": payload}, blobs, 10.0)
            if "ok" not in reply:  # timing an error path would measure the wrong thing
                raise SystemExit(f"{op} failed in the worker: {reply.get('error')}")
            return protocol.decode(reply["ok"], rblobs)

        def one_round(channel) -> dict[str, tuple[float, float]]:
            request(channel, "reset", seed=0, forbid=[])
            activations = request(channel, "import", name="activations", student=True)
            sequential = request(channel, "import", name="sequential", student=True)
            relu = request(channel, "getattr", target=activations, name="relu")
            net = request(
                channel,
                "call",
                target=request(channel, "getattr", target=sequential, name="CIFAR10Net"),
                args=[],
                kwargs={},
            )
            kinds = {
                "getattr": lambda: request(channel, "getattr", target=activations, name="relu"),
                "call": lambda: request(channel, "call", target=relu, args=[small], kwargs={}),
                "forward": lambda: request(channel, "call", target=net, args=[image], kwargs={}),
            }
            out = {}
            for kind, fn in kinds.items():
                for _ in range(max(1, args.requests // 10)):  # warm: specialised bytecode, caches
                    fn()
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.requests):
                    fn()
                out[kind] = ((time.perf_counter() - t0) / args.requests, (time.process_time() - c0) / args.requests)
            return out

        results: dict[str, dict[str, list[tuple[float, float]]]] = {"inline": {}, "isolated": {}}
        for _ in range(args.rounds):
            for mode in ("inline", "isolated"):
                channel = InlineChannel(str(sub)) if mode == "inline" else ProcessChannel(zygote, str(sub), limits)
                try:
                    for kind, figures in one_round(channel).items():
                        results[mode].setdefault(kind, []).append(figures)
                finally:
                    channel.close()
    finally:
        if zygote is not None:
            zygote.stop()
        remove_scratch(scratch)

    print(
        f"machine: {os.uname().machine}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"worker sandbox: {'; '.join(p.split(':')[0] for p in protections)}"
    )
    print(f"{args.rounds} rounds of {args.requests} requests per kind; medians, microseconds per request")
    print(f"{'':10} {'inline wall':>12} {'isolated wall':>14} {'extra':>7} {'judge CPU isolated':>19}")
    for kind in results["inline"]:
        inline = statistics.median(w for w, _ in results["inline"][kind]) * 1e6
        isolated = statistics.median(w for w, _ in results["isolated"][kind]) * 1e6
        judge = statistics.median(c for _, c in results["isolated"][kind]) * 1e6
        print(f"{kind:10} {inline:12.0f} {isolated:14.0f} {isolated - inline:+7.0f} {judge:19.0f}")


if __name__ == "__main__":
    main()
