package registry

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// AuthConfig configures authentication and authorization.
type AuthConfig struct {
	// Realm names the basic-auth realm (and the token service).
	Realm string `json:"realm"`
	// Htpasswd is an htpasswd file of bcrypt entries ("user:$2y$...").
	Htpasswd string `json:"htpasswd"`
	// Token, when set, switches from basic auth to bearer tokens issued
	// by the registry's own endpoint at /token.
	Token *TokenConfig `json:"token,omitempty"`
	// Access gives each user (or "*", every authenticated user) rules;
	// with no rules at all every authenticated user may do everything.
	Access map[string][]AccessRule `json:"access,omitempty"`
	// Public lists repository patterns anyone may pull without logging in.
	Public []string `json:"public,omitempty"`
	// MaxFailures failed logins per minute from one address are allowed
	// before it is refused with TOOMANYREQUESTS (default 5).
	MaxFailures int `json:"maxFailures,omitempty"`
}

// TokenConfig configures bearer tokens.
type TokenConfig struct {
	Issuer string   `json:"issuer"`
	Expiry Duration `json:"expiry"`
	// Key is a PEM file with the Ed25519 signing key (PKCS#8); it is
	// created on first use. Without it a new key is made at every start,
	// which invalidates the tokens of the previous run.
	Key string `json:"key,omitempty"`
}

// AccessRule grants actions ("pull", "push", "delete", or "*") on the
// repositories matching a path.Match pattern ("*" alone matches all).
type AccessRule struct {
	Repository string   `json:"repository"`
	Actions    []string `json:"actions"`
}

// Auth checks credentials and rights, and issues tokens.
type Auth struct {
	cfg   AuthConfig
	users map[string][]byte
	key   ed25519.PrivateKey
	pub   ed25519.PublicKey
	now   func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// NewAuth loads the htpasswd file and makes a signing key.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	if cfg.Realm == "" {
		cfg.Realm = "berth-registry"
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Token != nil {
		if cfg.Token.Issuer == "" {
			cfg.Token.Issuer = "berth-registry"
		}
		if cfg.Token.Expiry == 0 {
			cfg.Token.Expiry = Duration(5 * time.Minute)
		}
	}
	a := &Auth{cfg: cfg, users: map[string][]byte{}, now: time.Now, failures: map[string][]time.Time{}}
	if cfg.Htpasswd != "" {
		f, err := os.Open(cfg.Htpasswd)
		if err != nil {
			return nil, fmt.Errorf("auth htpasswd: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			user, hash, ok := strings.Cut(line, ":")
			if !ok || !strings.HasPrefix(hash, "$2") {
				return nil, fmt.Errorf("auth htpasswd %s line %d: want user:bcrypt-hash", cfg.Htpasswd, n)
			}
			a.users[user] = []byte(hash)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("auth htpasswd %s: %w", cfg.Htpasswd, err)
		}
	}
	keyFile := ""
	if cfg.Token != nil {
		keyFile = cfg.Token.Key
	}
	key, err := signingKey(keyFile)
	if err != nil {
		return nil, err
	}
	a.key, a.pub = key, key.Public().(ed25519.PublicKey)
	return a, nil
}

// signingKey loads the Ed25519 key in path, creating the file with a new
// key if it does not exist; with path empty it returns a new key.
func signingKey(path string) (ed25519.PrivateKey, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			blk, _ := pem.Decode(b)
			if blk == nil {
				return nil, fmt.Errorf("auth token key %s: no PEM block", path)
			}
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("auth token key %s: %w", path, err)
			}
			ek, ok := k.(ed25519.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("auth token key %s: not an Ed25519 key", path)
			}
			return ek, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("auth token key: %w", err)
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth signing key: %w", err)
	}
	if path != "" {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("auth token key %s: %w", path, err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("auth token key: %w", err)
		}
	}
	return key, nil
}

// SetClock replaces the clock (for tests of expiry).
func (a *Auth) SetClock(now func() time.Time) { a.now = now }

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited reports whether addr failed too often in the last minute.
func (a *Auth) limited(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cut := a.now().Add(-time.Minute)
	f := slices.DeleteFunc(a.failures[addr], func(t time.Time) bool { return t.Before(cut) })
	a.failures[addr] = f
	return len(f) >= a.cfg.MaxFailures
}

func (a *Auth) fail(addr string) {
	a.mu.Lock()
	a.failures[addr] = append(a.failures[addr], a.now())
	a.mu.Unlock()
}

// login checks basic credentials; ok is false without any.
func (a *Auth) login(r *http.Request) (user string, ok bool, err error) {
	user, pass, has := r.BasicAuth()
	if !has {
		return "", false, nil
	}
	addr := clientAddr(r)
	if a.limited(addr) {
		return "", false, errorf(ErrTooManyRequests, "too many failed logins from %s", addr)
	}
	hash, known := a.users[user]
	if !known {
		// Spend the same time as a real check.
		bcrypt.CompareHashAndPassword([]byte("$2a$10$abcdefghijklmnopqrstuuJ9x0yKxKDsc1Cz6N8aVkBvlqwqJX/Ey"), []byte(pass))
	}
	if !known || bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		a.fail(addr)
		return "", false, errorf(ErrUnauthorized, "invalid username or password")
	}
	return user, true, nil
}

// rights returns the actions user may do on repository name ("" is an
// anonymous user).
func (a *Auth) rights(user, name string) []string {
	var out []string
	for _, p := range a.cfg.Public {
		if match(p, name) {
			out = append(out, "pull")
		}
	}
	if user == "" {
		return out
	}
	if len(a.cfg.Access) == 0 {
		return []string{"pull", "push", "delete"}
	}
	for _, who := range []string{user, "*"} {
		for _, rule := range a.cfg.Access[who] {
			if match(rule.Repository, name) {
				for _, act := range rule.Actions {
					if act == "*" {
						out = append(out, "pull", "push", "delete")
					} else {
						out = append(out, act)
					}
				}
			}
		}
	}
	return out
}

func match(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// allowed reports whether the request's credentials grant action on scope
// (used for the source of a cross-repository mount).
func (a *Auth) allowed(r *http.Request, scope, action string) bool {
	name := strings.TrimPrefix(scope, "repository:")
	if a.cfg.Token != nil {
		c, err := a.bearer(r)
		return err == nil && c != nil && c.grants(name, action)
	}
	user, _, err := a.login(r)
	return err == nil && slices.Contains(a.rights(user, name), action)
}

// authorize checks that the request may do action on scope
// ("repository:<name>", or "" for the base endpoint, which only needs a
// valid login). On failure it sets the challenge header.
func (a *Auth) authorize(w http.ResponseWriter, r *http.Request, scope, action string) (string, error) {
	name := strings.TrimPrefix(scope, "repository:")
	if scope != "" && strings.HasPrefix(scope, "repository:") && action == "pull" && slices.Contains(a.rights("", name), "pull") {
		return "", nil
	}
	if a.cfg.Token == nil {
		user, ok, err := a.login(r)
		if err != nil || !ok {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.cfg.Realm))
			if err != nil {
				return "", err
			}
			return "", errorf(ErrUnauthorized, "authentication required")
		}
		if scope == "" {
			return user, nil
		}
		if scope == "registry:catalog:*" {
			if len(a.cfg.Access) == 0 || slices.Contains(a.rights(user, "*"), "pull") {
				return user, nil
			}
			return user, errorf(ErrDenied, "user %s may not list the catalog", user)
		}
		if !slices.Contains(a.rights(user, name), action) {
			return user, errorf(ErrDenied, "user %s may not %s %s", user, action, name)
		}
		return user, nil
	}
	c, err := a.bearer(r)
	ok := err == nil && c != nil
	if ok && scope != "" {
		if scope == "registry:catalog:*" {
			ok = c.grantsType("registry", "catalog", "*")
		} else {
			ok = c.grants(name, action)
		}
	}
	if ok {
		return c.Subject, nil
	}
	ch := fmt.Sprintf("Bearer realm=%q,service=%q", a.realmURL(r), a.cfg.Realm)
	if scope == "registry:catalog:*" {
		ch += `,scope="registry:catalog:*"`
	} else if scope != "" {
		ch += fmt.Sprintf(",scope=%q", scope+":"+action)
	}
	if c != nil {
		ch += `,error="insufficient_scope"`
	} else if err != nil {
		ch += `,error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	if err != nil {
		return "", err
	}
	return "", errorf(ErrUnauthorized, "a token with %s %s is required", scope, action)
}

func (a *Auth) realmURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/token"
}

// claims of a token.
type claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	Access    []access `json:"access"`
}

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (c *claims) grants(name, action string) bool {
	return c.grantsType("repository", name, action)
}

func (c *claims) grantsType(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*")) {
			return true
		}
	}
	return false
}

var b64 = base64.RawURLEncoding

func (a *Auth) sign(c claims) string {
	head, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "JWT"})
	body, _ := json.Marshal(c)
	msg := b64.EncodeToString(head) + "." + b64.EncodeToString(body)
	return msg + "." + b64.EncodeToString(ed25519.Sign(a.key, []byte(msg)))
}

// bearer verifies the request's bearer token; it returns nil claims and a
// nil error when there is none.
func (a *Auth) bearer(r *http.Request) (*claims, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, nil
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return nil, errorf(ErrUnauthorized, "malformed token")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(a.pub, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, errorf(ErrUnauthorized, "invalid token signature")
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errorf(ErrUnauthorized, "malformed token")
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, errorf(ErrUnauthorized, "malformed token claims")
	}
	now := a.now().Unix()
	if c.Expiry <= now || c.NotBefore > now+5 {
		return nil, errorf(ErrUnauthorized, "token expired")
	}
	if c.Issuer != a.cfg.Token.Issuer || c.Audience != a.cfg.Realm {
		return nil, errorf(ErrUnauthorized, "token not issued for this registry")
	}
	return &c, nil
}

// serveToken is the token endpoint (GET with basic auth, or the OAuth2
// password grant by POST): it grants the requested scopes the user has.
func (a *Auth) serveToken(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Token == nil {
		writeError(w, r, errorf(ErrUnsupported, "token auth is not configured"))
		return
	}
	var scopes []string
	user := ""
	switch r.Method {
	case http.MethodGet:
		u, _, err := a.login(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.cfg.Realm))
			writeError(w, r, err)
			return
		}
		user = u
		scopes = r.URL.Query()["scope"]
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			writeError(w, r, errorf(ErrUnsupported, "invalid token request: %v", err))
			return
		}
		if r.PostForm.Get("grant_type") != "password" {
			writeError(w, r, errorf(ErrUnsupported, "grant_type %q is not supported", r.PostForm.Get("grant_type")))
			return
		}
		r.SetBasicAuth(r.PostForm.Get("username"), r.PostForm.Get("password"))
		u, _, err := a.login(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		user = u
		scopes = []string{r.PostForm.Get("scope")}
	default:
		writeError(w, r, methodNotAllowed(r))
		return
	}
	var granted []access
	for _, sc := range scopes {
		for _, one := range strings.Fields(sc) {
			parts := strings.Split(one, ":")
			if len(parts) < 3 {
				continue
			}
			typ, name, actions := parts[0], strings.Join(parts[1:len(parts)-1], ":"), strings.Split(parts[len(parts)-1], ",")
			switch typ {
			case "repository":
				have := a.rights(user, name)
				var ok []string
				for _, act := range actions {
					if slices.Contains(have, act) && !slices.Contains(ok, act) {
						ok = append(ok, act)
					}
				}
				granted = append(granted, access{Type: typ, Name: name, Actions: ok})
			case "registry":
				if name == "catalog" && user != "" && (len(a.cfg.Access) == 0 || slices.Contains(a.rights(user, "*"), "pull")) {
					granted = append(granted, access{Type: typ, Name: name, Actions: []string{"*"}})
				}
			}
		}
	}
	now := a.now()
	exp := time.Duration(a.cfg.Token.Expiry)
	id := make([]byte, 8)
	rand.Read(id)
	tok := a.sign(claims{
		Issuer: a.cfg.Token.Issuer, Subject: user, Audience: a.cfg.Realm,
		Expiry: now.Add(exp).Unix(), NotBefore: now.Add(-time.Second).Unix(), IssuedAt: now.Unix(),
		ID: hex.EncodeToString(id), Access: granted,
	})
	writeJSON(w, r, "application/json", map[string]any{
		"token": tok, "access_token": tok, "expires_in": int(exp.Seconds()), "issued_at": now.UTC().Format(time.RFC3339),
	})
}

// Duration is a time.Duration written as "5m" in JSON.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("duration must be a string such as \"5m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}
