"""The desktop app's widgets. The only package (with app.py) that imports Qt."""
