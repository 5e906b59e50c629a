package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the public contract as an OpenAPI 3.1 document,
// written by hand beside the handlers it describes; openapi_test.go checks
// real responses against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the OpenAPI document (GET /openapi.json).
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
