//! The API layer, no IO: what a request asks for, its parameters, the served resources, objects
//! as JSON, selectors, patches, validation and defaulting, discovery, OpenAPI, Tables, and the
//! error enum that becomes a `Status` at the HTTP edge.

pub mod defaults;
pub mod discovery;
pub mod object;
pub mod openapi;
pub mod partial;
pub mod patch;
pub mod query;
pub mod request_info;
pub mod resources;
pub mod selector;
pub mod status;
pub mod table;
pub mod validation;
