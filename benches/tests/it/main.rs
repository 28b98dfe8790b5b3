//! bench-cluster's own tests: the whole code path for a few seconds against real servers, so the instrument cannot
//! silently rot, plus the parsers it relies on.

mod parse;
mod smoke;
