"""Drive JupyterLab in Debian's Chromium with Playwright (see tests/test_browser.py)."""
