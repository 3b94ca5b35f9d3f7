"""Hand a trained model to the Hugging Face ecosystem:

    python -m numpygpt.export out/shakespeare_char/best.npz hf/shakespeare_char
    python -m numpygpt.export out/shakespeare_gpt2 hf/gpt2-shakespeare        a run folder: its best.npz

writes FOLDER/config.json and FOLDER/model.safetensors in the layout of transformers'
GPT2LMHeadModel (and the tokenizer's vocab.json + merges.txt when it is byte-level BPE: bpe or
gpt2), so that there

    model = transformers.GPT2LMHeadModel.from_pretrained("hf/shakespeare_char")

gives the same logits (multi-GPU training, serving, the hub). A character tokenizer has no
Hugging Face form: its model is written alone, and the command says so.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from numpygpt.checkpoint import CheckpointError
from numpygpt.cli import ArgumentParser, ConfigError, add_options, fail, given_options, option, run
from numpygpt.sample import load_model
from numpygpt.tokenizer import BPETokenizer, GPT2Tokenizer

WRITES = ("config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json")


@dataclass
class ExportConfig:
    """The export command's settings; each field is a command-line option."""

    overwrite: bool = option(False, "replace the files of an export already in FOLDER")


def export(checkpoint: str | Path, folder: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the model (and byte-level tokenizer) of `checkpoint`, a file or a run folder, into `folder`."""
    path = Path(checkpoint)
    if path.is_dir():
        path = path / "best.npz"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (give a .npz file or a run folder holding best.npz)")
    folder = Path(folder)
    there = [name for name in WRITES if (folder / name).exists()]
    if there and not overwrite:
        raise ConfigError(f"{folder} already holds {', '.join(there)}: export elsewhere, or pass --overwrite")
    model, tokenizer = load_model(path)
    byte_level = isinstance(tokenizer, GPT2Tokenizer | BPETokenizer)
    for name in there:  # an old tokenizer must not outlive the export that replaces it
        (folder / name).unlink()
    return model.save_pretrained(folder, tokenizer=tokenizer if byte_level else None)


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 done, 1 a missing extra or an OS error, 2 a usage mistake or a bad checkpoint."""
    parser = ArgumentParser(
        "python -m numpygpt.export",
        "Write a trained checkpoint in Hugging Face's layout (config.json + model.safetensors, and the tokenizer "
        "when it is byte-level BPE), which transformers.GPT2LMHeadModel.from_pretrained(FOLDER) loads.",
    )
    parser.add_argument("checkpoint", help="a checkpoint (.npz), or a run folder (its best.npz)")
    parser.add_argument("folder", help="the folder to write (created if needed)")
    add_options(parser, ExportConfig)
    args = parser.parse_args(argv)
    cfg = ExportConfig(**given_options(args, ExportConfig))
    try:
        files = export(args.checkpoint, args.folder, cfg.overwrite)
    except (CheckpointError, ConfigError, ValueError, TypeError) as e:
        return fail(str(e), 2)
    except (ImportError, OSError) as e:
        return fail(str(e), 1)
    print(f"wrote {', '.join(str(f) for f in files)}")
    if not any(f.name == "vocab.json" for f in files):
        print("note: a character tokenizer has no Hugging Face form; the model was written without one")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
