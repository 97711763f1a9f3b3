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
