package api

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIMatchesRoutes keeps openapi.yaml in step with the routes the server registers: every route is
// documented, and nothing documented is missing from the server.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	registered := map[string]bool{}
	for _, r := range New(Config{}).Echo().Routes() {
		if strings.HasPrefix(r.Path, "/*") || strings.HasPrefix(r.Method, "echo_route_") {
			continue
		}
		registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for k := range registered {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.yaml", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("openapi.yaml documents %s, which the server does not register", k)
		}
	}
	if t.Failed() {
		keys := make([]string, 0, len(registered))
		for k := range registered {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Logf("registered: %v", keys)
	}
}
