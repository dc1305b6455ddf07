"""wordstats: a tiny pure-Python package, vendored to show dependency bundling."""

from collections import Counter

__version__ = "1.0.0"


def summarise(text: str) -> dict[str, object]:
    words = [w.strip(".,;:!?").lower() for w in text.split()]
    words = [w for w in words if w]
    counts = Counter(words)
    return {
        "words": len(words),
        "distinct": len(counts),
        "top": [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
        "version": __version__,
    }
