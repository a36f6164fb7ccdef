//! `/configurations`: Harbor's system configuration items, as far as Wharf has
//! them (the authentication mode and LDAP). GET answers `{"name": {"value": …,
//! "editable": …}}`; PUT takes a flat `{"name": value}` object. Write-only
//! items (`ldap_search_password`) are never shown.

use super::ApiJson;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Caller;
use crate::error::{RegistryError, Result};
use crate::http::AppState;

pub async fn get(State(reg): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let items = reg.directory.configurations(&caller.who)?;
    let mut out = Map::new();
    for item in items {
        if let Some(value) = item.value {
            out.insert(
                item.name.to_string(),
                json!({"value": value, "editable": item.editable}),
            );
        }
    }
    Ok(Json(Value::Object(out)))
}

#[derive(Deserialize)]
pub struct Force {
    #[serde(default)]
    force: bool,
}

pub async fn put(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<Force>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    let Value::Object(items) = body else {
        return Err(RegistryError::bad_request(
            "the body must be an object of configuration items",
        ));
    };
    reg.directory
        .update(&caller.who, caller.ip.as_deref(), &items, q.force)
        .await?;
    Ok(StatusCode::OK)
}
