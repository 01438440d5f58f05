//! The floor for init time and binary size: the smallest `lambda_http` function, with the same
//! crates' runtime (tokio, lambda_http) and the same release profile as the real functions.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
