# A PyTorch rank for the wire-compatibility test: joins the group through torch.distributed's env:// rendezvous
# (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE), runs the same collectives as test/helpers/dist-rank.ts's
# 'interop' scenario, in the same order, and prints what it got as one JSON line.
import datetime
import json

import torch
import torch.distributed as dist

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
rank = dist.get_rank()
world = dist.get_world_size()
out = {"rank": rank, "world": world}

t = torch.arange(5, dtype=torch.float32) * (rank + 1) + rank
dist.all_reduce(t)
out["sum"] = t.tolist()

t = torch.tensor([rank * 3.0, 7.0 - rank, -1.0 - rank])
dist.all_reduce(t, op=dist.ReduceOp.MAX)
out["max"] = t.tolist()

t = torch.tensor([rank + 10, 1 << 40], dtype=torch.int64)
dist.all_reduce(t)
out["int64"] = t.tolist()

t = torch.arange(4, dtype=torch.float32) * 7 if rank == 1 else torch.zeros(4)
dist.broadcast(t, src=1)
out["broadcast1"] = t.tolist()

t = torch.full((3,), 2.5) if rank == 0 else torch.zeros(3)
dist.broadcast(t, src=0)
out["broadcast0"] = t.tolist()

parts = [torch.zeros(2, 3) for _ in range(world)]
dist.all_gather(parts, torch.full((2, 3), float(rank)) + torch.arange(6.0).reshape(2, 3))
out["gather"] = [p.tolist() for p in parts]

dist.barrier()
dist.destroy_process_group()
print(json.dumps(out), flush=True)
