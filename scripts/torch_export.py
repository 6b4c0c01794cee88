#!/usr/bin/python3
"""dlrun -> PyTorch: the torch.nn model of a dlrun config, with a dlrun checkpoint loaded into it.

    /usr/bin/python3 scripts/torch_export.py RUN_DIR [--checkpoint FILE] [--output model.pt]
    /usr/bin/python3 scripts/torch_export.py --config CONFIG --checkpoint FILE [--output model.pt]

RUN_DIR is a run directory of `dlrun train` (its config.yaml and checkpoints/best.safetensors, else
last.safetensors). The model is a torch.nn.Sequential whose children carry dlrun's layer names, so
its state_dict keys are the checkpoint's tensor names (DESIGN.md §5: PyTorch's names and layouts);
the checkpoint is loaded with load_state_dict(strict=True): every parameter must be there, with its
shape. With --output, torch.save writes the whole module (load it with torch.load); without, the
script prints the model and its parameter count.

From Python (scripts/ on sys.path):

    from torch_export import load_run
    model = load_run("runs/qs")          # eval mode
    probabilities = model(x)             # x: what dlrun's model sees (after scale / normalize)

The model's input is what dlrun feeds its first layer: inputs after `data.scale` and
`data.normalize` (not applied here), batch first: (N, F), (N, C, H, W) or (N, T, F); token ids for
an embedding as numbers. Its output is the final layer's, as `dlrun predict --raw` prints it (a final
softmax or sigmoid included).

Layers: dense, conv2d, maxpool2d, avgpool2d, global_avg_pool2d, batchnorm, layernorm, dropout,
flatten, activation (and any layer's `activation:`), embedding, simple_rnn, lstm, gru (with
return_sequences and bidirectional), sequence_pool. Shapes (in_features, channels, ...) are read
from the checkpoint's tensors, so no data is needed. Attention layers are not exported.

Needs torch and PyYAML (Debian: python3-torch python3-yaml); the checkpoint is read without the
safetensors package (scripts/fixtures/safetensors_interop.py).
"""

import argparse
import os
import sys
from collections import OrderedDict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from safetensors_interop import load_file  # noqa: E402


class ExportError(ValueError):
    """A config or checkpoint this script cannot turn into a torch model."""


# --- modules for what torch.nn has no exact counterpart of ------------------------------------


class BatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """dlrun's batchnorm: over C of (N, C, H, W), F of (N, F), and the last axis F of (N, T, F)."""

    def _check_input_dim(self, x):
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"batchnorm: expected a 2-D, 3-D or 4-D input, got {x.dim()}-D")

    def forward(self, x):
        if x.dim() == 3:  # (N, T, F): features last, torch wants them at dim 1
            return super().forward(x.transpose(1, 2)).transpose(1, 2)
        return super().forward(x)


class GlobalAvgPool2d(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Embedding(torch.nn.Embedding):
    """dlrun carries token ids as float32 numbers; torch's embedding wants integers."""

    def forward(self, x):
        return super().forward(x.long())


class _DlrunRecurrent:
    """dlrun's simple_rnn / lstm / gru: batch first; the whole sequence with return_sequences, else
    each direction's final hidden state h_n (forward, then backward), as dlrun returns them. A
    subclass of torch's own module, so the state_dict names are torch's (weight_ih_l0, ...)."""

    return_sequences = False

    def forward(self, x):
        output, state = super().forward(x)
        if self.return_sequences:
            return output
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        return torch.cat([h_n[d] for d in range(h_n.shape[0])], dim=1)


class RNN(_DlrunRecurrent, torch.nn.RNN):
    pass


class LSTM(_DlrunRecurrent, torch.nn.LSTM):
    pass


class GRU(_DlrunRecurrent, torch.nn.GRU):
    pass


class SequencePool(torch.nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if self.mode == "last":
            return x[:, -1]
        if self.mode == "mean":
            return x.mean(dim=1)
        return x.max(dim=1).values


# --- config -> modules --------------------------------------------------------------------------


def pair(value, default):
    if value is None:
        value = default
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(int(v) for v in value)
    raise ExportError(f"expected an integer or a pair, got {value!r}")


def activation_module(function, options):
    if function in ("linear", "none"):
        return None
    if function == "relu":
        return torch.nn.ReLU()
    if function == "leaky_relu":
        return torch.nn.LeakyReLU(float(options.get("negative_slope", 0.01)))
    if function == "elu":
        return torch.nn.ELU(float(options.get("alpha", 1.0)))
    if function == "gelu":
        return torch.nn.GELU()  # exact (erf), as dlrun
    if function == "sigmoid":
        return torch.nn.Sigmoid()
    if function == "tanh":
        return torch.nn.Tanh()
    if function == "softmax":
        return torch.nn.Softmax(dim=-1)
    raise ExportError(f"unknown activation '{function}'")


def tensor(tensors, name):
    if name not in tensors:
        raise ExportError(f"no tensor '{name}' for layer '{name.split('.')[0]}' of the config")
    return tensors[name]


def layer_module(kind, name, options, tensors):
    """The torch module of one dlrun layer (None for an identity)."""
    has = lambda suffix: f"{name}.{suffix}" in tensors  # noqa: E731
    if kind == "dense":
        out_features, in_features = tensor(tensors, f"{name}.weight").shape
        return torch.nn.Linear(in_features, out_features, bias=has("bias"))
    if kind == "conv2d":
        weight = tensor(tensors, f"{name}.weight")
        groups = int(options.get("groups", 1))
        padding = options.get("padding", 0)
        if padding == "valid":
            padding = 0
        elif padding != "same":
            padding = pair(padding, 0)
        return torch.nn.Conv2d(weight.shape[1] * groups, weight.shape[0], tuple(weight.shape[2:]),
                               stride=pair(options.get("stride"), 1), padding=padding,
                               dilation=pair(options.get("dilation"), 1), groups=groups, bias=has("bias"))
    if kind in ("maxpool2d", "avgpool2d"):
        pool = pair(options.get("pool"), 2)
        stride = pair(options.get("stride"), pool)
        padding = pair(options.get("padding"), 0)
        if kind == "maxpool2d":
            return torch.nn.MaxPool2d(pool, stride=stride, padding=padding)
        return torch.nn.AvgPool2d(pool, stride=stride, padding=padding, count_include_pad=True)
    if kind == "global_avg_pool2d":
        return GlobalAvgPool2d()
    if kind == "batchnorm":
        features = tensor(tensors, f"{name}.running_mean").shape[0]
        return BatchNorm(features, eps=float(options.get("eps", 1e-5)), momentum=float(options.get("momentum", 0.1)),
                         affine=bool(options.get("affine", True)))
    if kind == "layernorm":
        affine = bool(options.get("affine", True))
        features = tensor(tensors, f"{name}.weight").shape[0] if affine else None
        if features is None:
            raise ExportError(f"layer '{name}': layernorm without affine has no tensor to size it by")
        return torch.nn.LayerNorm(features, eps=float(options.get("eps", 1e-5)), elementwise_affine=affine)
    if kind == "dropout":
        return torch.nn.Dropout(float(options.get("rate", 0.5)))
    if kind == "flatten":
        return torch.nn.Flatten()
    if kind == "activation":
        function = options.get("activation", options.get("function"))
        return activation_module(function, options)
    if kind == "embedding":
        vocab, dim = tensor(tensors, f"{name}.weight").shape
        return Embedding(vocab, dim, padding_idx=options.get("padding_idx"))
    if kind in ("simple_rnn", "lstm", "gru"):
        gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
        weight_ih = tensor(tensors, f"{name}.weight_ih_l0")
        hidden = weight_ih.shape[0] // gates
        common = dict(batch_first=True, bidirectional=bool(options.get("bidirectional", False)),
                      bias=bool(options.get("bias", True)))
        if kind == "simple_rnn":
            rnn = RNN(weight_ih.shape[1], hidden, nonlinearity=options.get("nonlinearity", "tanh"), **common)
        else:
            rnn = (LSTM if kind == "lstm" else GRU)(weight_ih.shape[1], hidden, **common)
        rnn.return_sequences = bool(options.get("return_sequences", False))
        return rnn
    if kind == "sequence_pool":
        return SequencePool(options.get("mode", "last"))
    raise ExportError(f"layer '{name}': type '{kind}' is not exported to torch (see torch_export.py's docstring)")


def build_model(config, tensors):
    """torch.nn.Sequential of the config's model.layers; children named as dlrun names layers."""
    layers = config.get("model", {}).get("layers")
    if not layers:
        raise ExportError("the config has no model.layers")
    counts = {}
    children = OrderedDict()
    for entry in layers:
        entry = dict(entry)
        kind = entry.pop("type")
        counts[kind] = counts.get(kind, 0) + 1
        name = entry.pop("name", None) or f"{kind}_{counts[kind]}"  # DESIGN.md §3: <type>_<n>
        module = layer_module(kind, name, entry, tensors)
        children[name] = module if module is not None else torch.nn.Identity()
        # Any layer's `activation:` shorthand (dlrun appends the activation as its own step).
        if kind != "activation" and entry.get("activation") not in (None, "linear", "none"):
            children[f"{name}_{entry['activation']}"] = activation_module(entry["activation"], entry)
    return torch.nn.Sequential(children)


def load_checkpoint_into(model, tensors):
    """Loads a dlrun checkpoint's parameters; optimizer state (optim.*) is ignored."""
    state = OrderedDict((k, v) for k, v in tensors.items() if not k.startswith("optim."))
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value  # torch's step counter; dlrun does not keep it
    model.load_state_dict(state, strict=True)
    return model


def read_config(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def run_checkpoint(run_dir):
    for name in ("best.safetensors", "last.safetensors"):
        path = Path(run_dir) / "checkpoints" / name
        if path.exists():
            return path
    raise ExportError(f"{run_dir}: no checkpoints/best.safetensors or last.safetensors")


def load_model(config_path, checkpoint_path):
    tensors, _ = load_file(checkpoint_path)
    tensors = OrderedDict((k, v.float()) for k, v in tensors.items())
    model = build_model(read_config(config_path), tensors)
    return load_checkpoint_into(model, tensors).eval()


def load_run(run_dir, checkpoint=None):
    run_dir = Path(run_dir)
    return load_model(run_dir / "config.yaml", checkpoint or run_checkpoint(run_dir))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", help="a dlrun run directory")
    parser.add_argument("--config", help="a dlrun config (instead of RUN_DIR)")
    parser.add_argument("--checkpoint", help="a dlrun checkpoint (default: the run's best, else last)")
    parser.add_argument("--output", help="write the module with torch.save")
    args = parser.parse_args()
    try:
        if args.config:
            if not args.checkpoint:
                parser.error("--config needs --checkpoint")
            model = load_model(args.config, args.checkpoint)
        elif args.run_dir:
            model = load_run(args.run_dir, args.checkpoint)
        else:
            parser.error("give RUN_DIR or --config CONFIG --checkpoint FILE")
    except (ExportError, RuntimeError, OSError, KeyError) as error:
        sys.exit(f"error: {error}")
    if args.output:
        torch.save(model, args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(model)
        print(f"{sum(p.numel() for p in model.parameters())} parameters", file=sys.stderr)


if __name__ == "__main__":
    main()
