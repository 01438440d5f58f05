//! The API conforms to the document it publishes: schemathesis over every operation (`fuzz`),
//! the generated Postman collection run with newman as a partner would (`postman`), and the
//! inputs the fuzzing work found to break the API, kept as regression tests (`findings`).
//! One stack for the binary.

mod findings;
mod fuzz;
mod postman;
