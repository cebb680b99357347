//! Values between Rust and JavaScript: serde types through JSON (numbers, strings,
//! arrays, objects), typed arrays for bulk data, and `Error`s with the message to show.

use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Any displayable error as a JavaScript `Error`.
pub fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A serde value as a plain JavaScript object, its keys in camelCase (`images_per_s` ->
/// `imagesPerS`), JavaScript's style; strings and other values are left as they are.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let mut json = serde_json::to_value(value).map_err(js_error)?;
    camelize_keys(&mut json);
    let text = serde_json::to_string(&json).map_err(js_error)?;
    js_sys::JSON::parse(&text).map_err(|_| JsError::new("internal error: a value could not be passed to JavaScript"))
}

/// `snake_case` -> `camelCase` (`knn_top1` -> `knnTop1`); a name without `_` is unchanged.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `camelCase` -> `snake_case` (`knnTop1` -> `knn_top1`); a name in snake_case is unchanged.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `message` with each whole-word `from` (a key name) replaced by `to`.
pub fn rename_word(message: &str, from: &str, to: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        out.push_str(if before.is_some_and(word) || after.is_some_and(word) { from } else { to });
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// Renames every object key in `value` to camelCase, recursively.
pub fn camelize_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let entries: Vec<(String, serde_json::Value)> = std::mem::take(map).into_iter().collect();
            for (key, mut v) in entries {
                camelize_keys(&mut v);
                map.insert(camel_case(&key), v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(camelize_keys),
        _ => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_convert_both_ways() {
        for (snake, camel) in
            [("knn_top1", "knnTop1"), ("images_per_s", "imagesPerS"), ("lr", "lr"), ("synthetic_per_class", "syntheticPerClass")]
        {
            assert_eq!(camel_case(snake), camel);
            assert_eq!(snake_case(camel), snake);
            assert_eq!(snake_case(snake), snake, "snake_case stays");
        }
        assert_eq!(camel_case("_x"), "x");
    }

    #[test]
    fn keys_become_camel_case_at_every_depth_and_values_stay() {
        let mut v = serde_json::json!({ "global_step": 1, "epochs": [{ "knn_top1": null, "name": "a_b" }] });
        camelize_keys(&mut v);
        assert_eq!(v, serde_json::json!({ "globalStep": 1, "epochs": [{ "knnTop1": null, "name": "a_b" }] }));
    }

    #[test]
    fn a_key_is_renamed_only_as_a_whole_word() {
        assert_eq!(
            rename_word("knn_every = 0: must be at least 1 (knn_every_x, xknn_every)", "knn_every", "knnEvery"),
            "knnEvery = 0: must be at least 1 (knn_every_x, xknn_every)"
        );
        assert_eq!(rename_word("`knn_every`", "knn_every", "knnEvery"), "`knnEvery`");
    }
}
