//! The common crate of the partner insurance API: everything but the Lambda entry points.

pub mod auth;
pub mod authorizer;
pub mod cache;
pub mod certificate;
pub mod config;
pub mod csv_export;
pub mod documents;
pub mod domain;
pub mod error;
pub mod faults;
pub mod http;
pub mod jwt;
pub mod keys;
pub mod lambda;
pub mod links;
pub mod metrics;
pub mod oauth;
pub mod queue;
pub mod secrets;
pub mod service;
pub mod signature;
pub mod store;
pub mod telemetry;
pub mod time_fmt;
pub mod validate;
pub mod webhooks;

pub use error::ApiError;
