"""Browser end-to-end tests of the web client (Selenium + Debian chromium)."""
