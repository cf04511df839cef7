//! `baton serve` in a real headless Chromium: the page, live updates, actions, screenshots.
