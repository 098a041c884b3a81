//! The one error type of every handler: a status and a message for the client. Internal details
//! (paths, SQL, I/O errors) are logged on the server and never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_ACCEPTABLE,
            message: message.into(),
        }
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: message.into(),
        }
    }

    /// Logged in full here; the client learns only that the server failed.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
        eprintln!("http: {context}: {error}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
