//! `baton serve`: the HTTP API, its token and its live events (real server, loopback only).
