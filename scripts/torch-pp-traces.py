#!/usr/bin/env python3
# Runs small real torch.distributed.pipelining jobs on CPU (gloo, spawned ranks) under torch.profiler and keeps each rank's trace as a test fixture.
"""Real torch.distributed.pipelining traces for pipeprof's Kineto importer.

Each job spawns its ranks with torch.multiprocessing (gloo, CPU, MASTER_ADDR=127.0.0.1), builds a stack of small
Linear+ReLU layers split into stages with manual PipelineStage objects, runs a schedule for a few steps and profiles
them with torch.profiler (ProfilerActivity.CPU, record_shapes=True). Every rank writes
<out>/<job>/rank<N>.json.gz (export_chrome_trace, then gzip). The traces are the engine's own output: never edit them.

Jobs (the truth each one has):
  gpipe-2stage            ScheduleGPipe, 2 ranks = 2 stages, 4 micro-batches, balanced (2 layers per stage)
  1f1b-3stage-slow        Schedule1F1B, 3 ranks = 3 stages, 6 micro-batches; stage 1 is the straggler (4x the layers)
  1f1b-2stage-2replica    Schedule1F1B, 4 ranks = 2 stages x 2 data-parallel replicas (DeviceMesh dp x pp, pp groups
                          [0,1] and [2,3]), 4 micro-batches, gradients all-reduced over each stage's replicas (dp group)
  interleaved-2rank       ScheduleInterleaved1F1B, 2 ranks x 2 stages (rank r runs stages r and r+2), 4 micro-batches
  zbv-2rank               ScheduleZBVZeroBubble, 2 ranks x 2 stages in a V (rank 0: stages 0 and 3), 4 micro-batches;
                          profiled with with_stack=True and with_modules=True

Usage: python scripts/torch-pp-traces.py [--out test/fixtures/torch-pp] [--job NAME ...] [--list]
"""
import argparse
import gzip
import json
import os
import shutil
import socket
import sys
import tempfile

JOBS = {
    'gpipe-2stage': dict(schedule='ScheduleGPipe', ranks=2, stages_per_rank=1, replicas=1, microbatches=4, layers=[2, 2], stack=False),
    '1f1b-3stage-slow': dict(schedule='Schedule1F1B', ranks=3, stages_per_rank=1, replicas=1, microbatches=6, layers=[2, 8, 2], stack=False),
    '1f1b-2stage-2replica': dict(schedule='Schedule1F1B', ranks=4, stages_per_rank=1, replicas=2, microbatches=4, layers=[2, 2], stack=False),
    'interleaved-2rank': dict(schedule='ScheduleInterleaved1F1B', ranks=2, stages_per_rank=2, replicas=1, microbatches=4, layers=[2, 2, 2, 2], stack=False),
    'zbv-2rank': dict(schedule='ScheduleZBVZeroBubble', ranks=2, stages_per_rank=2, replicas=1, microbatches=4, layers=[2, 2, 2, 2], stack=True),
}
WIDTH = 512  # features of every Linear layer (a layer is ~0.2 ms of CPU: a slow stage shows above scheduling noise)
BATCH = 48  # rows of a minibatch (split into micro-batches: 48 divides by 4 and 6)
STEPS = dict(wait=1, warmup=1, active=2)  # torch.profiler.schedule: ProfilerStep#2 and #3 are recorded
SEED = 0


def stage_indices(job, pp_rank):
    """The stages a pipeline rank runs: one; interleaved: r, r+P; V: r and 2P-1-r."""
    P = job['ranks'] // job['replicas']
    if job['stages_per_rank'] == 1:
        return [pp_rank]
    if job['schedule'] == 'ScheduleZBVZeroBubble':
        return [pp_rank, 2 * P - 1 - pp_rank]
    return [pp_rank + k * P for k in range(job['stages_per_rank'])]


def worker(rank, name, job, port, out_dir):
    import torch
    import torch.distributed as dist
    from torch.distributed.pipelining import PipelineStage
    import torch.distributed.pipelining.schedules as schedules
    from torch.profiler import ProfilerActivity, profile, schedule as prof_schedule

    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    world = job['ranks']
    dist.init_process_group('gloo', rank=rank, world_size=world)
    R = job['replicas']
    P = world // R
    if R > 1:
        from torch.distributed.device_mesh import init_device_mesh
        mesh = init_device_mesh('cpu', (R, P), mesh_dim_names=('dp', 'pp'))
        pp_group, dp_group = mesh.get_group('pp'), mesh.get_group('dp')
        pp_rank = mesh.get_local_rank('pp')
    else:
        pp_group, dp_group, pp_rank = None, None, rank
    n_stages = P * job['stages_per_rank']

    def stage_module(s):
        torch.manual_seed(SEED + s)  # the same weights on every replica of a stage
        layers = []
        for _ in range(job['layers'][s]):
            layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers)

    stages = [PipelineStage(stage_module(s), s, n_stages, torch.device('cpu'), group=pp_group)
              for s in stage_indices(job, pp_rank)]
    loss_fn = lambda out, target: torch.nn.functional.mse_loss(out, target)
    cls = getattr(schedules, job['schedule'])
    sched = cls(stages if len(stages) > 1 else stages[0], n_microbatches=job['microbatches'], loss_fn=loss_fn)
    params = [p for st in stages for p in st.submod.parameters()]
    opt = torch.optim.SGD(params, lr=1e-3)
    first = 0 in [st.stage_index for st in stages]
    last = n_stages - 1 in [st.stage_index for st in stages]
    torch.manual_seed(SEED + 100)

    path = os.path.join(out_dir, f'rank{rank}.json')

    def ready(p):
        p.export_chrome_trace(path)

    total = STEPS['wait'] + STEPS['warmup'] + STEPS['active']
    with profile(activities=[ProfilerActivity.CPU], schedule=prof_schedule(**STEPS, repeat=1), on_trace_ready=ready,
                 record_shapes=True, with_stack=job['stack'], with_modules=job['stack']) as prof:
        for _ in range(total):
            x = torch.randn(BATCH, WIDTH)
            y = torch.randn(BATCH, WIDTH)
            opt.zero_grad()
            kwargs = {}
            if last:
                kwargs['target'] = y
            if first:
                sched.step(x, **kwargs)
            else:
                sched.step(**kwargs)
            if dp_group is not None:
                for p in params:
                    dist.all_reduce(p.grad, group=dp_group)
                    p.grad /= R
            opt.step()
            prof.step()
    dist.barrier()
    dist.destroy_process_group()
    with open(path, 'rb') as f, gzip.open(path + '.gz', 'wb', compresslevel=9) as g:
        shutil.copyfileobj(f, g)
    os.remove(path)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='test/fixtures/torch-pp', help='folder for <job>/rank<N>.json.gz (default: %(default)s)')
    ap.add_argument('--job', action='append', choices=sorted(JOBS), help='run only this job (repeatable; default: all)')
    ap.add_argument('--list', action='store_true', help='print the jobs as JSON and exit')
    args = ap.parse_args()
    if args.list:
        print(json.dumps(JOBS, indent=1))
        return
    import torch
    import torch.multiprocessing as mp
    for name in args.job or list(JOBS):
        job = JOBS[name]
        out_dir = os.path.join(args.out, name)
        os.makedirs(out_dir, exist_ok=True)
        mp.spawn(worker, args=(name, job, free_port(), out_dir), nprocs=job['ranks'], join=True)
        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        print(f'{name}: {job["ranks"]} ranks, {job["schedule"]}, torch {torch.__version__}: {out_dir} ({size / 1024:.0f} KiB)')


if __name__ == '__main__':
    main()
