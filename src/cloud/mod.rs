//! Everything that talks to AWS (or another HTTP server) without knowing a resource kind.

pub mod aws;
pub mod cap;
pub mod discover;
pub mod http;
pub mod s3;
