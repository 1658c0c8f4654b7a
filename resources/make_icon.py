"""Draw HAR Studio's icon with Qt and write resources/har_studio.png and .ico.

Run once after changing the drawing: ``python resources/make_icon.py`` (needs no display:
it sets QT_QPA_PLATFORM=offscreen). The generated files are committed.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import (  # noqa: E402
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
)

HERE = Path(__file__).resolve().parent


def draw(size: int) -> QImage:
    """A rounded blue tile with three accelerometer traces (x, y, z)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 256.0
    gradient = QLinearGradient(0, 0, 0, size)
    gradient.setColorAt(0.0, QColor("#2b5797"))
    gradient.setColorAt(1.0, QColor("#1b365f"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(gradient)
    p.drawRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 44 * s, 44 * s)
    traces = [("#ff6b6b", 0.0, 40, 1.0), ("#7bd88f", 1.3, 28, 2.0), ("#9cc9ff", 2.4, 18, 3.0)]
    for i, (color, phase, amp, freq) in enumerate(traces):
        path = QPainterPath()
        y0 = (88 + i * 52) * s
        for k in range(101):
            x = (30 + 196 * k / 100) * s
            y = y0 - amp * s * math.sin(freq * 2 * math.pi * k / 100 + phase) * (
                0.55 + 0.45 * math.sin(math.pi * k / 100))
            if k == 0:
                path.moveTo(QPointF(x, y))
            else:
                path.lineTo(QPointF(x, y))
        pen = QPen(QColor(color), max(1.0, 11 * s))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
    p.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    png = HERE / "har_studio.png"
    if not draw(256).save(str(png), "PNG"):
        print(f"could not write {png}", file=sys.stderr)
        return 1
    ico = HERE / "har_studio.ico"
    if not draw(64).save(str(ico), "ICO"):
        print(f"could not write {ico} (no ICO image plugin)", file=sys.stderr)
        return 1
    print(png, ico)
    return 0


if __name__ == "__main__":
    sys.exit(main())
