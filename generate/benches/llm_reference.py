#!/usr/bin/env python3
"""llama.cpp (through llama-cpp-python) on the same GGUF file and prompt as
`cargo bench -p docket-generate --bench llm`, for a side-by-side comparison.

Setup (builds llama.cpp from source; 10+ minutes on 2 cores):
    python3 -m venv /tmp/llamavenv
    /tmp/llamavenv/bin/python -m pip install llama-cpp-python
Run:
    /tmp/llamavenv/bin/python generate/benches/llm_reference.py [--threads 2] [--gen 128]

The prompt is llm_prompt.txt as one user message in SmolLM2's chat template (ChatML
with its default system message), or with --chat gemma in Gemma's (after BOS),
rendered here as docket renders it. Generation is
greedy for a fixed number of tokens, end markers ignored, one token per eval as in
the Rust benchmark.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
from llama_cpp import Llama


def default_model() -> Path:
    env = os.environ.get("DOCKET_LLM_MODEL")
    if env:
        return Path(env)
    home = os.environ.get("DOCKET_HOME")
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        home = os.path.join(cache, "docket")
    return Path(home) / "models/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf"


SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=default_model())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chat", choices=["chatml", "gemma"], default="chatml")
    args = ap.parse_args()

    text = (Path(__file__).with_name("llm_prompt.txt")).read_text()
    if args.chat == "gemma":
        rendered = f"<start_of_turn>user\n{text.strip()}<end_of_turn>\n<start_of_turn>model\n"
    else:
        rendered = (
            f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
            f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
        )
    llm = Llama(
        model_path=str(args.model),
        n_ctx=4096,
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    tokens = llm.tokenize(rendered.encode(), add_bos=args.chat == "gemma", special=True)
    print(f"llama.cpp, {args.threads} threads; prompt: {len(tokens)} tokens")
    best_pp = best_tg = float("inf")
    for run in range(args.runs):
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        pp = time.perf_counter() - t
        out = []
        t = time.perf_counter()
        for _ in range(args.gen):
            # Logits of the last evaluated token (only that one is computed).
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            nxt = int(logits.argmax())
            out.append(nxt)
            llm.eval([nxt])
        tg = time.perf_counter() - t
        print(
            f"run {run}: prompt {len(tokens) / pp:.0f} tokens/s ({pp:.2f} s), "
            f"generation {args.gen / tg:.1f} tokens/s ({args.gen} tokens in {tg:.2f} s)"
        )
        if run == 0:
            first = out[:16]
        best_pp = min(best_pp, pp)
        best_tg = min(best_tg, tg)
    print(f"best: prompt {len(tokens) / best_pp:.0f} tokens/s, generation {args.gen / best_tg:.1f} tokens/s")
    print(f"first greedy tokens: {first} = {llm.detokenize(first).decode(errors='replace')!r}")


if __name__ == "__main__":
    main()
