//! Black-box tests of the partner API against the real local stack (one stack for the whole
//! binary; every test uses its own tracking numbers and, where it lists, its own partner).

mod attack;
mod auth;
mod cancel;
mod certificate;
mod claim_races;
mod claims;
mod control_tower;
mod csv;
mod gateway;
mod kit;
mod logs;
mod migrate;
mod ops;
mod quotes;
mod races;
mod submit;
mod token;
mod tracking;
