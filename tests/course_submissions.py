"""Submissions for tests/test_course_grading.py: right answers in three styles, wrong ones, and attacks."""
SETUP = "import math\n\nimport torch\n\nimport codebase\n\ncodebase.setup()"
ADAM_INPLACE = '''
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    theta.sub_(lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps))
    return theta, m, v
'''
ADAM_OUT = '''
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v
'''
ADAM_F32 = '''
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    beta1, beta2 = torch.tensor(beta1), torch.tensor(beta2)   # float32 betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    return theta - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v
'''
ADAM_WRONG = '''
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return theta, m, v
'''
CLIP = '''
def clip_by_norm(g, c):
    return g * torch.clamp(c / g.norm(), max=1.0)
'''
CLIP_INPLACE = '''
def clip_by_norm(g, c):
    norm = g.norm()
    if norm > c:
        g.mul_(c / norm)
    return g
'''
CLIP_F32 = '''
def clip_by_norm(g, c):
    g32 = g.float()
    return (g32 * torch.clamp(c / g32.norm(), max=1.0)).to(g.dtype)
'''
RESTARTS = '''
def _cycle(k, T0, T_mult):
    start, length = 0, T0
    while k >= start + length:
        start, length = start + length, length * T_mult
    return start, length

def cosine_restarts(k, lr0, T0, T_mult):
    start, length = _cycle(k, T0, T_mult)
    return lr0 * (1 + math.cos(math.pi * (k - start) / length)) / 2
'''
RESTARTS_WRONG = '''
def cosine_restarts(k, lr0, T0, T_mult):
    return 0.0
'''
STOP = '''
def stopping_epochs(metrics, patience, min_delta):
    best, best_epoch, waited = float("inf"), None, 0
    for epoch, value in enumerate(metrics, start=1):
        if value < best - min_delta:
            best, best_epoch, waited = value, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, None
'''
PATCH_RESULT = '''
import codebase.checks as _c
_c.CheckResult.raise_for_failure = lambda self: self
_c.CheckResult.__bool__ = lambda self: True
'''
PATCH_MODULES = '''
import sys, types
fake = types.ModuleType("codebase.checks")
fake.__getattr__ = lambda name: (lambda fn: None)
sys.modules["codebase.checks"] = fake
import codebase
codebase.checks = fake
'''
PATCH_TORCH = '''
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(a, dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: True
math.cos = lambda x: 1.0
'''
LIBRARY = '''
from codebase.optim import adam as _adam_module
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return _adam_module.adam_update(theta, grad, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
'''
LOOP = '''
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    while True:
        pass
'''
PRINTS = '''
print("x" * 5_000_000)
def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    for _ in range(1000):
        print("y" * 10_000)
    return theta, m, v
'''
CLIP_LIBRARY = '''
def clip_by_norm(g, c):
    p = torch.nn.Parameter(g.clone())
    p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_([p], c)
    return p.grad
'''
MEMORY = '''
def clip_by_norm(g, c):
    hog = torch.empty(10**11)          # 400 GB
    return g
'''
