//! Wharf's registry server.
//!
//! Layers run in one direction: [`http`] handlers → [`service::Registry`] (the
//! registry's rules) → stores ([`metadata::MetadataStore`] for what is known
//! about content, [`storage::BlobStore`] for the bytes). Handlers never touch SQL
//! or files; stores never decide policy.

pub mod auth;
pub mod config;
pub use wharf_oci::digest;
pub mod error;
pub mod http;
pub mod manifest;
pub mod metadata;
pub mod names;
pub mod portal;
pub mod rate_limit;
pub mod server;
pub mod service;
pub mod storage;
