"""The look every report figure shares: the file-only backend, the group colours, and PNGs
without a software/version stamp, so that reruns give identical bytes."""

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)

COLOURS = ["#1b6ca8", "#d1495b", "#2e933c", "#8e6c8a", "#edae49"]
DPI = 150


def save_png(fig: plt.Figure, path: str) -> None:
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
