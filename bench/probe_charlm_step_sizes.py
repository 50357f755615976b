"""A short CPU probe of the language model's step sizes: where presets/transformer.yaml centres
its grids.

Trains ``--model`` for ``--epochs`` epochs on the first ``--train-limit`` windows of the corpus
at each batch size, optimizer and step size of the grids below, and prints the final training
loss (mean minibatch loss of the last epoch) and the wall time of each run (one thread).

    nice -n 5 python bench/probe_charlm_step_sizes.py
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run
from signgeom.workflow import checkout

GRIDS = {
    "sgd": [0.01, 0.0316, 0.1, 0.316, 1.0],
    "signsgd": [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2],
    "adam": [3.16e-4, 1e-3, 3.16e-3, 1e-2],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="transformer-cpu")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 128])
    p.add_argument("--train-limit", type=int, default=1024)
    p.add_argument("--test-limit", type=int, default=256)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--corpus", default=str(checkout() / "data/pydoc-prose/pydoc-prose.txt"))
    args = p.parse_args()
    torch.set_num_threads(1)
    logging.disable(logging.INFO)
    print(f"{args.model}, {args.epochs} epochs of {args.train_limit} windows, 1 thread")
    print("batch optimizer lr status final_train_loss seconds")
    with tempfile.TemporaryDirectory() as tmp:
        for batch in args.batch_sizes:
            for opt, lrs in GRIDS.items():
                for lr in lrs:
                    s = TrainSettings(
                        model=args.model, optimizer=opt, lr=lr, seed=0, batch_size=batch,
                        train_limit=args.train_limit, test_limit=args.test_limit,
                        epochs=args.epochs, train_eval_every=args.epochs, device="cpu",
                    )  # fmt: skip
                    t = time.perf_counter()
                    out = Path(tmp) / f"b{batch}_{opt}_{lr}"
                    status = train_run(s, batches_dir=args.corpus, out_dir=out)
                    loss = status["final_train_loss"]
                    print(batch, opt, lr, status["status"], "nan" if loss is None else
                          f"{loss:.4f}", f"{time.perf_counter() - t:.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
