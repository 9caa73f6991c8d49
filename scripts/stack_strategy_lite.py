"""Stack strategy with the trained lite network: sequential vs vote on synthetic stacks with truth."""
import sys, numpy as np
from mfif.registry import get_method
from mfif.data.stacks import synthetic_stack
from mfif.bench.synthetic import psnr
W = sys.argv[1]
fn = get_method("mfif-gan-lite").fn
print("N blur strategy  PSNR  depth-acc")
for n in (3, 5):
    for blur in (1.0, 2.0):
        for strat in ("sequential", "vote"):
            r = []
            for seed in range(3):
                srcs, truth, depth = synthetic_stack(n, size=(128, 128), blur_step=blur, regions=2 * n, seed=100 * n + seed)
                res = fn(srcs, weights=W, device="cpu", stack_strategy=strat)
                r.append((psnr(res.fused, truth), (res.depth_map == depth).mean()))
            r = np.array(r); print(n, blur, strat, f"{r[:,0].mean():.2f}", f"{100*r[:,1].mean():.2f}%")
