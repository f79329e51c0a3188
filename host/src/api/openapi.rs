//! The OpenAPI 3.1 document, built from the same route list the router is built from
//! ([`super::route_specs`]): a route cannot be served without being documented, nor
//! documented without being served.
//!
//! Each operation carries its permission (`x-airlock-permission`), whether it needs a
//! TOTP step-up (`x-airlock-step-up`), and whether its reads are audited
//! (`x-airlock-audited`). Every error answers in the one shape `Error`.

use super::access::{Audited, Permission, RouteSpec, StepUp};
use serde_json::{Map, Value, json};

/// The document for these routes.
pub fn document(specs: &[RouteSpec]) -> Value {
    let mut paths = Map::new();
    for spec in specs {
        let entry = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        entry[spec.method.as_str().to_lowercase()] = operation(spec);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Airlock",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Airlock host API: plugins, grants, events, the audit log, monitoring and accounts.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A session (POST /api/v1/auth/login), a token, or the break-glass admin token"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                        },
                    }},
                },
            },
        },
    })
}

fn operation(spec: &RouteSpec) -> Value {
    let error = json!({"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = Map::new();
    responses.insert("200".into(), json!({"description": "success"}));
    responses.insert("400".into(), error.clone());
    if spec.permission != Permission::Public {
        responses.insert("401".into(), error.clone());
        responses.insert("403".into(), error.clone());
    }
    let parameters: Vec<Value> = spec
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let mut op = json!({
        "summary": spec.summary,
        "operationId": operation_id(spec),
        "responses": responses,
        "x-airlock-permission": spec.permission.as_str(),
        "x-airlock-step-up": match spec.step_up {
            StepUp::No => "no",
            StepUp::Always => "always",
            StepUp::WhenWidening => "when-widening",
        },
        "x-airlock-audited": spec.audited == Audited::Read,
    });
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if spec.permission != Permission::Public {
        op["security"] = json!([{"bearer": []}]);
    }
    if spec.method != axum::http::Method::GET && spec.method != axum::http::Method::DELETE {
        op["requestBody"] =
            json!({"content": {"application/json": {"schema": {"type": "object"}}}});
    }
    op
}

/// `post_api_v1_plugins_id_grants`, unique per method and path.
fn operation_id(spec: &RouteSpec) -> String {
    let path: String = spec
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut id = format!("{}{}", spec.method.as_str().to_lowercase(), path);
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    id.trim_end_matches('_').to_string()
}
