#!/usr/bin/env python3
"""Embed a Parquet folder with Ray Data and llmbed, one actor per GPU (or CPU slots).

    python3 examples/ray_embed.py --model PATH --input corpus/ --output embeddings/ \
        [--text-column text] [--actors 4] [--gpus-per-actor 1 | --cpus-per-actor 8] \
        [--batch-size 4096] [--device cuda] [encode options...]

On a Ray cluster, run it on the head node (or with `ray job submit`); the
input and output folders must be reachable from every node (shared storage
or s3://...). Each actor loads the model once and embeds the batches Ray
gives it; the output rows carry every input column plus "embedding"
(fixed-size list of float32).
"""
import argparse
import json
import time

import ray

from llmbed.ray import EmbedBatches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True, help="Parquet file or folder")
    ap.add_argument("--output", required=True, help="Parquet folder to write")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--actors", type=int, default=1)
    ap.add_argument("--gpus-per-actor", type=float, default=0)
    ap.add_argument("--cpus-per-actor", type=float, default=1)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per actor (default: its cpus)")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when --gpus-per-actor > 0)")
    ap.add_argument("--encode", default="{}", help='encode keywords as JSON, e.g. \'{"pooling": "mean"}\'')
    ap.add_argument("--address", default=None, help="Ray cluster address (default: start or join a local one)")
    ap.add_argument("--blocks", type=int, default=None, help="read into this many blocks (Ray's override_num_blocks)")
    ap.add_argument("--num-cpus", type=int, default=None,
                    help="logical CPUs of a local cluster started here; leave room beyond the actors' CPUs "
                         "for Ray Data's read and write tasks")
    args = ap.parse_args()

    ray.init(address=args.address, num_cpus=args.num_cpus if args.address is None else None)
    device = args.device or ("cuda" if args.gpus_per_actor > 0 else "cpu")
    threads = args.threads or (None if device == "cuda" else max(1, int(args.cpus_per_actor)))
    resources = {"num_gpus": args.gpus_per_actor} if args.gpus_per_actor > 0 else {"num_cpus": args.cpus_per_actor}
    started = time.perf_counter()
    ds = ray.data.read_parquet(args.input, override_num_blocks=args.blocks)
    ds = ds.map_batches(
        EmbedBatches,
        fn_constructor_kwargs={"model": args.model, "text_column": args.text_column, "device": device,
                               "threads": threads, **json.loads(args.encode)},
        batch_size=args.batch_size,
        batch_format="pyarrow",
        concurrency=args.actors,
        **resources,
    )
    ds.write_parquet(args.output)
    print(f"ray_embed: wrote {args.output} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
