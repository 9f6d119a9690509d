"""What every chapter does first stays cheap: no torch._dynamo, no scikit-learn (see benchmarks/README.md)."""
import subprocess
import sys

CODE = """
import sys, torch, codebase
codebase.setup(plots=False)
from codebase import data, nn, optim, train
split = data.load_digits()
model = nn.mlp(64, 10, depth=1, width=8)
for make in (optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad, optim.RMSprop, optim.Adadelta):
    opt = make(model.parameters(), lr=0.01)
    opt.zero_grad()
train.fit(model, optim.SGD(model.parameters(), lr=0.1), split.train, epochs=1, val=split.val)
print('torch._dynamo' in sys.modules, 'sklearn' in sys.modules, torch.are_deterministic_algorithms_enabled())
import torch._inductor.config as inductor_config
print(inductor_config.deterministic)
"""


def test_a_chapters_first_steps_import_neither_dynamo_nor_sklearn():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True", "True"], out


def test_setup_sets_the_inductor_flag_when_its_config_is_already_imported():
    code = ("import torch, torch._inductor.config as c, codebase; c.deterministic = False; "
            "codebase.setup(plots=False); print(c.deterministic, torch.are_deterministic_algorithms_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"], out


def test_glue_does_not_import_nbformat():
    # myst_nb.glue imports nbformat, whose jsonschema URI checker costs ~1.7 s in every notebook.
    code = "import sys, codebase; codebase.glue('x', 1.0, display=False); print('nbformat' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False", out
