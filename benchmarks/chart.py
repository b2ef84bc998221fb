"""The headline-ratios chart (PNG, matplotlib Agg): how many times cheaper litetel is than each peer.

    draw_ratios([("bound counter add", "OTel SDK", 25.0), ...], "docs/benchmarks.png")

A bar at x means "the peer costs x times what litetel costs" (time, bytes or memory); x < 1 is a loss and
is drawn in red. The axis is logarithmic so 0.5x and 2x look equally far from parity.
"""

PEER_COLORS = {"OpenTelemetry SDK": "#4f6fb0", "prometheus_client": "#d08a2c"}
LOSS_COLOR = "#c0392b"


def draw_ratios(
    rows, path, title="litetel vs peers: peer cost / litetel cost (higher is better for litetel)"
):
    """rows: (metric, peer label, ratio or None); None rows are drawn as 'not measured'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["%s — vs %s" % (metric, peer) for metric, peer, _ in rows]
    values = [r if r else 0 for _, _, r in rows]
    colors = [
        LOSS_COLOR if (r is not None and r < 1) else PEER_COLORS.get(peer, "#777777") for _, peer, r in rows
    ]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.2), dpi=110)
    y = list(range(len(rows)))[::-1]
    # Bars grow from parity (1) towards the ratio, so a loss points left.
    ax.barh(y, [(v if v > 0 else 1) - 1 for v in values], left=1, color=colors)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("peer / litetel (log scale; 1 = parity)")
    ax.set_title(title, fontsize=9)
    from matplotlib.patches import Patch

    legend = [Patch(color=c, label="vs " + peer) for peer, c in PEER_COLORS.items()]
    legend.append(Patch(color=LOSS_COLOR, label="litetel costs more"))
    fig.legend(handles=legend, fontsize=7, loc="lower center", ncol=len(legend), frameon=False)
    top = max([v for v in values if v > 0] + [2.0])
    ax.set_xlim(min([v for v in values if v > 0] + [0.5]) / 3, top * 3)
    for yi, r in zip(y, [r for _, _, r in rows]):
        text = "not measured" if r is None else ("%.1f×" % r if r < 100 else "%.0f×" % r)
        if r is not None and r < 1:  # label beyond the bar's end, on the left
            ax.text(r / 1.08, yi, text, va="center", ha="right", fontsize=7)
        else:
            ax.text((r or 1) * 1.08, yi, text, va="center", fontsize=7)
    fig.tight_layout(rect=(0, 0.035, 1, 1))  # room for the legend under the axis
    fig.savefig(path)
    plt.close(fig)
