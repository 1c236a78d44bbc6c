package server

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

// The OpenAPI 3.1 document of the JSON API is written by hand in
// openapi/openapi.yaml (YAML for its comments and brevity) and served as
// JSON at GET /v1/openapi.json. Its schemas are JSON Schema 2020-12, as
// OpenAPI 3.1 says, so the tests validate the server's answers against
// them with the JSON Schema validator the hub already uses
// (santhosh-tekuri/jsonschema), and check that it documents exactly the
// routes of the route table.

//go:embed openapi/openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the OpenAPI document as JSON.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("read the embedded OpenAPI document: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document: %w", err)
	}
	return b, nil
})

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := OpenAPI()
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
