package registry

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Manifest media types the registry accepts.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxManifestSize is the largest manifest the registry accepts.
const MaxManifestSize = 4 << 20

// Descriptor points at content (OCI image-spec descriptor).
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     json.RawMessage   `json:"platform,omitempty"`
	Data         []byte            `json:"data,omitempty"`
}

// Manifest is the part of an image manifest or index the registry reads.
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config,omitempty"`
	Layers        []Descriptor      `json:"layers,omitempty"`
	Manifests     []Descriptor      `json:"manifests,omitempty"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`

	// Type is the effective media type: the body's mediaType or, when it
	// has none, the Content-Type it was pushed with.
	Type string `json:"-"`
}

// IsIndex reports whether m lists other manifests.
func (m *Manifest) IsIndex() bool {
	return m.Type == MediaTypeOCIIndex || m.Type == MediaTypeDockerList
}

// ParseManifest parses and validates a manifest pushed with contentType
// (which may be empty). It fails with MANIFEST_INVALID or SIZE_INVALID.
func ParseManifest(contentType string, body []byte) (*Manifest, error) {
	if len(body) > MaxManifestSize {
		return nil, errorf(ErrSizeInvalid, "manifest of %d bytes exceeds the limit of %d", len(body), MaxManifestSize)
	}
	contentType, _, _ = strings.Cut(contentType, ";")
	contentType = strings.TrimSpace(contentType)
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, &Error{Code: ErrManifestInvalid, Detail: "manifest is not valid JSON", Err: err}
	}
	if dec.More() {
		return nil, errorf(ErrManifestInvalid, "manifest has data after its JSON object")
	}
	if m.SchemaVersion != 2 {
		return nil, errorf(ErrManifestInvalid, "schemaVersion %d is not supported, want 2", m.SchemaVersion)
	}
	m.Type = m.MediaType
	if m.Type == "" {
		m.Type = contentType
	}
	if m.Type == "" || m.Type == "application/json" || m.Type == "application/octet-stream" {
		if m.Manifests != nil {
			m.Type = MediaTypeOCIIndex
		} else {
			m.Type = MediaTypeOCIManifest
		}
	}
	if m.MediaType != "" && contentType != "" && contentType != m.MediaType && contentType != "application/json" && contentType != "application/octet-stream" {
		return nil, errorf(ErrManifestInvalid, "mediaType %q does not match Content-Type %q", m.MediaType, contentType)
	}
	switch m.Type {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		if m.Config == nil {
			return nil, errorf(ErrManifestInvalid, "image manifest has no config")
		}
		if err := checkDescriptor("config", m.Config); err != nil {
			return nil, err
		}
		if m.Manifests != nil {
			return nil, errorf(ErrManifestInvalid, "image manifest has a manifests field")
		}
		for i := range m.Layers {
			if err := checkDescriptor("layers", &m.Layers[i]); err != nil {
				return nil, err
			}
		}
	case MediaTypeOCIIndex, MediaTypeDockerList:
		if m.Config != nil || m.Layers != nil {
			return nil, errorf(ErrManifestInvalid, "index has a config or layers field")
		}
		for i := range m.Manifests {
			if err := checkDescriptor("manifests", &m.Manifests[i]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errorf(ErrManifestInvalid, "media type %q is not a supported manifest type", m.Type)
	}
	if m.Subject != nil {
		if err := checkDescriptor("subject", m.Subject); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

func checkDescriptor(field string, d *Descriptor) error {
	if _, err := ParseDigest(d.Digest); err != nil {
		return errorf(ErrManifestInvalid, "%s digest %q is invalid", field, d.Digest)
	}
	if d.Size < 0 {
		return errorf(ErrManifestInvalid, "%s %s has negative size %d", field, d.Digest, d.Size)
	}
	if d.MediaType == "" && field != "subject" {
		return errorf(ErrManifestInvalid, "%s %s has no mediaType", field, d.Digest)
	}
	return nil
}

// distributable reports whether a layer must be present in the registry:
// foreign and non-distributable layers are fetched from elsewhere.
func distributable(d *Descriptor) bool {
	return !strings.Contains(d.MediaType, "nondistributable") && !strings.Contains(d.MediaType, "foreign")
}

// referrerDescriptor is the descriptor of m in a referrers list.
func referrerDescriptor(m *Manifest, dig Digest, size int64) Descriptor {
	d := Descriptor{MediaType: m.Type, Digest: dig.String(), Size: size, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if d.ArtifactType == "" && m.Config != nil {
		d.ArtifactType = m.Config.MediaType
	}
	return d
}
