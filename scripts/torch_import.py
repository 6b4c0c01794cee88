#!/usr/bin/python3
"""PyTorch -> dlrun: a torch state_dict written as a dlrun checkpoint (safetensors).

    /usr/bin/python3 scripts/torch_import.py STATE_DICT.pt OUT.safetensors [--config CONFIG]
                                            [--rename OLD=NEW]...

STATE_DICT.pt is what torch.save(model.state_dict(), path) writes (a whole pickled module works too).
Tensor names must be dlrun's: `<layer name>.<param>` with PyTorch's names and layouts (DESIGN.md §5),
which is what a torch.nn.Sequential whose children are named like the dlrun layers gives;
`--rename 0.=fc1.` rewrites a name prefix (repeatable, applied in order) for models named otherwise.
torch's num_batches_tracked counters are dropped; tensors become float32.

With --config, the state_dict is first loaded (strict) into the torch model that torch_export.py
builds from that config, so a missing, extra or misshapen tensor is reported here, by name.

The checkpoint then serves dlrun as weights:

    dlrun predict CONFIG --checkpoint OUT.safetensors --input x.npy --raw
    dlrun train   CONFIG --weights OUT.safetensors          # fine-tune from torch's weights
"""

import argparse
import os
import sys
from collections import OrderedDict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from safetensors_interop import save_file  # noqa: E402


def dlrun_state(state_dict, renames=()):
    """The tensors a dlrun checkpoint holds: renamed, float32, without num_batches_tracked."""
    out = OrderedDict()
    for name, value in state_dict.items():
        if name.endswith("num_batches_tracked"):
            continue
        for old, new in renames:
            if name.startswith(old):
                name = new + name[len(old):]
        if name in out:
            raise ValueError(f"two tensors are named '{name}' after renaming")
        out[name] = value.detach().to(torch.float32).contiguous()
    return out


def check_against_config(state, config_path):
    from torch_export import build_model, load_checkpoint_into, read_config

    model = build_model(read_config(config_path), state)
    load_checkpoint_into(model, state)  # strict: names and shapes


def write_checkpoint(state_dict, path, renames=(), config=None):
    state = dlrun_state(state_dict, renames)
    if config:
        check_against_config(state, config)
    save_file(state, path, {"format": "torch-state-dict", "written_by": "scripts/torch_import.py"})
    return state


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("state_dict", help="file written by torch.save(model.state_dict(), ...)")
    parser.add_argument("output", help="the dlrun checkpoint to write (.safetensors)")
    parser.add_argument("--config", help="check names and shapes against this dlrun config's model")
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                        help="replace a name prefix (repeatable)")
    args = parser.parse_args()
    renames = []
    for rule in args.rename:
        if "=" not in rule:
            parser.error(f"--rename {rule}: expected OLD=NEW")
        renames.append(tuple(rule.split("=", 1)))
    try:
        loaded = torch.load(args.state_dict, map_location="cpu")
        if isinstance(loaded, torch.nn.Module):
            loaded = loaded.state_dict()
        if not isinstance(loaded, dict):
            sys.exit(f"error: {args.state_dict}: not a state_dict (a dict of tensors) nor a module")
        state = write_checkpoint(loaded, args.output, renames, args.config)
    except (RuntimeError, ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {args.output}: {len(state)} tensors, "
          f"{sum(t.numel() for t in state.values())} values", file=sys.stderr)


if __name__ == "__main__":
    main()
