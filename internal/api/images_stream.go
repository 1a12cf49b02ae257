package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth/berth/internal/image"
)

// streamMessage is one line of docker's JSON progress stream (pull, push,
// import, load). It is jsonstream.Message plus the two fields dockerd
// still sends for older clients: the preformatted bar ("progress") and the
// error text ("error") beside errorDetail.
type streamMessage struct {
	Stream         string               `json:"stream,omitempty"`
	Status         string               `json:"status,omitempty"`
	ProgressDetail *jsonstream.Progress `json:"progressDetail,omitempty"`
	Progress       string               `json:"progress,omitempty"`
	ID             string               `json:"id,omitempty"`
	ErrorDetail    *jsonstream.Error    `json:"errorDetail,omitempty"`
	Error          string               `json:"error,omitempty"`
	Aux            json.RawMessage      `json:"aux,omitempty"`
}

// progressStream writes a JSON progress stream the way dockerd's
// WriteFlusher does: the 200 and its headers go out with the first line,
// every line is flushed, and an error before anything was written is
// answered with its HTTP status instead (as dockerd answers a pull of a
// missing tag with 404), after that as the stream's last line
// {"errorDetail":{"message":...},"error":...}.
//
// Lines that hold returns true for are kept back until another line
// follows: a pull's "Pulling from" line, which the image service sends
// before it asks the registry, but dockerd only once the manifest is
// there, so a missing tag is a 404.
type progressStream struct {
	w    http.ResponseWriter
	r    *http.Request
	hold func(streamMessage) bool

	mu      sync.Mutex
	held    []streamMessage
	started bool
	failed  bool // the client went away: stop writing
}

func newProgressStream(w http.ResponseWriter, r *http.Request, hold func(streamMessage) bool) *progressStream {
	return &progressStream{w: w, r: r, hold: hold}
}

// start sends the headers and the held lines (with mu held).
func (p *progressStream) start() {
	if p.started {
		return
	}
	p.started = true
	p.w.Header().Set("Content-Type", "application/json")
	p.w.WriteHeader(http.StatusOK)
	held := p.held
	p.held = nil
	for _, m := range held {
		p.write(m)
	}
	p.flush()
}

func (p *progressStream) write(m streamMessage) {
	if p.failed {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	if _, err := p.w.Write(append(b, '\r', '\n')); err != nil {
		p.failed = true
	}
}

func (p *progressStream) flush() {
	if f, ok := p.w.(http.Flusher); ok && !p.failed {
		f.Flush()
	}
}

// send writes m (or holds it, see hold).
func (p *progressStream) send(m streamMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started && p.hold != nil && p.hold(m) {
		p.held = append(p.held, m)
		return
	}
	p.start()
	p.write(m)
	p.flush()
}

// event writes an image service progress event.
func (p *progressStream) event(e image.ProgressEvent) { p.send(progressMessage(e)) }

// finish ends a successful stream (a stream with no line yet still gets
// its 200 and the held lines).
func (p *progressStream) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start()
}

// fail ends the stream with err: an HTTP error when nothing was sent yet,
// else the error line.
func (p *progressStream) fail(err error, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		if errdefs.IsUnauthorized(err) {
			// A 401 makes the docker CLI prompt for credentials on pull
			// and push; dockerd answers 500 there.
			writeError(p.w, p.r, errors.New(msg))
			return
		}
		writeError(p.w, p.r, messageError(err, msg))
		return
	}
	p.write(streamMessage{ErrorDetail: &jsonstream.Error{Message: msg}, Error: msg})
	p.flush()
}

// messageError keeps err's class but says msg.
func messageError(err error, msg string) error {
	return classed{err: err, msg: msg}
}

type classed struct {
	err error
	msg string
}

func (c classed) Error() string { return c.msg }
func (c classed) Unwrap() error { return c.err }

// progressMessage turns an image service event into a stream line: a
// layer's line (with an ID) carries progressDetail, {} when there are no
// byte counts, and the preformatted bar beside the counts, as dockerd's.
func progressMessage(e image.ProgressEvent) streamMessage {
	m := streamMessage{ID: e.ID, Status: e.Status}
	if e.ProgressDetail != nil && (e.ProgressDetail.Current > 0 || e.ProgressDetail.Total > 0) {
		m.ProgressDetail = &jsonstream.Progress{Current: e.ProgressDetail.Current, Total: e.ProgressDetail.Total}
		m.Progress = progressBar(e.ProgressDetail.Current, e.ProgressDetail.Total)
	} else if e.ID != "" && !strings.HasPrefix(e.Status, "Pulling from ") {
		m.ProgressDetail = &jsonstream.Progress{}
	}
	return m
}

// progressBar formats the bar dockerd puts in "progress":
// "[=====>      ]  1.35MB/1.982MB", or only the count without a total.
func progressBar(current, total int64) string {
	cur := units.HumanSize(float64(current))
	if total <= 0 {
		return fmt.Sprintf("%8v", cur)
	}
	pct := int(float64(current)/float64(total)*100) / 2
	pct = min(pct, 50)
	return fmt.Sprintf("[%s>%s] %8v/%v", strings.Repeat("=", pct), strings.Repeat(" ", 50-pct), cur, units.HumanSize(float64(total)))
}

// registryAuth decodes the X-Registry-Auth header: base64url (padded or
// not; standard base64 is accepted too) of a JSON AuthConfig. An absent
// header or "{}" gives nil, which means the daemon's own credentials (or
// anonymous). A header that does not decode is an InvalidArgument.
func registryAuth(r *http.Request) (*image.AuthConfig, error) {
	h := strings.TrimSpace(r.Header.Get(registry.AuthHeader))
	if h == "" {
		return nil, nil
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if raw, err = enc.DecodeString(h); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid X-Registry-Auth header: " + err.Error())
	}
	var ac registry.AuthConfig
	if err := json.Unmarshal(raw, &ac); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid X-Registry-Auth header: " + err.Error())
	}
	return toImageAuth(ac), nil
}

// toImageAuth converts the API's credentials; empty ones are nil.
func toImageAuth(ac registry.AuthConfig) *image.AuthConfig {
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return nil
	}
	return &image.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
}

// classSuffixes are the texts errdefs classes append to wrapped errors
// ("...: not found"); dockerd's messages do not carry them.
var classSuffixes = []error{
	errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict, errdefs.ErrAlreadyExists,
	errdefs.ErrUnauthenticated, errdefs.ErrPermissionDenied, errdefs.ErrUnavailable,
	errdefs.ErrFailedPrecondition, errdefs.ErrNotImplemented,
}

// trimClass removes a trailing ": <class>" that %w of an errdefs class
// added to a message.
func trimClass(msg string) string {
	for _, c := range classSuffixes {
		msg = strings.TrimSuffix(msg, ": "+c.Error())
	}
	return msg
}

// innerMessage is err's message without the context the service wrapped
// around it once ("pull x: ", "remove image x: "): the text dockerd
// shows. An error that wraps nothing keeps its message.
func innerMessage(err error) string {
	if u := errors.Unwrap(err); u != nil {
		if _, multi := err.(interface{ Unwrap() []error }); !multi {
			err = u
		}
	}
	return trimClass(err.Error())
}
