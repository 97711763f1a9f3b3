package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimitFlags(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		perSecond float64
		burst     int
		wantErr   string
	}{
		{"defaults", nil, nil, 20, 40, ""},
		{"flags", nil, []string{"-rate-limit", "2.5", "-rate-burst", "5"}, 2.5, 5, ""},
		{"environment", map[string]string{"STEWARD_RATE_LIMIT": "0", "STEWARD_RATE_BURST": "7"}, nil, 0, 7, ""},
		{"flag over environment", map[string]string{"STEWARD_RATE_LIMIT": "3"}, []string{"-rate-limit", "4"}, 4, 40, ""},
		{"negative", nil, []string{"-rate-limit", "-1"}, 0, 0, "-rate-limit"},
		{"not a number", nil, []string{"-rate-limit", "NaN"}, 0, 0, "-rate-limit"},
		{"negative burst", nil, []string{"-rate-burst", "-1"}, 0, 0, "-rate-burst"},
		{"environment not a number", map[string]string{"STEWARD_RATE_LIMIT": "twenty"}, nil, 0, 0, "STEWARD_RATE_LIMIT"},
		{"negative auth failure limit", nil, []string{"-auth-failure-limit", "-1"}, 0, 0, "-auth-failure-limit"},
		{"negative auth failure burst", nil, []string{"-auth-failure-burst", "-2"}, 0, 0, "-auth-failure-burst"},
		{"auth failure limit not a number", map[string]string{"STEWARD_AUTH_FAILURE_LIMIT": "lots"}, nil, 0, 0, "STEWARD_AUTH_FAILURE_LIMIT"},
		{"bad trusted proxy", nil, []string{"-trusted-proxies", "10.0.0.0/8,proxy.example"}, 0, 0, "-trusted-proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f := newFlags("api", io.Discard)
			var r rateLimit
			r.register(f)
			require.NoError(t, f.Parse(tt.args))
			err := r.validate()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.perSecond, r.perSecond)
			assert.Equal(t, tt.burst, r.burst)
		})
	}
}

// TestAuthFailureFlags: the bound on failed authentication per client address is on by default (40 at once,
// then 1 a second), set by flag or environment, off at 0; trusted proxies are addresses or prefixes.
func TestAuthFailureFlags(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		perSecond float64
		burst     int
		proxies   []string
	}{
		{"defaults", nil, nil, 1, 40, nil},
		{"flags", nil, []string{"-auth-failure-limit", "0.5", "-auth-failure-burst", "5", "-trusted-proxies", "10.0.0.0/8, 192.0.2.1"}, 0.5, 5,
			[]string{"10.0.0.0/8", "192.0.2.1/32"}},
		{"environment", map[string]string{"STEWARD_AUTH_FAILURE_LIMIT": "0", "STEWARD_AUTH_FAILURE_BURST": "3", "STEWARD_TRUSTED_PROXIES": "2001:db8::/32"}, nil, 0, 3,
			[]string{"2001:db8::/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f := newFlags("api", io.Discard)
			var r rateLimit
			r.register(f)
			require.NoError(t, f.Parse(tt.args))
			require.NoError(t, r.validate())
			assert.Equal(t, tt.perSecond, r.authPerSecond)
			assert.Equal(t, tt.burst, r.authBurst)
			var got []string
			for _, p := range r.proxies {
				got = append(got, p.String())
			}
			assert.Equal(t, tt.proxies, got)
		})
	}
}
