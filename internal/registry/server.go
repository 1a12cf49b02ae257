package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is the HTTP face of a Store: the OCI distribution API under /v2/,
// the token endpoint and /metrics.
type Server struct {
	store   *Store
	log     *slog.Logger
	auth    *Auth
	metrics *Metrics
	// anonymousMount allows a mount without a source repository (any blob
	// the registry holds); only without auth.
	anonymousMount bool
}

// ServerOptions configures NewServer.
type ServerOptions struct {
	Logger *slog.Logger
	// Auth, when not nil, guards every /v2/ request.
	Auth *Auth
}

// NewServer returns the handler serving store.
func NewServer(store *Store, opts ServerOptions) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{store: store, log: log, auth: opts.Auth, metrics: NewMetrics(), anonymousMount: opts.Auth == nil}
}

// Metrics returns the server's metrics (GC runs are recorded there too).
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP implements http.Handler: it logs one line per request and
// counts it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	body := &countingReader{r: r.Body}
	r.Body = body
	s.route(rw, r)
	s.metrics.observe(r.Method, rw.status, body.n, rw.n)
	s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
		"in", body.n, "out", rw.n, "duration", time.Since(start), "remote", r.RemoteAddr, "user", rw.user)
}

type recorder struct {
	http.ResponseWriter
	status  int
	n       int64
	written bool
	user    string
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.status = code
		r.written = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.written = true
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

// ReadFrom keeps sendfile(2) for blob downloads.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.written = true
	n, err := io.Copy(r.ResponseWriter, src)
	r.n += n
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// route dispatches a request by its path, which for repositories is
// /v2/<name>/<kind>/<rest>, name holding slashes.
func (s *Server) route(w *recorder, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/metrics":
		s.metrics.ServeHTTP(w, r)
		return
	case p == "/token" || p == "/v2/token":
		if s.auth == nil {
			writeError(w, r, errorf(ErrUnsupported, "token auth is not configured"))
			return
		}
		s.auth.serveToken(w, r)
		return
	case p == "/v2" || p == "/v2/":
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		if s.auth != nil {
			if _, err := s.auth.authorize(w, r, "", ""); err != nil {
				writeError(w, r, err)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.WriteString(w, "{}")
		}
		return
	case p == "/v2/_catalog":
		if s.auth != nil {
			user, err := s.auth.authorize(w, r, "registry:catalog:*", "*")
			if err != nil {
				writeError(w, r, err)
				return
			}
			w.user = user
		}
		s.catalog(w, r)
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	// The endpoint is the rightmost marker: a repository name may hold
	// components such as "manifests" or "blobs". At one position the
	// longer marker wins.
	var name, kind, arg string
	best := 0
	for _, k := range []string{"/blobs/uploads/", "/blobs/uploads", "/manifests/", "/blobs/", "/tags/list", "/referrers/"} {
		if i := strings.LastIndex(rest, k); i > best {
			best = i
			name, kind, arg = rest[:i], strings.Trim(k, "/"), rest[i+len(k):]
		}
	}
	if kind == "" {
		writeError(w, r, errorf(ErrUnsupported, "unknown endpoint %s", p))
		return
	}
	if !ValidName(name) {
		writeError(w, r, errorf(ErrNameInvalid, "invalid repository name %q", name))
		return
	}
	if s.auth != nil {
		action := "pull"
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch:
			action = "push"
		case http.MethodDelete:
			action = "delete"
		}
		if kind == "blobs/uploads" {
			action = "push"
		}
		user, err := s.auth.authorize(w, r, "repository:"+name, action)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.user = user
	}
	ctx := r.Context()
	var err error
	switch kind {
	case "manifests":
		err = s.manifests(ctx, w, r, name, arg)
	case "blobs":
		err = s.blobs(ctx, w, r, name, arg)
	case "blobs/uploads":
		err = s.uploads(ctx, w, r, name, arg)
	case "tags/list":
		if arg != "" {
			err = errorf(ErrUnsupported, "unknown endpoint %s", p)
		} else {
			err = s.tags(ctx, w, r, name)
		}
	case "referrers":
		err = s.referrers(ctx, w, r, name, arg)
	}
	if err != nil {
		writeError(w, r, err)
	}
}

func methodNotAllowed(r *http.Request) error {
	return errorf(ErrUnsupported, "method %s not allowed on %s", r.Method, r.URL.Path)
}

func (s *Server) manifests(ctx context.Context, w http.ResponseWriter, r *http.Request, name, ref string) error {
	if strings.Contains(ref, ":") {
		if _, err := ParseDigest(ref); err != nil {
			return err
		}
	} else if !ValidTag(ref) {
		return errorf(ErrTagInvalid, "invalid tag %q", ref)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		body, mediaType, dg, err := s.store.Manifest(ctx, name, ref)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", mediaType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Docker-Content-Digest", dg.String())
		h.Set("Etag", `"`+dg.String()+`"`)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
		return nil
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxManifestSize+1))
		if err != nil {
			return fmt.Errorf("read manifest: %w", err)
		}
		if len(body) > MaxManifestSize {
			return errorf(ErrSizeInvalid, "manifest exceeds %d bytes", MaxManifestSize)
		}
		tags := r.URL.Query()["tag"]
		for _, t := range tags {
			if !ValidTag(t) {
				return errorf(ErrTagInvalid, "invalid tag %q", t)
			}
		}
		dg, m, err := s.store.PutManifest(ctx, name, ref, r.Header.Get("Content-Type"), body, tags)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Location", "/v2/"+name+"/manifests/"+dg.String())
		h.Set("Docker-Content-Digest", dg.String())
		if m.Subject != nil {
			h.Set("OCI-Subject", m.Subject.Digest)
		}
		for _, t := range tags {
			h.Add("OCI-Tag", t)
		}
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return nil
	case http.MethodDelete:
		if err := s.store.DeleteManifest(ctx, name, ref); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(r)
}

func (s *Server) blobs(ctx context.Context, w http.ResponseWriter, r *http.Request, name, arg string) error {
	dg, err := ParseDigest(arg)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rc, size, err := s.store.OpenBlob(ctx, name, dg)
		if err != nil {
			return err
		}
		defer rc.Close()
		h := w.Header()
		h.Set("Docker-Content-Digest", dg.String())
		h.Set("Etag", `"`+dg.String()+`"`)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Accept-Ranges", "bytes")
		h.Set("Cache-Control", "max-age=31536000")
		if rs, ok := rc.(io.ReadSeeker); ok {
			http.ServeContent(w, r, "", time.Time{}, rs)
			return nil
		}
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			io.Copy(w, rc)
		}
		return nil
	case http.MethodDelete:
		if err := s.store.DeleteBlob(ctx, name, dg); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(r)
}

func uploadLocation(name, id string) string {
	return "/v2/" + name + "/blobs/uploads/" + id
}

// writeUploadStatus answers with an upload's location and range.
func writeUploadStatus(w http.ResponseWriter, name, id string, size int64, status int) {
	h := w.Header()
	h.Set("Location", uploadLocation(name, id))
	h.Set("Range", fmt.Sprintf("0-%d", size-1))
	h.Set("Docker-Upload-UUID", id)
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
}

func writeBlobCreated(w http.ResponseWriter, name string, dg Digest) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+dg.String())
	h.Set("Docker-Content-Digest", dg.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// parseContentRange reads a chunk's "start-end" (optionally "bytes ") and
// returns start, or -1 without a header.
func parseContentRange(r *http.Request) (int64, error) {
	v := r.Header.Get("Content-Range")
	if v == "" {
		return -1, nil
	}
	v = strings.TrimPrefix(strings.TrimPrefix(v, "bytes "), "bytes=")
	a, b, ok := strings.Cut(v, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(strings.Split(b, "/")[0], 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start-1 {
		return 0, errorf(ErrRangeInvalid, "invalid Content-Range %q", r.Header.Get("Content-Range"))
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		return 0, errorf(ErrRangeInvalid, "Content-Range %q does not match Content-Length %d", v, r.ContentLength)
	}
	return start, nil
}

func (s *Server) uploads(ctx context.Context, w http.ResponseWriter, r *http.Request, name, id string) error {
	if id == "" {
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		return s.startUpload(ctx, w, r, name)
	}
	if !ValidUploadID(id) {
		return errorf(ErrBlobUploadUnknown, "upload %q unknown", id)
	}
	switch r.Method {
	case http.MethodGet:
		size, err := s.store.UploadSize(ctx, name, id)
		if err != nil {
			return err
		}
		writeUploadStatus(w, name, id, size, http.StatusNoContent)
		return nil
	case http.MethodPatch:
		start, err := parseContentRange(r)
		if err != nil {
			return s.rangeError(ctx, w, r, name, id, err)
		}
		size, err := s.store.AppendUpload(ctx, name, id, start, r.Body)
		if err != nil {
			return s.rangeError(ctx, w, r, name, id, err)
		}
		writeUploadStatus(w, name, id, size, http.StatusAccepted)
		return nil
	case http.MethodPut:
		dg, err := ParseDigest(r.URL.Query().Get("digest"))
		if err != nil {
			return err
		}
		if r.ContentLength != 0 {
			start, err := parseContentRange(r)
			if err != nil {
				return s.rangeError(ctx, w, r, name, id, err)
			}
			if _, err := s.store.AppendUpload(ctx, name, id, start, r.Body); err != nil {
				return s.rangeError(ctx, w, r, name, id, err)
			}
		} else if _, err := s.store.UploadSize(ctx, name, id); err != nil {
			return err
		}
		if err := s.store.CommitUpload(ctx, name, id, dg); err != nil {
			return err
		}
		writeBlobCreated(w, name, dg)
		return nil
	case http.MethodDelete:
		if err := s.store.CancelUpload(ctx, name, id); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return methodNotAllowed(r)
}

// rangeError answers a chunk that does not continue the upload with 416
// and the upload's location and range, so the client can resume.
func (s *Server) rangeError(ctx context.Context, w http.ResponseWriter, r *http.Request, name, id string, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrRangeInvalid {
		return err
	}
	if size, serr := s.store.UploadSize(ctx, name, id); serr == nil {
		w.Header().Set("Location", uploadLocation(name, id))
		w.Header().Set("Range", fmt.Sprintf("0-%d", size-1))
		w.Header().Set("Docker-Upload-UUID", id)
	}
	return err
}

func (s *Server) startUpload(ctx context.Context, w http.ResponseWriter, r *http.Request, name string) error {
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		dg, err := ParseDigest(mount)
		if err != nil {
			return err
		}
		from := q.Get("from")
		if from != "" && !ValidName(from) {
			return errorf(ErrNameInvalid, "invalid repository name %q", from)
		}
		allowed := from != "" || s.anonymousMount
		if from != "" && s.auth != nil {
			allowed = s.auth.allowed(r, "repository:"+from, "pull")
		}
		if allowed {
			if err := s.store.MountBlob(ctx, name, from, dg); err == nil {
				writeBlobCreated(w, name, dg)
				return nil
			}
		}
		// Not mountable: start an ordinary upload instead.
	}
	if d := q.Get("digest"); d != "" {
		dg, err := ParseDigest(d)
		if err != nil {
			return err
		}
		if err := s.store.PutBlob(ctx, name, dg, r.Body); err != nil {
			return err
		}
		writeBlobCreated(w, name, dg)
		return nil
	}
	id, err := s.store.StartUpload(ctx, name)
	if err != nil {
		return err
	}
	writeUploadStatus(w, name, id, 0, http.StatusAccepted)
	return nil
}

// paginate applies the n and last query parameters to a sorted list and
// sets the Link header to the next page.
func paginate(w http.ResponseWriter, r *http.Request, all []string) ([]string, error) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i := 0
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return nil, errorf(ErrUnsupported, "invalid n %q", ns)
		}
		if n < len(all) {
			all = all[:n]
			if n > 0 {
				next := url.Values{"n": {ns}, "last": {all[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
			}
		}
	}
	if all == nil {
		all = []string{}
	}
	return all, nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

func (s *Server) tags(ctx context.Context, w http.ResponseWriter, r *http.Request, name string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	tags, err := s.store.Tags(ctx, name)
	if err != nil {
		return err
	}
	page, err := paginate(w, r, tags)
	if err != nil {
		return err
	}
	writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, page})
	return nil
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, methodNotAllowed(r))
		return
	}
	repos, err := s.store.Catalog(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := paginate(w, r, repos)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

func (s *Server) referrers(ctx context.Context, w http.ResponseWriter, r *http.Request, name, arg string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	dg, err := ParseDigest(arg)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	refs, err := s.store.Referrers(ctx, name, dg, artifactType)
	if err != nil {
		return err
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, r, MediaTypeOCIIndex, struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}{2, MediaTypeOCIIndex, refs})
	return nil
}
