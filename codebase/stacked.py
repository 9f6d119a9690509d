"""Many runs of one small network, trained at once as one stacked network.

A fair comparison of optimizers needs many runs: every rate of a grid, for every optimizer,
from several seeds. :func:`train_stacked` trains them side by side. The weights of all runs
are stacked along a first dimension, one forward pass computes the outputs of every run
(a batched matrix product per linear layer), and the optimizers update slices of the
stacked tensors. The network is a ``torch.nn.Sequential`` of ``Linear`` layers and modules
without parameters (activations such as ``codebase.nn.ReLU``), which is what
``codebase.nn.mlp`` builds without dropout. Each run is the run :func:`codebase.train.fit`
makes, because the optimizers are arranged so that none of them mixes runs:

- most update rules of ``codebase.optim`` (SGD to AdamW, Adamax, NAdam, RAdam, Lion) act
  entry by entry, so one optimizer over the stacked weights of all runs of a kind takes
  the same steps as one optimizer per run. When those runs have different rates, one more
  fact is used: every such rule has the form :math:`\\theta \\leftarrow \\theta - \\alpha\\, u`,
  where the update :math:`u` does not depend on :math:`\\alpha` (AdamW's decay
  :math:`\\alpha\\lambda\\theta` included), so an optimizer built with ``lr = 1`` whose change
  is then scaled by each run's own :math:`\\alpha` gives exactly the run with that rate;
- the optimizers named in ``per_run`` get one instance per run, built with the run's own
  rate on the run's own slices, shaped as the model's parameters. That is for rules that
  look at a whole tensor (Adafactor's root-mean-square step size and clipping, Muon's
  orthogonalized matrix) or whose step is not linear in the rate (the averaged sequence
  of the schedule-free optimizers);
- an optimizer with ``train()`` and ``eval()`` methods (schedule-free) is switched as
  ``fit`` switches it: it trains in train mode, and every evaluation sees its eval-mode
  weights.

The tests check that each run equals :func:`codebase.train.fit` with the same model, rate
and seed. The seed of a run fixes both its initial weights (``make_model(seed)``) and the
order of its mini-batches (as ``fit(..., seed=seed)`` draws it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from ._checks import check_callable, check_int, check_real
from .data import num_batches
from .evaluation import switch_mode
from .nn import Dropout

__all__ = ["train_stacked"]


def _check_runs(runs, makers):
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or not runs:
        raise TypeError("runs must be a non-empty list of (optimizer name, learning rate, seed) triples")
    checked = []
    for i, run in enumerate(runs):
        if not isinstance(run, (tuple, list)) or len(run) != 3:
            raise TypeError(f"runs[{i}] must be a triple (optimizer name, learning rate, seed), got {run!r}")
        name, lr, seed = run
        if name not in makers:
            raise ValueError(f"runs[{i}] names the optimizer {name!r}, which is not in makers {sorted(makers)}")
        checked.append((name, check_real(f"runs[{i}] learning rate", lr, low=0.0),
                        check_int(f"runs[{i}] seed", seed, low=0, high=2**63 - 1)))
    return checked


def _layers(model):
    """The layers of ``model``, after checking that a stacked forward pass can run them."""
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(f"make_model must return a torch.nn.Sequential, got {type(model).__name__}")
    for layer in model:
        if not isinstance(layer, torch.nn.Linear) and (any(True for _ in layer.parameters())
                                                        or any(True for _ in layer.buffers())
                                                        or isinstance(layer, (torch.nn.Dropout, Dropout))):
            raise ValueError(f"train_stacked runs Linear layers and modules without parameters, buffers or "
                             f"randomness; got {type(layer).__name__}")
    return list(model)


def _stack(models):
    """Each Linear layer's weight and bias, stacked over ``models``: new leaf tensors, (runs, out, in) and (runs, out)."""
    tensors = []
    for layers in zip(*(list(m) for m in models)):
        if isinstance(layers[0], torch.nn.Linear):
            tensors.append(torch.stack([layer.weight.detach() for layer in layers]).requires_grad_())
            if layers[0].bias is not None:
                tensors.append(torch.stack([layer.bias.detach() for layer in layers]).requires_grad_())
    return tensors


def _check_per_run(per_run, makers):
    if isinstance(per_run, (str, bytes)) or not hasattr(per_run, "__iter__"):
        raise TypeError(f"per_run must be a collection of optimizer names, got {type(per_run).__name__} {per_run!r}")
    per_run = set(per_run)
    unknown = sorted(str(name) for name in per_run if name not in makers)
    if unknown:
        raise ValueError(f"per_run names optimizers that are not in makers: {unknown} (makers: {sorted(makers)})")
    return per_run


class _Unit:
    """One optimizer and the rows of the stacked tensors it updates: ``rows`` (a slice, or one row)."""

    def __init__(self, make, tensors, rows, rates):
        self.views = [t[rows].detach() for t in tensors]    # share memory with the stacked tensors
        self.tensors, self.rows = tensors, rows
        if len(set(rates)) == 1:   # one rate for all rows: the optimizer takes it
            self.optimizer, self.scales = make(self.views, rates[0]), None
        else:                      # lr = 1, and each row's change is scaled by its own rate
            self.optimizer = make(self.views, 1.0)
            self.scales = [torch.tensor(rates, dtype=v.dtype).view(-1, *[1] * (v.dim() - 1)) for v in self.views]
        self.switch("train")

    def switch(self, mode):
        switch_mode(self.optimizer, mode)   # schedule-free optimizers: train() and eval()

    def step(self):
        for view, tensor in zip(self.views, self.tensors):
            view.grad = tensor.grad[self.rows]
        if self.scales is None:
            self.optimizer.step()
            return
        before = [v.clone() for v in self.views]
        self.optimizer.step()
        with torch.no_grad():
            for v, v0, scale in zip(self.views, before, self.scales):
                v.copy_(torch.addcmul(v0, scale, v - v0))  # theta_0 - alpha * u


def _losses(output, y):
    """The mean cross-entropy of each run: ``output`` is (runs, n, classes), ``y`` (runs, n) or (n,)."""
    runs, n, classes = output.shape
    y = y.expand(runs, n) if y.dim() == 1 else y
    each = torch.nn.functional.cross_entropy(output.reshape(-1, classes), y.reshape(-1), reduction="none")
    return each.view(runs, n).mean(1)


def train_stacked(make_model: Callable, makers: Mapping[str, Callable], runs, train, *, steps: int,
                  batch_size: int, evaluate: Mapping | None = None, every: int | None = None,
                  per_run=()) -> dict:
    """Train one classifier per run in ``runs``, all at once; return what each run reached.

    Parameters
    ----------
    make_model : callable
        ``make_model(seed)`` returns a fresh ``torch.nn.Module`` (a classifier whose outputs
        are class scores); every run's model must have the same architecture.
    makers : dict
        Optimizer name -> ``make(params, lr)``, returning an optimizer (``step()``; for a
        schedule-free one also ``train()`` and ``eval()``). Unless the name is in
        ``per_run``, its rule must act entry by entry and be linear in ``lr``, as those of
        ``codebase.optim`` from SGD to AdamW, Adamax, NAdam, RAdam and Lion are.
    runs : list of (name, lr, seed)
        One run per triple.
    train : (X, y)
        The training set: inputs and integer class labels.
    steps, batch_size : int
        Optimizer steps per run, and examples per mini-batch (the last batch of an epoch may
        be smaller, as in ``fit``).
    evaluate : dict, optional
        Name -> ``(X, y)`` of the sets to measure at the end (cross-entropy and accuracy).
    every : int, optional
        Also measure the loss on the first set of ``evaluate`` every ``every`` steps.
    per_run : collection of str, optional
        Names of ``makers`` whose optimizer is built once per run, with the run's rate, on
        tensors shaped as the model's parameters (a weight ``(out, in)``, a bias ``(out,)``):
        for rules that are not entry-wise or not linear in the rate (Adafactor, Muon, the
        schedule-free optimizers). Exact for any optimizer; slower, one step call per run.

    Returns
    -------
    dict of tensors, one row per run in the order of ``runs``: ``NAME_loss`` and ``NAME_acc``
    (accuracy in percent) for each set of ``evaluate``, ``NAME_curve`` (runs, steps // every)
    for the first set when ``every`` is given, and ``norm``, the norm of each run's weights.
    """
    check_callable("make_model", make_model, ("seed",))
    if not isinstance(makers, Mapping) or not makers:
        raise TypeError("makers must be a non-empty dict of optimizer name -> make(params, lr)")
    for name, make in makers.items():
        check_callable(f"makers[{name!r}]", make, ("params", "lr"))
    runs = _check_runs(runs, makers)
    steps = check_int("steps", steps, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    evaluate = {name: tuple(pair) for name, pair in dict(evaluate or {}).items()}
    if any(len(pair) != 2 for pair in evaluate.values()):
        raise TypeError("evaluate must map a name to an (X, y) pair")
    if every is not None:
        every = check_int("every", every, low=1)
        if not evaluate:
            raise ValueError("every needs a set to measure: pass evaluate={'val': (X, y)}")
    per_run = _check_per_run(per_run, makers)
    X, y = train

    names = list(dict.fromkeys(name for name, _, _ in runs))
    order = [i for name in names for i, run in enumerate(runs) if run[0] == name]  # stacked row -> run
    models = [make_model(runs[i][2]) for i in order]
    layers = _layers(models[0])
    tensors = _stack(models)
    units, first = [], 0
    for name in names:
        rates = [lr for n, lr, _ in runs if n == name]
        if name in per_run:
            units += [_Unit(makers[name], tensors, first + k, [lr]) for k, lr in enumerate(rates)]
        else:
            units.append(_Unit(makers[name], tensors, slice(first, first + len(rates)), rates))
        first += len(rates)

    def forward(inputs, shared):
        x = inputs.expand(len(order), *inputs.shape) if shared else inputs
        params = iter(tensors)
        for layer in layers:
            if isinstance(layer, torch.nn.Linear):
                weight = next(params)   # (runs, out, in)
                x = x @ weight.transpose(1, 2) if layer.bias is None else \
                    torch.baddbmm(next(params).unsqueeze(1), x, weight.transpose(1, 2))
            else:
                x = layer(x)            # no parameters: it acts on any shape
        return x

    def measure(inputs):
        for unit in units:
            unit.switch("eval")
        with torch.no_grad():
            output = forward(inputs, shared=True)
        for unit in units:
            unit.switch("train")
        return output

    shufflers = [torch.Generator().manual_seed(runs[i][2]) for i in order]
    per_epoch = num_batches(len(y), batch_size)
    result = {}
    curve = []
    for step in range(steps):
        position = step % per_epoch
        if position == 0:  # a new epoch: each run draws its permutation as data.batches does
            permutation = torch.stack([torch.randperm(len(y), generator=g) for g in shufflers])
        rows = permutation[:, position * batch_size:(position + 1) * batch_size]
        for t in tensors:
            t.grad = None
        _losses(forward(X[rows], shared=False), y[rows]).sum().backward()
        for unit in units:
            unit.step()
        if every is not None and (step + 1) % every == 0:
            X_first, y_first = next(iter(evaluate.values()))
            curve.append(_losses(measure(X_first), y_first))
    for unit in units:   # the end: what fit returns, the weights to evaluate
        unit.switch("eval")
    with torch.no_grad():
        for set_name, (X_eval, y_eval) in evaluate.items():
            output = forward(X_eval, shared=True)
            result[f"{set_name}_loss"] = _losses(output, y_eval)
            result[f"{set_name}_acc"] = 100 * (output.argmax(-1) == y_eval).double().mean(1)
        if curve:
            result[f"{next(iter(evaluate))}_curve"] = torch.stack(curve, dim=1)
        result["norm"] = sum((t ** 2).flatten(1).sum(1) for t in tensors).sqrt()
    back = torch.empty(len(order), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(order))
    return {key: value[back] for key, value in result.items()}
