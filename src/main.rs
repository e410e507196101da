//! The Lambda bootstrap: tracing, configuration, clients built once per cold start, and the
//! runtime loop. Everything else lives in the library.

use alpaca_lambda_bot::config::{self, Config};
use alpaca_lambda_bot::handler::Bot;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let config = Config::from_env();
    if let Err(err) = &config {
        // Every invocation will report this too, to Discord when the secret can be read.
        tracing::error!(error = %err, "invalid configuration");
    }
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(alpaca_lambda_bot::http::aws_sdk_client()?)
        .load()
        .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let http = alpaca_lambda_bot::http::client()?;
    let bot = Bot::new(config, config::secret_id_from_env(), secrets, http);

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let bot = &bot;
        async move {
            let deadline_ms = event.context.deadline;
            bot.invoke(event.payload, &event.context.request_id, deadline_ms)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
