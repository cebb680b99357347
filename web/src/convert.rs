//! Values between Rust and JavaScript: serde types through JSON (numbers, strings,
//! arrays, objects), typed arrays for bulk data, and `Error`s with the message to show.

use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Any displayable error as a JavaScript `Error`.
pub fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A serde value as a plain JavaScript object.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value).map_err(js_error)?;
    js_sys::JSON::parse(&text).map_err(|_| JsError::new("internal error: a value could not be passed to JavaScript"))
}

/// A JavaScript value as JSON (undefined and null become `{}`).
pub fn from_js(value: &JsValue) -> Result<serde_json::Value, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let text: String =
        js_sys::JSON::stringify(value).map_err(|_| JsError::new("the value cannot be converted to JSON (cycles or functions?)"))?.into();
    serde_json::from_str(&text).map_err(js_error)
}

/// Sets `key` of `object` (a plain object) to `value`.
pub fn set(object: &JsValue, key: &str, value: &JsValue) -> Result<(), JsError> {
    js_sys::Reflect::set(object, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|_| JsError::new("internal error: could not build a result object"))
}
