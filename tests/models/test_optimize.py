import torch

from mfif.models import Generator
from mfif.models.optimize import fold_batchnorm, optimize_for_inference


def test_folded_network_computes_the_same_map():
    torch.manual_seed(0)
    g = Generator(width=4, n_blocks=2)
    # give BN non-trivial statistics
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    g.eval()
    f = fold_batchnorm(g)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in f.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())  # original untouched
    a, b = torch.rand(1, 3, 36, 28), torch.rand(1, 3, 36, 28)
    with torch.no_grad():
        torch.testing.assert_close(f(a, b), g(a, b), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(optimize_for_inference(g)(a, b), g(a, b), atol=1e-5, rtol=1e-4)
