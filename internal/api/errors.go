package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/moby/moby/api/types/common"
)

// errNotFound is dockerd's answer for a path or method it does not route.
var errNotFound = errdefs.ErrNotFound.WithMessage("page not found")

// StatusOf is the one mapping from an error to an HTTP status: the errdefs
// class of err (NotFound 404, InvalidArgument 400, Conflict 409, NotModified
// 304, Unauthorized 401, PermissionDenied 403, NotImplemented 501,
// Unavailable 503, ...), 500 for anything unclassified. AlreadyExists is a
// 409 too, as dockerd answers for a name in use.
func StatusOf(err error) int {
	if errdefs.IsAlreadyExists(err) {
		return http.StatusConflict
	}
	return errhttp.ToHTTP(err)
}

// writeError answers r with err: its status from StatusOf and, except for
// HEAD requests and 304, the body {"message": err.Error()}.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	msg := err.Error()
	if status >= 500 && status != http.StatusNotImplemented {
		slog.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", msg)
	} else {
		slog.DebugContext(r.Context(), "api request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", msg)
	}
	if r.Method == http.MethodHead || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	body, _ := marshalJSON(common.ErrorResponse{Message: msg})
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON answers with status and v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		http.Error(w, `{"message":"encode response"}`, http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// marshalJSON is json.Marshal without HTML escaping, as dockerd encodes its
// JSON answers (httputils.WriteJSON): "a&b<c>" stays as it is instead of
// "a\u0026b\u003cc\u003e". Progress and event streams keep Go's
// escaping, as dockerd's do.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
