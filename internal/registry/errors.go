package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ErrorCode is one of the distribution spec's error codes, registered with
// the HTTP status it is answered with.
type ErrorCode struct {
	Code    string
	Message string
	Status  int
}

// The registered error codes (distribution-spec "Error Codes").
var (
	ErrBlobUnknown         = ErrorCode{"BLOB_UNKNOWN", "blob unknown to registry", http.StatusNotFound}
	ErrBlobUploadInvalid   = ErrorCode{"BLOB_UPLOAD_INVALID", "blob upload invalid", http.StatusBadRequest}
	ErrBlobUploadUnknown   = ErrorCode{"BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", http.StatusNotFound}
	ErrDigestInvalid       = ErrorCode{"DIGEST_INVALID", "provided digest did not match uploaded content", http.StatusBadRequest}
	ErrManifestBlobUnknown = ErrorCode{"MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry", http.StatusBadRequest}
	ErrManifestInvalid     = ErrorCode{"MANIFEST_INVALID", "manifest invalid", http.StatusBadRequest}
	ErrManifestUnknown     = ErrorCode{"MANIFEST_UNKNOWN", "manifest unknown to registry", http.StatusNotFound}
	ErrNameInvalid         = ErrorCode{"NAME_INVALID", "invalid repository name", http.StatusBadRequest}
	ErrNameUnknown         = ErrorCode{"NAME_UNKNOWN", "repository name not known to registry", http.StatusNotFound}
	ErrSizeInvalid         = ErrorCode{"SIZE_INVALID", "provided length did not match content length", http.StatusBadRequest}
	ErrUnauthorized        = ErrorCode{"UNAUTHORIZED", "authentication required", http.StatusUnauthorized}
	ErrDenied              = ErrorCode{"DENIED", "requested access to the resource is denied", http.StatusForbidden}
	ErrUnsupported         = ErrorCode{"UNSUPPORTED", "the operation is unsupported", http.StatusMethodNotAllowed}
	ErrTooManyRequests     = ErrorCode{"TOOMANYREQUESTS", "too many requests", http.StatusTooManyRequests}
	ErrTagInvalid          = ErrorCode{"TAG_INVALID", "manifest tag did not match URI", http.StatusBadRequest}
	ErrRangeInvalid        = ErrorCode{"RANGE_INVALID", "invalid content range", http.StatusRequestedRangeNotSatisfiable}
	ErrPayloadTooLarge     = ErrorCode{"SIZE_INVALID", "payload too large", http.StatusRequestEntityTooLarge}
	ErrStorageFull         = ErrorCode{"UNKNOWN", "insufficient storage", http.StatusInsufficientStorage}
	ErrUnknown             = ErrorCode{"UNKNOWN", "unknown error", http.StatusInternalServerError}
)

// Error is an ErrorCode with a detail, the error a request fails with.
type Error struct {
	Code   ErrorCode
	Detail string
	Err    error
}

func (e *Error) Error() string {
	s := e.Code.Code + ": " + e.Code.Message
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// errorf returns an Error of code with a formatted detail.
func errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers a request with err as the spec's JSON error body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Code: ErrUnknown, Err: err}
		if isNoSpace(err) {
			e.Code = ErrStorageFull
		}
	}
	detail := e.Detail
	if e.Err != nil && e.Code.Status >= 500 {
		detail = e.Err.Error()
	}
	body := errorBody{Errors: []errorEntry{{Code: e.Code.Code, Message: e.Code.Message}}}
	if detail != "" {
		body.Errors[0].Detail = detail
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(e.Code.Status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
