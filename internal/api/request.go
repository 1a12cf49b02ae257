package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Request helpers shared by the resource files, with dockerd's rules and
// messages, so every endpoint parses queries and bodies the same way.

// boolValue reads a boolean query parameter as dockerd: absent, "", "0",
// "no", "false" and "none" are false, anything else true.
func boolValue(r *http.Request, key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// int64Value reads an integer query parameter, def when absent; a value
// that is not an integer is an InvalidArgument naming the parameter.
func int64Value(r *http.Request, key string, def int64) (int64, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %s: %q is not an integer", key, v))
	}
	return n, nil
}

// decodeJSON reads r's body into v. The Content-Type must be JSON when
// given; an empty or malformed body is an InvalidArgument (400), as with
// dockerd.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unsupported Content-Type header (%s): must be 'application/json'", ct))
		}
	}
	if r.Body == nil {
		return errdefs.ErrInvalidArgument.WithMessage("got EOF while reading request body")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errdefs.ErrInvalidArgument.WithMessage("got EOF while reading request body")
		}
		return errdefs.ErrInvalidArgument.WithMessage("invalid JSON: " + err.Error())
	}
	// One JSON value, as dockerd reads it: a second one after it is
	// refused rather than ignored.
	if dec.More() {
		return errdefs.ErrInvalidArgument.WithMessage("unexpected content after JSON")
	}
	return nil
}
