//! The one error type of every handler: a status and a message for the client. Internal details
//! (paths, SQL, I/O errors) are logged on the server and never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// The form field at fault, for the UI to show the message next to it.
    field: Option<&'static str>,
    /// The job that failed, when the request ran one.
    job: Option<i64>,
    /// That job goes on: it will be tried again.
    retrying: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
            job: None,
            retrying: false,
        }
    }

    pub fn with_field(mut self, field: &'static str) -> ApiError {
        self.field = Some(field);
        self
    }

    pub fn with_job(mut self, job: i64) -> ApiError {
        self.job = Some(job);
        self
    }

    /// The job named failed this time and will be tried again (the answer says so).
    pub fn retrying(mut self) -> ApiError {
        self.retrying = true;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_ACCEPTABLE, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// Logged in full here; the client learns only that the server failed.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%context, %error, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(field) = self.field {
            body["field"] = field.into();
        }
        if let Some(job) = self.job {
            body["job"] = job.into();
        }
        if self.retrying {
            body["retrying"] = true.into();
        }
        (self.status, axum::Json(body)).into_response()
    }
}
