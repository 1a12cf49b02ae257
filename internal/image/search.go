package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/registry"
)

// maxSearchResponse bounds a registry's search answer.
const maxSearchResponse = 16 << 20

// Search asks a registry's v1 search endpoint for term, as docker search
// does: Docker Hub's index (index.docker.io) unless term starts with a
// registry host ("localhost:5000/name", "registry.example.com/name"), over
// plain HTTP for loopback and insecure registries. limit is the number of
// results asked for (25 when 0).
func (s *Service) Search(ctx context.Context, term string, limit int) ([]registry.SearchResult, error) {
	host, q := "index.docker.io", term
	if first, rest, ok := strings.Cut(term, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, q = first, rest
	}
	if limit <= 0 {
		limit = 25
	}
	scheme := "https"
	if s.insecure(host) {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: host, Path: "/v1/search", RawQuery: url.Values{"q": {q}, "n": {strconv.Itoa(limit)}}.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	tr := s.reg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unexpected status code %d from %s", resp.StatusCode, u.String())
	}
	var out registry.SearchResults
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSearchResponse)).Decode(&out); err != nil {
		return nil, fmt.Errorf("search %s: %w", u.String(), err)
	}
	if len(out.Results) > limit {
		out.Results = out.Results[:limit]
	}
	return out.Results, nil
}
