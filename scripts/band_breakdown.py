"""Where in the boundary band the fused error sits: MSE and wrong-pick rate by signed distance to the
true boundary (+ inside the A region), mfif-gan-lite vs laplacian-argmax vs the true-mask pick, on the
pack's held-out pairs. Usage: python scripts/band_breakdown.py  (needs packs/mf-voc)."""
import numpy as np
from scipy import ndimage
from mfif.bench.synthetic import pack_pairs
from mfif.registry import get_method
pairs=pack_pairs('packs/mf-voc',split='val')
lite=get_method('mfif-gan-lite').fn; lap=get_method('laplacian-argmax').fn
bins=np.arange(-8,9)
acc={k:np.zeros(len(bins)) for k in ('lite','lap','truth')}; cnt=np.zeros(len(bins)); wrong=np.zeros(len(bins)); wrongl=np.zeros(len(bins))
for p in pairs:
    m=p.mask>0.5
    if m.all() or not m.any(): continue
    d=np.where(m,ndimage.distance_transform_edt(m),-ndimage.distance_transform_edt(~m))  # +inside (A sharp), -outside
    di=np.clip(np.round(d),-8,8).astype(int)
    rl=lite([p.a,p.b],device='cpu'); rp=lap([p.a,p.b])
    tm=np.where(m[...,None],p.a,p.b)
    for k,f in (('lite',rl.fused),('lap',rp.fused),('truth',tm)):
        e=((f-p.truth)**2).mean(-1)
        for i,b in enumerate(bins): acc[k][i]+=e[di==b].sum()
    for i,b in enumerate(bins):
        sel=di==b; cnt[i]+=sel.sum(); wrong[i]+=((rl.decision_map>0.5)!=m)[sel].sum(); wrongl[i]+=((rp.decision_map>0.5)!=m)[sel].sum()
print('dist(+in A) | MSE×1e5 lite / lap / truth | wrong-pick % lite / lap')
for i,b in enumerate(bins):
    if b==0: continue
    print(f'{b:+3d} | {1e5*acc["lite"][i]/cnt[i]:7.2f} {1e5*acc["lap"][i]/cnt[i]:7.2f} {1e5*acc["truth"][i]/cnt[i]:7.2f} | {100*wrong[i]/cnt[i]:5.2f} {100*wrongl[i]/cnt[i]:5.2f}')
