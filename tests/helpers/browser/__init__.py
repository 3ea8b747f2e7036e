"""Drive JupyterLab in Debian's Chromium with Playwright (see tests/e2e/test_browser.py)."""
