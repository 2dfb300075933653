# PyTorch anchor of bench/ops.ts: µs per small op (add, mul, matmul, softmax on n×n float32), with and without
# autograd, one intra-op thread. Prints `RESULT {json}` with wall and CPU (process user+sys) µs per op per case.
#   python3 bench/ops_anchor.py --sizes 8,16,32,64 --iters 10000 --chunk 100
import argparse
import json
import statistics
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument('--sizes', default='8,16,32,64')
parser.add_argument('--iters', type=int, default=10000)
parser.add_argument('--chunk', type=int, default=100)
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)

OPS = {
    'add': lambda a, b: a.add(b),
    'mul': lambda a, b: a.mul(b),
    'matmul': lambda a, b: a.matmul(b),
    'softmax': lambda a, b: torch.softmax(a, -1),
}

cases = []
for grad in (False, True):
    for n in [int(s) for s in args.sizes.split(',')]:
        a = torch.randn(n, n, requires_grad=grad)
        b = torch.randn(n, n, requires_grad=grad)
        for name, fn in OPS.items():
            for _ in range(args.chunk):  # warm-up
                fn(a, b)
            # the same shape as catface's loop: chunks of `chunk` ops (results freed when replaced), the median
            # chunk's time per op, and the process CPU time over all chunks
            chunks = []
            cpu0 = time.process_time()
            for _ in range(args.iters // args.chunk):
                t0 = time.perf_counter()
                for _ in range(args.chunk):
                    y = fn(a, b)
                chunks.append(time.perf_counter() - t0)
            cpu = time.process_time() - cpu0
            ops = len(chunks) * args.chunk
            cases.append({'case': f"{name} {n}x{n}{' grad' if grad else ''}", 'us': statistics.median(chunks) / args.chunk * 1e6,
                          'cpu_us': cpu / ops * 1e6})
print('RESULT ' + json.dumps({'torch': torch.__version__, 'cases': cases}))
