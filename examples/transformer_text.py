"""A small transformer text classifier: IMDB reviews online, Python's own docs offline.

Offline, the task is built from text every Python ships (`pydoc_data.topics`): cut the
four longest documentation topics into 128-byte windows and learn which topic a window
comes from, from its bytes alone (vocabulary 257: byte values + padding). With a network,
`--data tfds:imdb_reviews` classifies movie reviews as positive or negative, with a
`TextVectorization` vocabulary of 20,000 words learned on the training reviews.

    python examples/transformer_text.py
    python examples/transformer_text.py --data tfds:imdb_reviews --epochs 5
"""

import argparse

import numpy as np

from kerazoo import build, fit, load_data


def pydoc_windows(window=128, topics=4):
    """Byte windows of the longest documentation topics, labelled by topic."""
    from pydoc_data.topics import topics as docs

    names = sorted(docs, key=lambda k: len(docs[k]), reverse=True)[:topics]
    xs, ys = [], []
    for label, name in enumerate(names):
        ids = np.frombuffer(docs[name].encode("utf-8"), dtype=np.uint8).astype("int32") + 1
        n = len(ids) // window
        xs.append(ids[: n * window].reshape(n, window))
        ys.append(np.full(n, label))
    return np.concatenate(xs), np.concatenate(ys), names


def imdb_arrays(max_tokens=20000, length=200):
    """IMDB reviews as token ids (needs a network, or a prepared TFDS data dir)."""
    import keras
    import tensorflow_datasets as tfds

    train, test = tfds.load("imdb_reviews", split=["train", "test"], as_supervised=True)
    vectorize = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=length)
    vectorize.adapt(train.map(lambda text, label: text).batch(256))

    def arrays(ds):
        xs, ys = [], []
        for text, label in ds.batch(1024):
            xs.append(vectorize(text).numpy())
            ys.append(label.numpy())
        return np.concatenate(xs).astype("int32"), np.concatenate(ys)

    return arrays(train), arrays(test), max_tokens


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="pydoc", help="pydoc (offline) or tfds:imdb_reviews")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a few windows, for a smoke test")
    args = parser.parse_args(argv)

    if args.data == "tfds:imdb_reviews":
        (x, y), test, vocab = imdb_arrays()
        data = load_data((x, y), test_data=test, kind="tokens", task="binary", name="imdb_reviews")
        data_spec = data.spec.with_(vocab_size=vocab)
    else:
        x, y, names = pydoc_windows()
        if args.quick:
            keep = np.random.default_rng(0).permutation(len(x))[:256]
            x, y = x[keep], y[keep]
        data = load_data((x, y), kind="tokens", task="multiclass", name="pydoc-topics")
        data_spec = data.spec.with_(vocab_size=257, class_names=tuple(names))
        print("topics:", ", ".join(names))
    print(data.describe())
    model = build("transformer", data_spec, num_layers=2, dim=64, num_heads=4)
    result = fit(model, data, epochs=args.epochs, verbose=2)
    print(f"test accuracy: {result.metrics['test']['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main()
