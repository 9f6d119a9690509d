"""State dicts as torch keeps them: no entry for a stateless rule, torch's defaults for old checkpoints."""
import copy

import pytest
import torch

import codebase.optim as ours

NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]


def _two_steps(cls, **kwargs):
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = cls([w], lr=0.1, **kwargs)
    for _ in range(2):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
    return w, opt


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}])
def test_sgd_keeps_the_same_state_entries_as_torch(kwargs):
    _, mine = _two_steps(ours.SGD, **kwargs)
    _, theirs = _two_steps(torch.optim.SGD, **kwargs)
    assert mine.state_dict()["state"].keys() == theirs.state_dict()["state"].keys()
    if not kwargs:
        assert mine.state_dict()["state"] == {} == theirs.state_dict()["state"]


def _old_checkpoint(cls, flags, **kwargs):
    """A state dict as an older torch would have saved it: without some of the flags."""
    _, opt = _two_steps(cls, **kwargs)
    saved = copy.deepcopy(opt.state_dict())
    for group in saved["param_groups"]:
        for flag in flags:
            group.pop(flag)
    return saved


@pytest.mark.parametrize("name", NAMES)
def test_an_old_checkpoint_gets_torchs_defaults_not_the_constructors(name):
    flags = ["maximize", "foreach", "differentiable"]
    saved = _old_checkpoint(getattr(torch.optim, name), flags)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    mine = getattr(ours, name)([w], lr=0.1, maximize=True)
    theirs = getattr(torch.optim, name)([w], lr=0.1, maximize=True)
    mine.load_state_dict(copy.deepcopy(saved))
    theirs.load_state_dict(copy.deepcopy(saved))
    for flag in flags:
        assert mine.param_groups[0][flag] == theirs.param_groups[0][flag], flag
    assert mine.param_groups[0]["maximize"] is False  # the checkpoint descends, as in torch


@pytest.mark.parametrize("name, flags", [
    ("SGD", ["nesterov", "fused"]), ("Adam", ["amsgrad", "capturable", "decoupled_weight_decay", "fused"]),
    ("AdamW", ["amsgrad", "decoupled_weight_decay"]), ("RMSprop", ["momentum", "centered", "capturable"]),
    ("Adagrad", ["fused"]), ("Adadelta", ["capturable"])])
def test_each_optimizer_fills_the_flags_torch_fills(name, flags):
    saved = _old_checkpoint(getattr(torch.optim, name), flags)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    mine, theirs = getattr(ours, name)([w], lr=0.1), getattr(torch.optim, name)([w], lr=0.1)
    mine.load_state_dict(copy.deepcopy(saved))
    theirs.load_state_dict(copy.deepcopy(saved))
    for flag in flags:
        # fused: torch's SGD and Adam write False / None; both mean the for-loop here
        assert bool(mine.param_groups[0][flag]) == bool(theirs.param_groups[0][flag]), flag
    if name == "AdamW":
        assert mine.param_groups[0]["decoupled_weight_decay"] is True


def test_adamw_loaded_from_a_coupled_group_still_decouples_as_torch():
    saved = _old_checkpoint(torch.optim.Adam, [], weight_decay=0.5)  # decoupled_weight_decay=False inside
    results = []
    for cls in (ours.AdamW, torch.optim.AdamW):
        w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        opt = cls([w], lr=0.1)
        opt.load_state_dict(copy.deepcopy(saved))
        assert opt.param_groups[0]["decoupled_weight_decay"] is True
        (w ** 2).sum().backward()
        opt.step()
        results.append(w.detach().clone())
    torch.testing.assert_close(results[0], results[1], rtol=1e-12, atol=1e-14)


def test_a_step_saved_as_a_number_is_restored_as_a_tensor():
    """The legacy path of __setstate__: torch before 1.12 kept ``step`` as a Python number."""
    _, opt = _two_steps(ours.Adam)
    saved = copy.deepcopy(opt.state_dict())
    saved["state"][0]["step"] = 2
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    fresh = ours.Adam([w], lr=0.1)
    fresh.load_state_dict(saved)
    step = fresh.state[w]["step"]
    assert torch.is_tensor(step) and step.item() == 2.0 and step.dtype == torch.float32


def test_a_state_dict_of_another_optimizer_is_refused_by_name():
    _, sgd = _two_steps(ours.SGD, momentum=0.9)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"lacks \['betas', 'eps'\].*another optimizer than Adam"):
        ours.Adam([w]).load_state_dict(sgd.state_dict())
