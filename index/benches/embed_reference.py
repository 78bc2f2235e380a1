"""sentence-transformers' throughput on the texts of benches/embed.rs, for comparison.

    /tmp/st-venv/bin/python index/benches/embed_reference.py MODEL_DIR [ROUNDS]

(a venv with `pip install sentence-transformers`, see tests/fixtures/
make_minilm_reference.py). Prints chunks/s at batch 16 for 256-token chunks and ~32-token
texts, best and median of ROUNDS passes (default 5) and chunks per CPU-second, with
torch's thread count (set with DOCKET_BENCH_THREADS, as for the Rust bench).
"""

import os
import statistics
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

# Same list and generator as benches/embed.rs.
WORDS = (
    "the index stage splits documents into chunks embeds each vector store retrieval "
    "ranks query answer model token window search engine fast slow memory cache thread "
    "core batch sentence paragraph section title author report invoice payment customer "
    "account password network server client request response error warning file folder "
    "archive mail message calendar meeting project budget quarter revenue growth market "
    "product release version update security policy"
).split()
MASK = (1 << 64) - 1


def texts(count, words, seed):
    state = seed
    out = []
    for _ in range(count):
        ws = []
        for _ in range(words):
            state = (state * 6364136223846793005 + 1442695040888963407) & MASK
            ws.append(WORDS[(state >> 33) % len(WORDS)])
        out.append(" ".join(ws))
    return out


def measure(model, items, batch, rounds):
    model.encode(items[:batch], batch_size=batch)
    cpu = time.process_time()
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        for i in range(0, len(items), batch):
            model.encode(items[i : i + batch], batch_size=batch)
        rates.append(len(items) / (time.perf_counter() - t))
    per_cpu = rounds * len(items) / (time.process_time() - cpu)
    return max(rates), statistics.median(rates), per_cpu


def main():
    model_dir = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    assert len(WORDS) == 64
    if os.environ.get("DOCKET_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["DOCKET_BENCH_THREADS"]))
    model = SentenceTransformer(model_dir, device="cpu")
    long, short = texts(64, 300, 1), texts(256, 28, 2)
    ntok = lambda s: min(len(model.tokenizer(s)["input_ids"]), model.max_seq_length)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    with torch.inference_mode():
        for name, items in (("chunks", long), ("texts ", short)):
            best, median, per_cpu = measure(model, items, 16, rounds)
            print(
                f"pytorch {ntok(items[0]):>3}-token {name}, batch 16: {best:7.1f} chunks/s best, "
                f"{median:7.1f} median, {per_cpu:6.1f} per CPU-second "
                f"({rounds} rounds of {len(items)})"
            )


if __name__ == "__main__":
    main()
