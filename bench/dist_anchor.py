#!/usr/bin/env python3
"""PyTorch anchor of bench:dist: one rank (torchrun's variables) of the stage-1 step of
../shared/anchors/pytorch_catface_bench.py, wrapped in DistributedDataParallel (Gloo, PyTorch's defaults)
when WORLD_SIZE > 1, or all-reduces of one large tensor. The model, loss and step are the shared anchor's
own: its definitions are executed unchanged (everything before its timing code) and the step it defines is
timed here. Prints `RESULT {json}` with each timed step's wall and CPU seconds (rank 0).

  python3 bench/dist_anchor.py --anchor ../shared/anchors/pytorch_catface_bench.py --batch 16 --threads 1
"""
import argparse, json, os, sys, time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

p = argparse.ArgumentParser()
p.add_argument('--anchor', required=True)
p.add_argument('--mode', default='stage1')
p.add_argument('--size', default='64')
p.add_argument('--widths', default='32,64,128,256')
p.add_argument('--batch', default='16')
p.add_argument('--classes', default='1000')
p.add_argument('--threads', default='1')
p.add_argument('--steps', type=int, default=5)
p.add_argument('--warmup', type=int, default=2)
p.add_argument('--mb', type=float, default=50)
a = p.parse_args()
world = int(os.environ.get('WORLD_SIZE', '1'))
if world > 1:
    dist.init_process_group('gloo')


def timed(step):
    wall, cpu = [], []
    for i in range(a.warmup + a.steps):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        if i >= a.warmup:
            wall.append(time.perf_counter() - w0); cpu.append(time.process_time() - c0)
    return dict(wall=wall, cpu=cpu)


if a.mode == 'allreduce':
    torch.set_num_threads(int(a.threads))
    t = torch.zeros(round(a.mb * 2**20 / 4))
    result = timed(lambda: dist.all_reduce(t))
else:
    source = open(a.anchor).read()
    definitions = source[:source.index('\ndef timeit(')]
    sys.argv = [a.anchor, '--size', a.size, '--widths', a.widths, '--batch', a.batch, '--classes', a.classes,
                '--threads', a.threads]
    anchor = {'__name__': 'pytorch_catface_bench'}
    exec(compile(definitions, a.anchor, 'exec'), anchor)
    if world > 1:  # the step reads these globals: it now runs them through DDP
        anchor['net'] = DistributedDataParallel(anchor['net'])
        anchor['ada'] = DistributedDataParallel(anchor['ada'])
    result = timed(anchor['stage1_step'])
if world > 1:
    dist.destroy_process_group()
if int(os.environ.get('RANK', '0')) == 0:
    print('RESULT ' + json.dumps(result), flush=True)
